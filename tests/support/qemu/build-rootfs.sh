#!/usr/bin/env bash
# Build (or reuse) the Debian guest rootfs tarball that plays the "host" in the passthrough guest test.
# debootstrap --variant=minbase from the mirror apt already uses, with a kernel, GRUB (BIOS), systemd and
# the tools the host component calls. Generic: nothing of the procedure under test is baked in; the test
# adds its scripts when it builds the disk. The tarball is cached under .cache/ keyed by this file's hash.
# Usage (as root): build-rootfs.sh [CACHE_DIR]   -> prints the tarball path on stdout
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${1:-$here/../../../.cache}"
suite=bookworm
key="$(sha256sum "$here/build-rootfs.sh" | cut -c1-12)"
out="$cache/passthrough-guest-rootfs-$suite-$key.tar"
if [ -s "$out" ]; then echo "$out"; exit 0; fi

command -v debootstrap >/dev/null || { echo "build-rootfs: debootstrap missing (run install-deps.sh)" >&2; exit 1; }
mirror="$("$here/debian-mirror.sh" "$suite")"
mkdir -p "$cache"
work="$(mktemp -d "$cache/rootfs-build.XXXXXX")"
cleanup() {
  for m in proc sys dev/pts dev; do umount -l "$work/root/$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
root="$work/root"

pkgs=linux-image-amd64,grub-pc,systemd-sysv,udev,kmod,pciutils,initramfs-tools,busybox,zstd
echo "build-rootfs: debootstrap $suite from $mirror" >&2
DEBIAN_FRONTEND=noninteractive debootstrap --variant=minbase --include="$pkgs" "$suite" "$root" "$mirror" >&2

# Generic host configuration for a serial-console test machine.
echo pthost > "$root/etc/hostname"
printf '127.0.0.1 localhost pthost\n' > "$root/etc/hosts"
printf 'UUID=%s / ext4 defaults,errors=remount-ro 0 1\n' "6c0a3d6e-7f7e-4b4a-9f43-0d4c1e5a2b10" > "$root/etc/fstab"
# GRUB: no menu delay, kernel console on the first serial port; the component appends to
# GRUB_CMDLINE_LINUX_DEFAULT through its own drop-in.
sed -i -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=0/' \
       -e 's/^GRUB_CMDLINE_LINUX=.*/GRUB_CMDLINE_LINUX="console=ttyS0,115200n8"/' "$root/etc/default/grub"
echo 'GRUB_TERMINAL=console' >> "$root/etc/default/grub"
# A getty on ttyS0 hangs up the console under the test script: mask every getty.
# Timers that would start background work during a test boot are masked too.
for unit in serial-getty@ttyS0.service getty@tty1.service getty.target apt-daily.timer apt-daily-upgrade.timer \
            e2scrub_all.timer fstrim.timer dpkg-db-backup.timer; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# Nothing in the guest talks to a network.
ln -sf /dev/null "$root/etc/systemd/system/systemd-networkd.service"
# Trim what a test host never reads.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/cache/apt/archives/*.deb \
       "$root"/var/lib/apt/lists/*

tar -C "$root" --numeric-owner -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$out"
# Drop tarballs built by earlier versions of this script.
for old in "$cache"/passthrough-guest-rootfs-*.tar; do [ "$old" = "$out" ] || rm -f "$old"; done
echo "$out"
