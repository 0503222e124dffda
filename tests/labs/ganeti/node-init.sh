#!/bin/bash
# One Ganeti lab node, run by lab.py as `ip netns exec NETNS unshare --uts --mount --pid --fork
# --propagation private node-init.sh ...`: PID 1 of the node's own pid namespace, in its own network,
# uts and mount namespaces. Mounts an overlay of the cached read-only root (writes go to the run folder)
# with the folders the nodes share, then becomes the node's idle init in a chroot. Killing it ends every
# process of the node (Ganeti's daemons, QEMU) and its mounts vanish with the mount namespace.
#
# Usage: node-init.sh ROOT NODE_DIR HOSTNAME SHARED_DIR IMAGE_DIR OS_DIR
set -euo pipefail
root=$1 dir=$2 name=$3 shared=$4 images=$5 osdef=$6
m=$dir/merged
hostname "$name"
mount -t overlay overlay -o "lowerdir=$root,upperdir=$dir/upper,workdir=$dir/work" "$m"
echo "$name" > "$m/etc/hostname"
mount -t proc proc "$m/proc"
mount -t sysfs sys "$m/sys"
mount --rbind /dev "$m/dev"
mount -t tmpfs -o mode=0755 tmpfs "$m/run"
mkdir -p "$m/run/lock" "$m/run/sshd"
# sharedfile disks (live migration) and creature's template images: one host folder seen by every node
mount --bind "$shared" "$m/srv/ganeti/shared-file-storage"
mount --bind -o ro "$images" "$m/srv/ganeti/creature-images"
mount --bind -o ro "$osdef" "$m/srv/ganeti/os/creature"
exec chroot "$m" /bin/bash -c 'trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done'
