"""creature driver for VMware Workstation (vmrun and .vmx files)."""
