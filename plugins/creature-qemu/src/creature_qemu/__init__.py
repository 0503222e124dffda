"""creature-qemu: the `qemu` (TCG) and `kvm` drivers."""
