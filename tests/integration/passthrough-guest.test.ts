/**
 * The host half of PCI passthrough, for real: the generated detect/apply/verify scripts run in a Debian 12 guest
 * under QEMU (TCG, q35, emulated Intel IOMMU, `-nodefaults -nic none`) that plays the LXD host.
 *
 * Guest devices: 00:02.0 VGA (boot_vga=1), 00:03.0 e1000 8086:100e (bound to e1000 first; claimed by id),
 * 00:04.0 edu 1234:11e8 (no host driver; claimed by address), 00:1f.* ICH9 (AHCI holds the root disk).
 *
 * Boot 1, direct kernel: grub-install + update-grub (a normal GRUB host), detect.
 * Boot 2, BIOS → GRUB: refused requests change nothing; apply (bindNow); verify.
 * Boot 3, BIOS → GRUB with the new command line: the args, the passthrough default domain, vfio-pci bound at
 *         boot, viable groups; a second apply changes nothing and needs no reboot.
 * Boot 4, same disk without the IOMMU device: reported as not viable.
 *
 * Needs root and the tools from tests/support/qemu/install-deps.sh. About 5 minutes (rootfs cached under .cache/).
 * PT_KEEP=1 keeps the work directory (disk, serial logs, results) for inspection.
 */
import { createHash } from "crypto";
import {
  parseApplyResult,
  parseDetection,
  parseVerifyResult,
  type DetectionResult,
} from "../../components/passthrough/detection";
import { planHost, type HostPlan, type PlanOptions } from "../../components/passthrough/plan";
import { renderApplyScript, renderDetectScript, renderVerifyScript } from "../../components/passthrough/scripts";
import { ensureRootfs, Guest, missingTools, type BootResult } from "../support/qemu/guest";

const E1000 = "0000:00:03.0";
const EDU = "0000:00:04.0";
const VGA = "0000:00:02.0";
const AHCI = "0000:00:1f.2";
const MINUTES = 60_000;

const options: PlanOptions = {
  addresses: [EDU],
  ids: ["8086:100e"],
  extraKernelArgs: [],
  fileStem: "pulumi-passthrough",
  owner: "PassthroughHost guest-test",
  lxdServerSettings: true,
  sysctlOverrides: {},
};
const targets = { addresses: options.addresses, ids: options.ids };
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

function renderApply(plan: HostPlan, addresses = options.addresses, ids = options.ids): string {
  return renderApplyScript({ addresses, ids, kernelArgs: plan.kernelArgs, files: plan.files, bindNow: true });
}

/** Runs a script, keeping stdout, stderr and exit status; never stops the stage. */
const RUN_CAPTURE = `
capture() { local name=$1; shift; local rc=0; "$@" > "$out/$name.json" 2> "$out/$name.err" || rc=$?; echo $rc > "$out/$name.rc"; }
`;

const tools = missingTools();
const uid = process.getuid?.() ?? -1;
const describeGuest = process.env.PASSTHROUGH_GUEST_TEST === "0" ? describe.skip : describe;

describeGuest("passthrough host scripts in a QEMU guest with an emulated IOMMU", () => {
  let guest: Guest | undefined;
  let detection: DetectionResult;
  let plan: HostPlan;
  let applyScript: string;
  let verifyScript: string;
  const timings: string[] = [];
  const t0 = Date.now();

  beforeAll(() => {
    if (uid !== 0) throw new Error("the passthrough guest test needs root (it builds a rootfs with debootstrap)");
    if (tools.length > 0) {
      throw new Error(`missing tools: ${tools.join(", ")}; run: bash tests/support/qemu/install-deps.sh`);
    }
    const started = Date.now();
    const rootfs = ensureRootfs();
    guest = Guest.create(rootfs);
    timings.push(`rootfs+disk ${((Date.now() - started) / 1000).toFixed(0)}s`);
  }, 20 * MINUTES);

  afterAll(() => {
    // eslint-disable-next-line no-console
    console.log(`passthrough guest test: ${timings.join(", ")}; total ${((Date.now() - t0) / 1000).toFixed(0)}s`);
    if (guest && process.env.PT_KEEP !== "1") guest.destroy();
    else if (guest) console.log(`kept ${guest.work}`); // eslint-disable-line no-console
  });

  function boot(label: string, stage: string, files: Record<string, string>, mode: "direct" | "bios", iommu = true): BootResult {
    if (!guest) throw new Error("guest not created");
    const r = guest.boot(stage, files, mode, { iommu });
    timings.push(`${label} ${r.seconds.toFixed(0)}s`);
    expect(r.file("marker").trim()).toBe("STAGE-OK");
    return r;
  }

  test("detects a GRUB host, a DMAR IOMMU and the target devices (boot 1, direct kernel)", () => {
    const stage = `set -euo pipefail
out=$1
${RUN_CAPTURE}
# Disk names depend on probe order: find the boot disk by the serial number QEMU gives it.
disk=$(readlink -f /dev/disk/by-id/ata-QEMU_HARDDISK_ptroot)
basename "$(readlink -f /dev/disk/by-id/ata-QEMU_HARDDISK_ptroot-part1)" > "$out/root-partition.txt"
grub-install "$disk" > "$out/grub-install.log" 2>&1
update-grub > "$out/update-grub.log" 2>&1
bash /run/pt/detect.sh > "$out/detect.json"
capture detect-refused bash /run/pt/detect-refused.sh
echo STAGE-OK > "$out/marker"
`;
    const r = boot("boot1", stage, {
      "detect.sh": renderDetectScript(targets),
      "detect-refused.sh": renderDetectScript({ addresses: [VGA, AHCI], ids: [] }),
    }, "direct");

    detection = parseDetection(r.file("detect.json"));
    expect(detection.bootLoader.kind).toBe("grub");
    expect(detection.os.id).toBe("debian");
    expect(detection.iommuPlatform).toBe("intel"); // ACPI DMAR from -device intel-iommu
    expect(detection.iommuActive).toBe(true); // Debian's kernel enables VT-d by default
    expect(detection.cmdline).not.toContain("iommu=pt");
    expect(detection.secureBoot).toBe("not-efi");
    expect(detection.modules.vfio_pci).toBe("module");
    const [major, minor] = detection.kernelRelease.split(".").map(Number);
    expect(detection.modules.vfio_virqfd).toBe(major > 6 || (major === 6 && minor >= 2) ? "missing" : "module");

    const byAddr = new Map(detection.devices.map((d) => [d.address, d]));
    expect([...byAddr.keys()].sort()).toEqual([E1000, EDU]);
    expect(byAddr.get(E1000)).toMatchObject({ claim: "id", id: "8086:100e", driver: "e1000", bootVga: false });
    expect(byAddr.get(E1000)?.hostModules).toContain("e1000");
    expect(byAddr.get(EDU)).toMatchObject({ claim: "address", id: "1234:11e8", driver: "" });
    expect(byAddr.get(E1000)?.iommuGroup).not.toBeNull();
    expect(detection.refusals).toEqual([]);

    plan = planHost(detection, options);
    expect(plan.refusals).toEqual([]);
    // The CPU under TCG says AuthenticAMD, but the platform's IOMMU is VT-d: intel_iommu=on is still needed.
    expect(detection.cpuVendor).toBe("AuthenticAMD");
    expect(plan.kernelArgs).toEqual(["intel_iommu=on", "iommu=pt"]);

    // The boot VGA device and the AHCI controller (root disk; group shared with lpc_ich and i801_smbus) are refused,
    // by the script itself and by the TypeScript plan, for the same reasons.
    const refused = parseDetection(r.file("detect-refused.json"));
    const joined = refused.refusals.join("\n");
    expect(joined).toContain(`${VGA} is the boot VGA device`);
    const rootPartition = r.file("root-partition.txt").trim(); // sda1..sdc1: probe order varies between boots
    expect(rootPartition).toMatch(/^sd[a-c]1$/);
    expect(refused.refusals).toContain(`${AHCI} backs block devices in use on this host: ${rootPartition}`);
    expect(joined).toMatch(/shares IOMMU group \d+ with 0000:00:1f\.0, which is in use by driver lpc_ich/);
    expect(planHost(refused, { ...options, addresses: [VGA, AHCI], ids: [] }).refusals).toEqual(refused.refusals);

    applyScript = renderApply(plan);
    verifyScript = renderVerifyScript({ ...targets, kernelArgs: plan.kernelArgs });
  }, 12 * MINUTES);

  test("rejects the boot VGA and the root disk's controller, then applies and binds at runtime (boot 2, GRUB)", () => {
    const stage = `set -euo pipefail
out=$1
${RUN_CAPTURE}
basename "$(readlink -f /dev/disk/by-id/ata-QEMU_HARDDISK_ptroot-part1)" > "$out/root-partition.txt"
capture refuse-vga bash /run/pt/apply-vga.sh
capture refuse-ahci bash /run/pt/apply-ahci.sh
ls -A /etc/default/grub.d /etc/modprobe.d /etc/modules-load.d > "$out/before-apply.txt" 2>&1 || true
bash /run/pt/apply.sh > "$out/apply1.json"
bash /run/pt/verify.sh > "$out/verify1.json"
for f in /etc/default/grub.d/pulumi-passthrough.cfg /etc/modules-load.d/pulumi-passthrough.conf \\
         /etc/modprobe.d/pulumi-passthrough.conf /etc/initramfs-tools/hooks/pulumi-passthrough; do
  cp "$f" "$out/$(basename "$(dirname "$f")")-$(basename "$f")"
done
grep -E '^[[:space:]]*linux[[:space:]]' /boot/grub/grub.cfg > "$out/grub-linux.txt"
cat /proc/sys/fs/inotify/max_user_instances > "$out/sysctl-now.txt"
echo STAGE-OK > "$out/marker"
`;
    const r = boot("boot2", stage, {
      "apply-vga.sh": renderApply(plan, [VGA], []),
      "apply-ahci.sh": renderApply(plan, [AHCI], []),
      "apply.sh": applyScript,
      "verify.sh": verifyScript,
    }, "bios");

    expect(r.file("refuse-vga.rc").trim()).toBe("3");
    expect(() => parseApplyResult(r.file("refuse-vga.json"))).toThrow(/boot VGA device \(boot_vga=1\)/);
    expect(r.file("refuse-ahci.rc").trim()).toBe("3");
    expect(() => parseApplyResult(r.file("refuse-ahci.json"))).toThrow(`backs block devices in use on this host: ${r.file("root-partition.txt").trim()};`);
    expect(r.file("before-apply.txt")).not.toContain("pulumi-passthrough");

    const apply1 = parseApplyResult(r.file("apply1.json"));
    expect(apply1.changed).toBe(true);
    expect(apply1.changes).toEqual(
      expect.arrayContaining([
        "wrote /etc/default/grub.d/pulumi-passthrough.cfg",
        "wrote /etc/modprobe.d/pulumi-passthrough.conf",
        "ran update-grub",
        "ran update-initramfs",
        `bound ${E1000} to vfio-pci (was e1000)`,
        `bound ${EDU} to vfio-pci (was unbound)`,
      ]),
    );
    expect(apply1.rebootRequired).toBe(true);
    expect(apply1.missingArgs).toEqual(["intel_iommu=on", "iommu=pt"]);
    expect(r.file("grub.d-pulumi-passthrough.cfg")).toContain('"${GRUB_CMDLINE_LINUX_DEFAULT} intel_iommu=on iommu=pt"');
    expect(r.file("grub-linux.txt")).toMatch(/linux\s+\/boot\/vmlinuz\S* .*intel_iommu=on iommu=pt/);
    expect(r.file("modprobe.d-pulumi-passthrough.conf")).toContain("options vfio-pci ids=8086:100e");
    expect(r.file("modprobe.d-pulumi-passthrough.conf")).toContain("softdep e1000 pre: vfio-pci");
    expect(r.file("sysctl-now.txt").trim()).toBe("1048576");

    const verify1 = parseVerifyResult(r.file("verify1.json"));
    expect(verify1.devices.map((d) => [d.address, d.driver])).toEqual([[E1000, "vfio-pci"], [EDU, "vfio-pci"]]);
    expect(verify1.rebootRequired).toBe(true); // the command line still lacks the args
  }, 12 * MINUTES);

  test("boots GRUB's new command line with vfio-pci bound and a second apply changes nothing (boot 3)", () => {
    const stage = `set -euo pipefail
out=$1
cat /proc/cmdline > "$out/cmdline.txt"
dmesg > "$out/dmesg.txt"
bash /run/pt/detect.sh > "$out/detect2.json"
bash /run/pt/verify.sh > "$out/verify2.json"
bash /run/pt/apply.sh > "$out/apply2.json"
bash /run/pt/verify.sh > "$out/verify3.json"
lsinitramfs "/boot/initrd.img-$(uname -r)" | grep -E 'vfio|modprobe.d/pulumi' > "$out/initramfs.txt"
cat /proc/sys/vm/max_map_count > "$out/sysctl-boot.txt"
echo STAGE-OK > "$out/marker"
`;
    const r = boot("boot3", stage, {
      "detect.sh": renderDetectScript(targets),
      "apply.sh": applyScript,
      "verify.sh": verifyScript,
    }, "bios");

    const cmdline = r.file("cmdline.txt").trim().split(/\s+/);
    expect(cmdline).toEqual(expect.arrayContaining(["intel_iommu=on", "iommu=pt", "console=ttyS0,115200n8"]));
    expect(r.file("dmesg.txt")).toContain("iommu: Default domain type: Passthrough");
    expect(r.file("initramfs.txt")).toMatch(/vfio-pci\.ko/);
    expect(r.file("initramfs.txt")).toContain("etc/modprobe.d/pulumi-passthrough.conf");
    expect(r.file("sysctl-boot.txt").trim()).toBe("262144");

    const verify2 = parseVerifyResult(r.file("verify2.json"));
    expect(verify2.iommuActive).toBe(true);
    expect(verify2.missingArgs).toEqual([]);
    expect(verify2.devices.map((d) => [d.address, d.driver, d.viable])).toEqual([
      [E1000, "vfio-pci", true],
      [EDU, "vfio-pci", true],
    ]);
    expect(verify2.iommuGroups.length).toBe(2);
    expect(verify2.viable).toBe(true);
    expect(verify2.rebootRequired).toBe(false);

    const apply2 = parseApplyResult(r.file("apply2.json"));
    expect(apply2).toEqual({ ok: true, changed: false, changes: [], rebootRequired: false, missingArgs: [] });
    expect(parseVerifyResult(r.file("verify3.json"))).toEqual(verify2);

    // Re-detecting after the reboot yields the same plan, so the component's apply trigger does not change.
    const detection2 = parseDetection(r.file("detect2.json"));
    expect(detection2.devices.every((d) => d.driver === "vfio-pci")).toBe(true);
    expect(sha(renderApply(planHost(detection2, options)))).toBe(sha(applyScript));
  }, 12 * MINUTES);

  test("fails when the machine has no IOMMU: the devices are reported not viable (boot 4, negative control)", () => {
    const stage = `set -euo pipefail
out=$1
bash /run/pt/detect.sh > "$out/detect.json"
bash /run/pt/verify.sh > "$out/verify.json"
echo STAGE-OK > "$out/marker"
`;
    const r = boot("boot4-no-iommu", stage, { "detect.sh": renderDetectScript(targets), "verify.sh": verifyScript }, "bios", false);
    const d = parseDetection(r.file("detect.json"));
    expect(d.iommuPlatform).toBe("none");
    expect(d.iommuActive).toBe(false);
    expect(d.cmdline).toContain("intel_iommu=on"); // the args are there; the hardware is not
    const v = parseVerifyResult(r.file("verify.json"));
    expect(v.iommuActive).toBe(false);
    expect(v.iommuGroups).toEqual([]);
    expect(v.viable).toBe(false);
    expect(v.devices.map((x) => [x.address, x.iommuGroup, x.viable])).toEqual([
      [E1000, null, false],
      [EDU, null, false],
    ]);
    expect(v.devices.find((x) => x.address === E1000)?.driver).not.toBe("vfio-pci");
  }, 12 * MINUTES);
});
