"""`creature stats`: CPU, memory, disk and network usage of running machines, read from the host side (no guest agent)."""
