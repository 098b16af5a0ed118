#!/usr/bin/env bash
# Build the ZCloud test guest: a small BOOTABLE qcow2 disk image (SeaBIOS → SYSLINUX → Debian kernel →
# busybox initramfs) that ZCloud serves as an ImageStore image and the libvirt driver's tests boot
# under QEMU/TCG. Nothing is mounted and no loop device is used: the disk is a FAT "superfloppy"
# made by mkfs.vfat on a plain file, made bootable by syslinux (mtools variant) and filled by mcopy.
#
# Usage:
#   deploy/scripts/guest-image.sh OUT.qcow2
#
# What the guest does (all on the serial console, ttyS0; the kernel line has console=ttyS0):
#   zcloud-guest-boot uptime=<s> kernel=<release>       first line of /init (the boot marker)
#   zcloud-disks <names>                                block devices seen at boot
#   zcloud-disk-added vdX / zcloud-disk-removed vdX     /sys/block is polled every second (hot-plug)
#   zcloud-cidata <dev> <files>                         a NoCloud config drive (vfat labelled cidata) seen
#   zcloud-cidata-<file>: <line>                        at boot, then each line of its meta-data, user-data
#                                                       and network-config (the guest has no cloud-init)
#   zcloud-net eth0 <ip>/<prefix> | zcloud-net eth0 none | zcloud-net none   DHCP on eth0 (udhcpc)
#   zcloud-heartbeat <n> uptime=<s>                     every second, forever (shows a guest still runs)
#   zcloud-acpi-poweroff                                ACPI power button pressed: the guest powers off
#                                                       (busybox acpid, unless zcloud.noacpi is on the kernel line)
# It answers ping on its DHCP address and serves /www on port 80 (busybox httpd) when it got one.
#
# Needs: busybox-static, gzip, syslinux, syslinux-common, mtools, dosfstools, qemu-utils, and a
# Debian amd64 kernel: /boot/vmlinuz-<release> with /lib/modules/<release>, or else the package that
# linux-image-amd64 depends on, fetched with `apt-get download` (no install) into the cache.
#
# Environment knobs:
#   ZCLOUD_GUEST_CACHE   where the downloaded kernel package is kept (default /var/cache/zcloud-guest)
#   ZCLOUD_GUEST_KERNEL  a vmlinuz to use; then ZCLOUD_GUEST_MODULES must name its lib/modules/<release>
#   ZCLOUD_GUEST_MODULES
#   ZCLOUD_GUEST_APPEND  more kernel arguments; "zcloud.noacpi" makes the guest ignore the ACPI
#                        power button (to test the forced stop after a graceful one times out)
set -euo pipefail

PROG=$(basename "$0")
log() { echo "$PROG: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $# -eq 1 ]] || { sed -n '7,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
OUT=$1
CACHE=${ZCLOUD_GUEST_CACHE:-/var/cache/zcloud-guest}
PATH=$PATH:/usr/sbin:/sbin

need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 not found (apt-get install $2)"
}
need busybox busybox-static

need gzip gzip
need syslinux syslinux
need mcopy mtools
need mkfs.vfat dosfstools
need qemu-img qemu-utils
BUSYBOX=$(command -v busybox)
file_type=$(od -An -c -N4 "$BUSYBOX" | tr -d ' ')
[[ "$file_type" == 177ELF ]] || die "$BUSYBOX is not an ELF binary"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked (apt-get install busybox-static)"
fi
LDLINUX=/usr/lib/syslinux/modules/bios/ldlinux.c32
[[ -f $LDLINUX ]] || die "$LDLINUX missing (apt-get install syslinux-common)"

# kernel sets KERNEL (a vmlinuz) and MODULES (its lib/modules/<release> directory).
kernel() {
	if [[ -n "${ZCLOUD_GUEST_KERNEL:-}" ]]; then
		KERNEL=$ZCLOUD_GUEST_KERNEL
		MODULES=${ZCLOUD_GUEST_MODULES:?ZCLOUD_GUEST_MODULES must name the kernel\'s lib/modules/<release>}
		return
	fi
	local v
	for v in /boot/vmlinuz-*; do
		[[ -f "$v" && -d /lib/modules/${v#/boot/vmlinuz-}/kernel ]] || continue
		KERNEL=$v
		MODULES=/lib/modules/${v#/boot/vmlinuz-}
		return
	done
	local pkg
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[[ -n "$pkg" ]] || die "no kernel in /boot and apt knows no linux-image-amd64 (apt-get update?)"
	local dir=$CACHE/$pkg
	if [[ ! -d $dir/boot ]]; then
		mkdir -p "$CACHE"
		log "fetching $pkg (apt-get download, not installed)"
		(cd "$CACHE" && apt-get download "$pkg" >/dev/null 2>&1) || die "apt-get download $pkg failed"
		rm -rf "$dir.tmp"
		dpkg-deb -x "$CACHE/${pkg}"_*.deb "$dir.tmp"
		rm -f "$CACHE/${pkg}"_*.deb
		mv "$dir.tmp" "$dir"
	fi
	KERNEL=$(ls "$dir"/boot/vmlinuz-* | head -1)
	MODULES=$dir/lib/modules/${KERNEL##*/vmlinuz-}
}
kernel
[[ -f "$KERNEL" && -d "$MODULES/kernel" ]] || die "kernel $KERNEL or modules $MODULES missing"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/initramfs
mkdir -p "$ROOT"/{bin,dev,proc,sys,run,tmp,var/log,var/run,lib/modules,etc/acpi/PWRF,www}
cp "$BUSYBOX" "$ROOT/bin/busybox"

# Modules in load order (busybox has no modprobe dependency data here; insmod needs the order).
MODS="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk net/core/failover
drivers/net/net_failover drivers/net/virtio_net drivers/input/evdev drivers/acpi/button fs/fat/fat fs/fat/vfat
fs/nls/nls_cp437 fs/nls/nls_ascii"
for m in $MODS; do
	src=$MODULES/kernel/$m.ko
	if [[ -f $src ]]; then
		cp "$src" "$ROOT/lib/modules/"
	elif [[ -f $src.xz ]]; then
		xz -dc "$src.xz" >"$ROOT/lib/modules/${m##*/}.ko"
	fi # else built in
done
echo "$MODS" | tr ' ' '\n' | sed 's#.*/##' | grep . >"$ROOT/lib/modules/order"

cat >"$ROOT/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
echo "zcloud-guest-boot uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"
for m in $(cat /lib/modules/order); do
	[ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null
done
mkdir -p /dev/input
# acpid runs /etc/acpi/PWRF/00000080 when the power button is pressed.
grep -q zcloud.noacpi /proc/cmdline || acpid -c /etc/acpi -l /var/log/acpid.log -p /var/run/acpid.pid ||
	echo "zcloud-acpid failed"
disks() { ls /sys/block | grep -v -e '^loop' -e '^ram' | tr '\n' ' '; }
have=$(disks)
echo "zcloud-disks $have"
# A NoCloud config drive: print what cloud-init would read from it (findfs: busybox has no blkid).
cidata=$(findfs LABEL=cidata 2>/dev/null || findfs LABEL=CIDATA 2>/dev/null)
if [ -n "$cidata" ]; then
	mkdir -p /cidata
	if mount -t vfat -o ro "$cidata" /cidata; then
		echo "zcloud-cidata ${cidata#/dev/} $(ls /cidata | tr '\n' ' ')"
		for f in meta-data user-data network-config; do
			[ -f "/cidata/$f" ] && sed "s/^/zcloud-cidata-$f: /" "/cidata/$f"
		done
		umount /cidata
	else
		echo "zcloud-cidata ${cidata#/dev/} mount-failed"
	fi
fi
net() {
	if [ ! -e /sys/class/net/eth0 ]; then echo "zcloud-net none"; return; fi
	ip link set lo up
	ip link set eth0 up
	if udhcpc -i eth0 -n -q -t 5 -T 1 -s /etc/udhcpc.script >/dev/null 2>&1; then
		echo "zcloud-net eth0 $(ip -4 -o addr show dev eth0 | awk '{print $4}')"
		echo "zcloud-guest $(uname -r)" >/www/index.html
		httpd -p 80 -h /www
	else
		echo "zcloud-net eth0 none"
	fi
}
net &
n=0
while true; do
	sleep 1
	n=$((n + 1))
	now=$(disks)
	for d in $now; do
		case " $have " in *" $d "*) ;; *) echo "zcloud-disk-added $d" ;; esac
	done
	for d in $have; do
		case " $now " in *" $d "*) ;; *) echo "zcloud-disk-removed $d" ;; esac
	done
	have=$now
	echo "zcloud-heartbeat $n uptime=$(cut -d' ' -f1 /proc/uptime)"
done
EOF
chmod 755 "$ROOT/init"

cat >"$ROOT/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo "zcloud-acpi-poweroff" >/dev/console
sync
poweroff -f
EOF
chmod 755 "$ROOT/etc/acpi/PWRF/00000080"

cat >"$ROOT/etc/udhcpc.script" <<'EOF'
#!/bin/sh
case "$1" in
bound | renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
	;;
esac
exit 0
EOF
chmod 755 "$ROOT/etc/udhcpc.script"

(cd "$ROOT" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1) >"$WORK/initrd.gz"

# The FAT image: kernel + initrd + 4 MiB of slack, in MiB.
size_kib=$((($(stat -c %s "$KERNEL") + $(stat -c %s "$WORK/initrd.gz")) / 1024 + 4096))
mkfs.vfat -C -n ZCLOUD "$WORK/disk.img" "$size_kib" >/dev/null
syslinux --install "$WORK/disk.img"
cat >"$WORK/syslinux.cfg" <<EOF
DEFAULT zcloud
PROMPT 0
TIMEOUT 0
LABEL zcloud
  KERNEL vmlinuz
  APPEND initrd=initrd.gz console=ttyS0 panic=-1 quiet ${ZCLOUD_GUEST_APPEND:-}
EOF
mcopy -i "$WORK/disk.img" "$KERNEL" ::vmlinuz
mcopy -i "$WORK/disk.img" "$WORK/initrd.gz" ::initrd.gz
mcopy -i "$WORK/disk.img" "$WORK/syslinux.cfg" ::syslinux.cfg

mkdir -p "$(dirname "$OUT")"
qemu-img convert -q -f raw -O qcow2 "$WORK/disk.img" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "built $OUT ($(stat -c %s "$OUT") bytes; kernel ${KERNEL##*/})"
