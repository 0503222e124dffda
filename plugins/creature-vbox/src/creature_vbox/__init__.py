"""creature driver for VirtualBox (VBoxManage)."""
