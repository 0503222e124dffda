"""creature driver for OpenVZ containers (vzctl, ve.conf)."""
