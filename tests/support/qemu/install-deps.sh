#!/usr/bin/env bash
# Install the Debian packages the passthrough guest test needs (QEMU, debootstrap, partitioning and
# filesystem tools). Uses only apt's configured sources (Debian's archive). Idempotent: skips apt when
# every tool is already present.
# Usage (as root): bash tests/support/qemu/install-deps.sh
set -euo pipefail

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v debootstrap >/dev/null       || need+=(debootstrap)
command -v sfdisk >/dev/null            || need+=(fdisk)
command -v mkfs.ext4 >/dev/null         || need+=(e2fsprogs)
command -v depmod >/dev/null            || need+=(kmod)
command -v cpio >/dev/null              || need+=(cpio)
[ -x /bin/busybox ]                     || need+=(busybox-static)
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
# SeaBIOS and the option ROM files qemu-system-x86 recommends; required for the BIOS -> GRUB boot.
[ -e /usr/share/seabios/bios-256k.bin ] || need+=(seabios)
[ -e /usr/share/qemu/kvmvapic.bin ] || need+=(qemu-system-data)

if [ "${#need[@]}" -eq 0 ]; then
  echo "install-deps: all tools present"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
echo "install-deps: installed ${need[*]}"
