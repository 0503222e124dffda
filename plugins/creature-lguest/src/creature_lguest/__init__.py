"""creature driver for Lguest guests (the lguest launcher)."""
