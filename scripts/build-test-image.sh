#!/usr/bin/env bash
# Build the local busybox test image as a unified LXD image tarball and print its path.
# The rootfs holds /bin/busybox (from busybox-static) with its applet links, /sbin/init -> busybox,
# an inittab that keeps init running, /etc/passwd and /etc/group. About 1 MB.
# Usage: build-test-image.sh [OUTPUT_TARBALL]   (default: ./.cache/pulumi-lxd-test.tar.gz)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../.cache/pulumi-lxd-test.tar.gz}"
busybox="${BUSYBOX:-/bin/busybox}"
[ -x "$busybox" ] || { echo "build-test-image: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }
file "$busybox" 2>/dev/null | grep -q dynamically && { echo "build-test-image: $busybox must be static" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,root,run,var/log,usr/bin,usr/sbin}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
# Applet links: every applet except busybox itself (a self-link makes init fail with ELOOP).
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] && continue
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
ln -sf ../bin/busybox "$root/sbin/init"
cat > "$root/etc/inittab" <<'TAB'
::sysinit:/bin/mount -t tmpfs tmpfs /run
::respawn:/bin/sleep 2147483647
::ctrlaltdel:/bin/umount -a -r
::shutdown:/bin/umount -a -r
TAB
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
echo test > "$root/etc/hostname"

arch="$(uname -m)"
cat > "$work/metadata.yaml" <<META
architecture: $arch
creation_date: $(date +%s)
properties:
  description: busybox test image for pulumi-lxd
  os: busybox
  release: test
META
mkdir -p "$(dirname "$out")"
tar -C "$work" --numeric-owner --owner=0 --group=0 -czf "$out" metadata.yaml rootfs
echo "$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
