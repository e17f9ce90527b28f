"""Server-side trunk driver for Hyper-V ports."""
