"""Server-side QoS driver for Hyper-V ports."""
