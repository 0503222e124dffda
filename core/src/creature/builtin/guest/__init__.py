"""Guest-side helpers drivers share through creature.sdk: a container rootfs's configuration, initramfs, kernel images, NoCloud."""
