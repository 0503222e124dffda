"""creature driver for LXC containers."""
