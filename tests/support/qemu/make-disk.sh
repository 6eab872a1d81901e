#!/usr/bin/env bash
# Build the guest's boot disk from the cached rootfs tarball, from files only (no loop device, no mount):
# sfdisk on a sparse file, `mkfs.ext4 -d` on a partition image, dd at offset 1 MiB. Also copies the kernel and
# initrd out for the first (direct kernel) boot and installs the test runner unit.
# Usage (as root): make-disk.sh ROOTFS_TAR WORKDIR   -> WORKDIR/{disk.raw,vmlinuz,initrd.img}
set -euo pipefail
tarball=$1
work=$2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
size_mib=2048
uuid=6c0a3d6e-7f7e-4b4a-9f43-0d4c1e5a2b10   # matches the rootfs /etc/fstab written by build-rootfs.sh

mkdir -p "$work"
root="$work/rootfs"
rm -rf "$root"; mkdir -p "$root"
tar -C "$root" -xf "$tarball"

# The runner: reads this boot's instructions from the payload disk, writes results to the results disk.
install -m 0755 "$here/guest-runner.sh" "$root/usr/local/sbin/pt-runner"
cat > "$root/etc/systemd/system/pt-runner.service" <<'UNIT'
[Unit]
Description=passthrough test runner (reads the payload disk, writes the results disk, powers off)
Wants=systemd-udev-settle.service
After=systemd-modules-load.service systemd-udev-settle.service local-fs.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/pt-runner
StandardOutput=journal+console
StandardError=journal+console
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/pt-runner.service "$root/etc/systemd/system/multi-user.target.wants/pt-runner.service"

# MODULES=dep: the initramfs holds what this machine needs (as many hosts configure it); with the default "most",
# each update-initramfs copies hundreds of modules, which takes many minutes under TCG emulation.
sed -i 's/^MODULES=.*/MODULES=dep/' "$root/etc/initramfs-tools/initramfs.conf"
# Verbose boots: the serial log is the only window into a slow or stuck guest.
sed -i 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT=""/' "$root/etc/default/grub"

cp "$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)" "$work/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | sort -V | tail -1)" "$work/initrd.img"

# Partition image, then the whole disk.
part="$work/part.img"
rm -f "$part" "$work/disk.raw"
truncate -s $(( (size_mib - 1) * 1024 * 1024 )) "$part"
mkfs.ext4 -q -F -L ptroot -U "$uuid" -d "$root" "$part"
truncate -s $(( size_mib * 1024 * 1024 )) "$work/disk.raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$work/disk.raw"
dd if="$part" of="$work/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
rm -f "$part"
rm -rf "$root"
echo "$work/disk.raw"
