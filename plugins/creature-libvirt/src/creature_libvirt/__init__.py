"""creature drivers for libvirt."""
