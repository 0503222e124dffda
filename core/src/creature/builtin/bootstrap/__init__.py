"""The built-in template methods (busybox, debootstrap, tarball); plugin.py registers them."""
