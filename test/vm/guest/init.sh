#!/bin/busybox sh
# /init of the harness initramfs (PID 1, busybox only). It makes the host's root, shared
# read-only over 9p, writable with a tmpfs overlay, mounts the job share, and hands over
# to stage2.sh in the host tree (job.conf says where). Editing this file changes the
# initramfs's cache name, so the next run rebuilds it.
/bin/busybox --install -s /bin
export PATH=/bin

fail() {
	echo "brine-vm init: $*" >/dev/console
	poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# /modules lists dependencies first (provision.mjs reads the kernel's modules.dep).
while read -r module; do
	insmod "/lib/modules/$module.ko" || fail "insmod $module failed"
done </modules

mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /mnt/lower || fail "cannot mount the host root (9p tag hostroot)"
# The upper layer: memory, or a persistent ext4 disk (brine.upper=/dev/vdX) whose changes the
# next boot on the same disk finds again.
upper=$(sed -n 's/.*brine\.upper=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$upper" ]; then
	for i in $(seq 50); do [ -b "$upper" ] && break; sleep 0.1; done
	mount -t ext4 "$upper" /mnt/rw || fail "cannot mount the root disk $upper"
else
	mount -t tmpfs -o mode=0755 tmpfs /mnt/rw || fail "cannot mount the tmpfs for the overlay"
fi
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /newroot || fail "cannot mount the overlay root"

# A fresh /run hides the host's; systemd keeps a /run it finds mounted, so the job share survives there.
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run || fail "cannot mount /run"
mkdir -p /newroot/run/brine-vm
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 brinejob /newroot/run/brine-vm || fail "cannot mount the job share (9p tag brinejob)"
. /newroot/run/brine-vm/job.conf || fail "cannot read job.conf"

for fs in proc sys dev; do mount --move "/$fs" "/newroot/$fs"; done
exec switch_root /newroot /bin/bash "$BRINE_GUEST_DIR/stage2.sh"
