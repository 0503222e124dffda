"""creature-uml: User Mode Linux machines (a Linux kernel run as an ordinary process)."""
