#!/usr/bin/env bash
# Boot the guest once under QEMU (TCG, q35, no network, no default devices) and wait until it powers off.
# Usage: run-guest.sh WORKDIR PAYLOAD_TAR MODE [TIMEOUT_SEC]
#   MODE: direct   - direct kernel boot of WORKDIR/vmlinuz + initrd.img (first boot, before GRUB is installed)
#         bios     - SeaBIOS -> GRUB on the disk -> whatever command line GRUB generated
#   IOMMU=0 in the environment leaves out the emulated Intel IOMMU (negative control).
# Writes WORKDIR/results.img (read with `tar -xf`) and WORKDIR/serial-<n>.log.
set -euo pipefail
work=$1; payload=$2; mode=$3; timeout_sec=${4:-420}
n=$( (ls "$work"/serial-*.log 2>/dev/null || true) | wc -l)
log="$work/serial-$n.log"

# The payload disk is the tar archive itself, padded to whole MiB; the results disk starts empty.
cp "$payload" "$work/payload.img"
truncate -s $(( ( $(stat -c %s "$payload") / 1048576 + 1 ) * 1048576 )) "$work/payload.img"
rm -f "$work/results.img"; truncate -s 16M "$work/results.img"

args=(
  -nodefaults -nic none -display none -no-reboot
  -machine q35,kernel-irqchip=split -accel tcg,thread=multi -cpu max -smp 2 -m 2048
)
if [ "${IOMMU:-1}" = 1 ]; then args+=(-device intel-iommu,intremap=on,caching-mode=on); fi
args+=(
  -device VGA,addr=0x2
  -device e1000,romfile=,addr=0x3
  -device edu,addr=0x4
  -drive file="$work/disk.raw",format=raw,if=none,id=root -device ide-hd,drive=root,bus=ide.0,serial=ptroot
  -drive file="$work/payload.img",format=raw,if=none,id=payload -device ide-hd,drive=payload,bus=ide.1,serial=ptpayload
  -drive file="$work/results.img",format=raw,if=none,id=results -device ide-hd,drive=results,bus=ide.2,serial=ptresults
  -serial file:"$log"
)
if [ "$mode" = direct ]; then
  args+=(-kernel "$work/vmlinuz" -initrd "$work/initrd.img"
         -append "root=UUID=6c0a3d6e-7f7e-4b4a-9f43-0d4c1e5a2b10 ro console=ttyS0,115200n8")
fi
start=$(date +%s)
if ! timeout "$timeout_sec" qemu-system-x86_64 "${args[@]}"; then
  echo "run-guest: qemu failed or timed out after $(( $(date +%s) - start ))s; last serial lines:" >&2
  tail -n 40 "$log" >&2 || true
  exit 1
fi
echo "run-guest: $mode boot finished in $(( $(date +%s) - start ))s" >&2
