#!/bin/bash
# Second stage of the harness guest: PID 1 after switch_root, with the host's userland on the
# overlay root. It loads drivers, waits for the disks, sets up the network and the shared folder,
# then prepares one of two modes, runs the setup script, and either runs the job and powers off
# (plain) or boots systemd, whose brine-vm-job.service runs the job and powers off.
set -u
job=/run/brine-vm
. "$job/job.conf"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root

poweroff_now() {
	sync
	busybox poweroff -f
}

fail() {
	echo "brine-vm stage2: $*" >/dev/console
	poweroff_now
}

# Plain mode has no udev: libdevmapper and LVM must make the /dev nodes themselves instead of
# waiting for udev to do it.
prepare_without_udev() {
	export DM_DISABLE_UDEV=1
	cat >/etc/lvm/lvmlocal.conf <<'EOF'
devices {
	obtain_device_list_from_udev = 0
	external_device_info_source = "none"
	use_devicesfile = 0
}
activation {
	udev_sync = 0
	udev_rules = 0
	monitoring = 0
}
global {
	use_lvmpolld = 0
}
EOF
}

# systemd mode: udevd runs and Debian's defaults apply as on a real host. The boot is trimmed,
# because under TCG every unit costs about a second of CPU shared with the rest of the boot.
prepare_systemd() {
	local units=/etc/systemd/system
	# A persistent root (RunOptions.rootDisk) is trimmed at its first boot only: later boots keep
	# what was enabled since, as a server does.
	if [ ! -e /etc/brine-vm-trimmed ]; then
		trim_systemd
		: >/etc/brine-vm-trimmed
	fi
	# Type=exec: the boot counts as finished once the job runs, so the command sees a booted system.
	cat >"$units/brine-vm-job.service" <<EOF
[Unit]
Description=Brine VM harness job: run the test command, then power off
After=$BRINE_JOB_AFTER
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=exec
ExecStart=/bin/bash $BRINE_GUEST_DIR/run-job.sh
EOF
	ln -sf ../brine-vm-job.service "$units/multi-user.target.wants/brine-vm-job.service"
}

trim_systemd() {
	local units=/etc/systemd/system unit generator
	# None of the host's enabled units (timers, gettys, database servers); setup enables what a test needs.
	rm -rf "$units"/*.wants "$units/default.target"
	mkdir -p "$units/multi-user.target.wants" /etc/systemd/system-generators /etc/tmpfiles.d /etc/systemd/journald.conf.d
	ln -s /lib/systemd/system/multi-user.target "$units/default.target"
	# Nothing to do on a throw-away guest. A setup script can unmask one by removing its link.
	for unit in getty.target systemd-timesyncd.service systemd-pstore.service e2scrub_reap.service \
		lvm2-monitor.service lvm2-lvmpolld.socket dm-event.socket systemd-remount-fs.service \
		systemd-sysusers.service systemd-update-utmp.service systemd-update-utmp-runlevel.service \
		systemd-logind.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
		sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount \
		sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount \
		modprobe@drm.service modprobe@fuse.service modprobe@configfs.service; do
		ln -sf /dev/null "$units/$unit"
	done
	# Generators run before any unit starts; fstab's, crypttab's and postgresql's stay for tests.
	for generator in getty gpt-auto hibernate-resume integritysetup veritysetup rc-local run system-update sysv debug; do
		ln -sf /dev/null "/etc/systemd/system-generators/systemd-$generator-generator"
	done
	# Debian's tmp.conf empties /tmp at boot: the host's /tmp here, slow to walk over 9p, and a
	# shared folder under /tmp must not be touched.
	ln -sf /dev/null /etc/tmpfiles.d/tmp.conf
	# Journal in /run only: flushing it to /var/log/journal sits on the boot's critical path.
	printf '[Journal]\nStorage=volatile\n' >/etc/systemd/journald.conf.d/brine-vm.conf
}

: >"$job/booted"

mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=000 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm

modprobe -a virtio_blk virtio_net virtio_rng dm_mod dm_crypt || fail "modprobe failed"
letters=abcdefghijklmnopqrstuvwxyz
for ((i = 0; i < BRINE_DISKS; i++)); do
	disk=/dev/vd${letters:i:1}
	for ((tries = 0; tries < 50; tries++)); do
		[ -b "$disk" ] && break
		sleep 0.1
	done
	[ -b "$disk" ] || fail "$disk did not appear"
done

# If the host is a container, its marker file would make systemd and systemd-detect-virt treat
# this VM as one too. The host's mounts mean nothing here; a test that wants some writes its own fstab.
rm -f /.dockerenv
# A container image's policy-rc.d (exit 101: start no services) would keep package maintainer
# scripts from starting their units, as they do on a real server.
rm -f /usr/sbin/policy-rc.d
: >/etc/fstab
echo brine-vm >/etc/hostname
hostname brine-vm

busybox ip link set lo up
if [ "$BRINE_NET" = 1 ]; then
	busybox ip addr add 10.0.2.15/24 dev eth0 &&
		busybox ip link set eth0 up &&
		busybox ip route add default via 10.0.2.2 ||
		fail "network setup failed"
fi

if [ -n "$BRINE_SHARE_DIR" ]; then
	mkdir -p "$BRINE_SHARE_DIR" &&
		mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 brineshare "$BRINE_SHARE_DIR" ||
		fail "cannot mount the shared folder at $BRINE_SHARE_DIR"
fi

if [ "$BRINE_SYSTEMD" = 1 ]; then
	prepare_systemd
else
	prepare_without_udev
fi

if [ -f "$job/setup.sh" ]; then
	(
		. "$job/env.sh"
		cd "$BRINE_CWD" && bash "$job/setup.sh"
	) </dev/null >"$job/setup.out" 2>&1
	status=$?
	echo "$status" >"$job/setup.status"
	[ "$status" = 0 ] || poweroff_now
fi

if [ "$BRINE_SYSTEMD" = 1 ]; then
	exec /lib/systemd/systemd
fi
bash "$BRINE_GUEST_DIR/run-job.sh"
poweroff_now
