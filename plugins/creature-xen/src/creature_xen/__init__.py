"""creature driver for Xen PV guests through the xl toolstack."""
