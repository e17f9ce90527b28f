"""Server-side service drivers (QoS, trunk) for Hyper-V ports."""
