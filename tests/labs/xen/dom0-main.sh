#!/bin/bash
# Runs in the lab's dom0 as PID 1's only child, from the host's run folder mounted on /lab:
# start Xen's dom0 services by hand (no init system, in the order of notes/xen-lab.md), show
# `xl info`, then run the xen driver's conformance suite against the real hypervisor.
# Markers "XEN-LAB: ..." on the console are what the host reads from the serial log.
export PATH=/usr/lib/xen-4.17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
out=/lab/out
mkdir -p "$out"
step() { echo "XEN-LAB: $*"; }
fail() { step "FAILED: $*"; echo "$*" > "$out/failed"; exit 1; }

step "dom0 userspace up after $(cut -d' ' -f1 /proc/uptime) s of dom0 uptime"
mount -t devpts devpts /dev/pts 2>/dev/null || { mkdir -p /dev/pts && mount -t devpts devpts /dev/pts; }
mount -t tmpfs -o mode=0755 tmpfs /run
# /tmp stays on the (snapshot) disk: creature homes and machine disks would fill dom0's memory
mkdir -p /run/xen /run/xenstored /run/lock /var/log/xen /var/lib/xen
ln -sfn /run /var/run
# devtmpfs lacks what udev would add: bash's process substitution and the hotplug scripts need /dev/fd
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin; ln -sfn /proc/self/fd/1 /dev/stdout; ln -sfn /proc/self/fd/2 /dev/stderr
ln -sfn /run/lock /var/lock  # xl console and the hotplug scripts' locking want it
hostname xen-lab
ip link set lo up
for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc loop xen-blkback xen-netback bridge; do
    modprobe "$m" || fail "modprobe $m"
done
mountpoint -q /proc/xen || mount -t xenfs xenfs /proc/xen || fail "mount xenfs"
step "capabilities: $(cat /proc/xen/capabilities)"
xenstored --pid-file=/run/xenstored.pid || fail "xenstored"
xen-init-dom0 || fail "xen-init-dom0"
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen || fail "xenconsoled"
# see block-lean: Debian's block hotplug script is too slow under TCG for libxl's 40 s timeout
cp /etc/xen/scripts/block /etc/xen/scripts/block.debian
install -m 0755 /lab/block-lean /etc/xen/scripts/block
xl info > "$out/xl-info.txt" 2>&1 || { cat "$out/xl-info.txt"; fail "xl info"; }
step "xl info ok: $(grep -E '^xen_(major|minor|extra)' "$out/xl-info.txt" | awk '{printf "%s", $3}') after $(cut -d' ' -f1 /proc/uptime) s of dom0 uptime"

if [ -x /lab/dom0-suite.sh ]; then
    # what the suite cannot show while it runs: the domains and processes every 15 s
    ( while sleep 15; do echo "== $(cut -d' ' -f1 /proc/uptime)"; xl list 2>&1; ps -eo pid,etime,args | grep -v -E '\[|ps -eo'; done ) \
        > "$out/monitor.log" 2>&1 &
    monitor=$!
    step "suite starting"
    /lab/dom0-suite.sh > "$out/suite.log" 2>&1
    rc=$?
    kill "$monitor"
    echo "$rc" > "$out/suite.rc"
    tail -n 30 "$out/suite.log"
    step "suite exited $rc"
fi
# Xen's own logs (xl, hotplug scripts, guest consoles) for whoever reads a failure
cp -r /var/log/xen "$out/xen-logs" 2>/dev/null
sync
