#!/bin/bash
# Builds a tiny real Linux guest for the libvirt integration tests from Debian packages, in
# a few seconds and without any network inside the guest build:
#
#   tests/integration/libvirt/build-guest.sh [OUTDIR]     (default /var/lib/prlkit-it/guest)
#
# OUTDIR gets vmlinuz and initrd.gz, booted with <kernel>/<initrd> (no disk needed). The
# initramfs holds busybox, the virtio/network/ACPI-button modules, and qemu-guest-agent:
#   - eth0 gets an address with udhcpc (DHCP lease IPs),
#   - qemu-ga answers on the virtio-serial port org.qemu.guest_agent.0 (agent IPs,
#     agent shutdown),
#   - busybox acpid powers off on the ACPI power button (graceful stop).
# A second run with the same packages does nothing. Progress goes to stderr.
set -euo pipefail

out=${1:-/var/lib/prlkit-it/guest}
say() { echo "build-guest: $*" >&2; }

if ! command -v cpio > /dev/null; then
	say "installing cpio"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends cpio >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/prlkit-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The cloud kernel: small, virtio-friendly. Resolve the metapackage to its kernel.
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
if [ -z "$kpkg" ]; then
	apt-get update -q >&2
	kpkg=$(apt-cache depends linux-image-cloud-amd64 |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
fi
[ -n "$kpkg" ] || { say "no linux-image-*-cloud-amd64 package known to apt"; exit 1; }
stamp="$kpkg busybox-static qemu-guest-agent v3"
if [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.gz" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
	say "up to date in $out ($kpkg)"
	exit 0
fi

say "downloading $kpkg busybox-static qemu-guest-agent"
(cd "$work" && apt-get download -q "$kpkg" busybox-static qemu-guest-agent > /dev/null 2>&1) ||
	(apt-get update -q >&2 && cd "$work" && apt-get download -q "$kpkg" busybox-static qemu-guest-agent >&2)
mkdir "$work/x"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/x"; done
kver=$(ls "$work/x/lib/modules")

root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,run,tmp,etc/acpi/PWRF,lib/modules,usr/share/udhcpc}
cp "$work/x/bin/busybox" "$root/bin/busybox"
for app in sh mount mkdir cat ls sleep ip ifconfig route udhcpc acpid poweroff insmod echo \
	grep sed basename readlink ps kill; do
	ln -s busybox "$root/bin/$app"
done

# Modules with what they depend on, dependencies first (from each module's "depends=").
mod_file() { find "$work/x/lib/modules/$kver" -name "$1.ko*" | head -n 1; }
mod_plain() {   # a module file, uncompressed, on stdout
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -qdc "$1" ;;
	*) cat "$1" ;;
	esac
}
order=
add_mod() {
	local m=$1 f d
	case " $order " in *" $m "*) return ;; esac
	f=$(mod_file "$m")
	[ -n "$f" ] || { say "module $m not found in $kpkg"; exit 1; }
	mod_plain "$f" > "$root/lib/modules/$m.ko"
	for d in $(strings -a "$root/lib/modules/$m.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
		add_mod "$d"
	done
	order="$order $m"
}
for m in virtio_pci virtio_net virtio_console evdev button; do add_mod "$m"; done
echo "$order" > "$root/lib/modules/order"

# qemu-ga with the shared libraries it needs (taken from this host).
cp "$work/x/usr/sbin/qemu-ga" "$root/bin/qemu-ga"
if ldd "$root/bin/qemu-ga" | grep -q "not found"; then
	say "qemu-ga needs libraries this host lacks:"
	ldd "$root/bin/qemu-ga" | grep "not found" >&2
	exit 1
fi
ldd "$root/bin/qemu-ga" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' | sort -u |
while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done

# qemu-ga's guest-shutdown runs /sbin/shutdown; the power button runs PWRF/00000080.
cat > "$root/sbin/shutdown" <<'SH'
#!/bin/sh
echo "shutdown requested: $*" > /dev/console
exec poweroff -f
SH
cp "$root/sbin/shutdown" "$root/etc/acpi/PWRF/00000080"
chmod 755 "$root/sbin/shutdown" "$root/etc/acpi/PWRF/00000080"

cat > "$root/usr/share/udhcpc/default.script" <<'SH'
#!/bin/sh
case $1 in
bound|renew)
	ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
	[ -n "$router" ] && route add default gw "${router%% *}" dev "$interface" 2>/dev/null
	echo "dhcp: $interface $ip" > /dev/console
	;;
deconfig)
	ifconfig "$interface" 0.0.0.0
	;;
esac
exit 0
SH
chmod 755 "$root/usr/share/udhcpc/default.script"

cat > "$root/init" <<'SH'
#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m.ko" > /tmp/insmod.log 2>&1 ||
		echo "prlkit test guest: insmod $m: $(cat /tmp/insmod.log)" > /dev/console
done
echo "prlkit test guest: modules loaded" > /dev/console
acpid -c /etc/acpi -l /tmp/acpid.log
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -b -t 30 -T 1 -A 1 -s /usr/share/udhcpc/default.script > /dev/null 2>&1
port=
for i in $(seq 50); do
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/$(basename "$p")
	done
	[ -n "$port" ] && [ -e "$port" ] && break
	sleep 0.1
done
if [ -n "$port" ]; then
	qemu-ga -d -m virtio-serial -p "$port" -f /run/qga.pid -t /tmp
	echo "prlkit test guest: agent on $port" > /dev/console
fi
echo "prlkit test guest: ready" > /dev/console
while :; do sleep 3600; done
SH
chmod 755 "$root/init"

mkdir -p "$out"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out/initrd.gz.new"
cp "$work/x/boot/vmlinuz-$kver" "$out/vmlinuz.new"
mv "$out/initrd.gz.new" "$out/initrd.gz"
mv "$out/vmlinuz.new" "$out/vmlinuz"
chmod 644 "$out/vmlinuz" "$out/initrd.gz"
echo "$stamp" > "$out/stamp"
say "built $out (kernel $kver, initrd $(du -k "$out/initrd.gz" | cut -f1) KiB)"
