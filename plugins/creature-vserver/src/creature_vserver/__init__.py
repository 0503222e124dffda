"""creature driver for Linux-VServer guests (util-vserver)."""
