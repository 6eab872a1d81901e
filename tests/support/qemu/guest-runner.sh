#!/bin/bash
# Runs inside the guest at boot (pt-runner.service). Unpacks the payload disk (a raw tar archive) into /run/pt,
# runs its stage.sh with the results directory as argument, writes the results directory as a raw tar archive
# onto the results disk, then powers off. The host reads results from that disk; nothing uses a network.
set -u
payload=/dev/disk/by-id/ata-QEMU_HARDDISK_ptpayload
results=/dev/disk/by-id/ata-QEMU_HARDDISK_ptresults
out=/run/pt-out
mkdir -p /run/pt "$out"
for _ in $(seq 1 60); do [ -e "$payload" ] && [ -e "$results" ] && break; sleep 1; done
if tar -xf "$payload" -C /run/pt; then
  # Stream the stage's output to the serial console too, so a slow or stuck step is visible in the host's log.
  bash -x /run/pt/stage.sh "$out" 2>&1 | tee "$out/stage.log" | sed -u 's/^/PT| /' > /dev/console
  echo "${PIPESTATUS[0]}" > "$out/stage.rc"
else
  echo 99 > "$out/stage.rc"
fi
echo "PT-RUNNER stage rc=$(cat "$out/stage.rc")" > /dev/console
tar -cf "$results" -C "$out" .
sync
echo "PT-RUNNER done" > /dev/console
systemctl poweroff --no-block
