import { planHost, refusalsFor, type PlanOptions } from "../../components/passthrough/plan";
import { guestDetection, guestDevice } from "../support/qemu/detection-fixture";

const opts: PlanOptions = {
  addresses: ["0000:00:04.0"],
  ids: ["8086:100e"],
  extraKernelArgs: [],
  fileStem: "pulumi-passthrough",
  owner: "PassthroughHost t",
  lxdServerSettings: false,
  sysctlOverrides: {},
};
const file = (plan: ReturnType<typeof planHost>, path: string) => plan.files.find((f) => f.path === path);

describe("planHost", () => {
  test("plans the GRUB drop-in, modules, vfio-pci claims and initramfs hook for a Debian host", () => {
    const plan = planHost(guestDetection(), opts);
    expect(plan.refusals).toEqual([]);
    expect(plan.kernelArgs).toEqual(["intel_iommu=on", "iommu=pt"]);
    expect(file(plan, "/etc/default/grub.d/pulumi-passthrough.cfg")).toMatchObject({ effect: "grub", mode: "0644" });
    expect(file(plan, "/etc/modules-load.d/pulumi-passthrough.conf")?.content).toContain("vfio_virqfd");
    const modprobe = file(plan, "/etc/modprobe.d/pulumi-passthrough.conf");
    expect(modprobe?.effect).toBe("initramfs");
    expect(modprobe?.content).toContain("options vfio-pci ids=8086:100e\n");
    expect(modprobe?.content).toContain("softdep e1000 pre: vfio-pci\n");
    expect(modprobe?.content).toContain("/sys/bus/pci/devices/0000:00:04.0/driver_override");
    expect(file(plan, "/etc/initramfs-tools/hooks/pulumi-passthrough")).toMatchObject({ mode: "0755", effect: "initramfs" });
    expect(file(plan, "/etc/sysctl.d/60-pulumi-passthrough.conf")?.content).toBeNull();
  });

  test("is stable once the devices are bound to vfio-pci (softdeps come from the modalias, not the driver)", () => {
    const before = planHost(guestDetection(), opts);
    const after = planHost(
      guestDetection({
        cmdline: "root=UUID=1 ro intel_iommu=on iommu=pt",
        devices: guestDetection().devices.map((d) => ({ ...d, driver: "vfio-pci", group: d.group.map((m) => ({ ...m, driver: "vfio-pci" })) })),
      }),
      opts,
    );
    expect(after).toEqual(before);
  });

  test("writes no IOMMU-vendor argument on AMD and drops vfio_virqfd on kernels from 6.2", () => {
    const plan = planHost(
      guestDetection({ iommuPlatform: "amd", kernelRelease: "6.8.0-45-generic", modules: { vfio: "module", vfio_iommu_type1: "module", vfio_pci: "module", vfio_virqfd: "missing" } }),
      opts,
    );
    expect(plan.kernelArgs).toEqual(["iommu=pt"]);
    expect(file(plan, "/etc/modules-load.d/pulumi-passthrough.conf")?.content).not.toContain("vfio_virqfd");
  });

  test("puts ids on the kernel command line when vfio-pci is built in (Ubuntu-style kernels)", () => {
    const builtin = { vfio: "builtin", vfio_iommu_type1: "builtin", vfio_pci: "builtin", vfio_virqfd: "missing" } as const;
    const plan = planHost(guestDetection({ modules: builtin }), { ...opts, addresses: [] });
    expect(plan.refusals).toEqual([]);
    expect(plan.kernelArgs).toEqual(["intel_iommu=on", "iommu=pt", "vfio-pci.ids=8086:100e"]);
    expect(file(plan, "/etc/modprobe.d/pulumi-passthrough.conf")?.content).toBeNull();
    expect(file(plan, "/etc/modules-load.d/pulumi-passthrough.conf")?.content).toBeNull();
  });

  test("rejects claiming by address when vfio-pci is built in", () => {
    const builtin = { vfio: "builtin", vfio_iommu_type1: "builtin", vfio_pci: "builtin", vfio_virqfd: "missing" } as const;
    expect(planHost(guestDetection({ modules: builtin }), opts).refusals).toEqual([
      expect.stringMatching(/vfio-pci is built into kernel .* claim by vendor:device id instead/),
    ]);
  });

  test("writes LXD's production settings only when asked", () => {
    const plan = planHost(guestDetection(), { ...opts, lxdServerSettings: true });
    expect(file(plan, "/etc/sysctl.d/60-pulumi-passthrough.conf")).toMatchObject({ effect: "sysctl" });
    expect(file(plan, "/etc/sysctl.d/60-pulumi-passthrough.conf")?.content).toContain("vm.max_map_count = 262144");
    expect(file(plan, "/etc/security/limits.d/60-pulumi-passthrough.conf")?.content).toContain("nofile");
  });
});

describe("refusalsFor", () => {
  test.each(["systemd-boot", "uki", "grubby-bls", "unknown"] as const)("rejects a host booted by %s", (kind) => {
    const r = refusalsFor(guestDetection({ bootLoader: { kind, detail: "d" } }), opts);
    expect(r).toEqual([expect.stringMatching(new RegExp(`^boot loader "${kind}" is not supported \\(d\\): only GRUB`))]);
  });

  test("rejects the boot VGA device", () => {
    const d = guestDetection({ devices: [guestDevice({ address: "0000:00:02.0", bootVga: true, class: "0x030000", driver: "bochs-drm" })] });
    expect(refusalsFor(d, opts)).toEqual(["0000:00:02.0 is the boot VGA device (boot_vga=1): the host console would be lost"]);
  });

  test("rejects a device whose group holds an endpoint in use by another driver", () => {
    const dev = guestDevice({ address: "0000:00:1f.3", iommuGroup: 4, driver: "i801_smbus" });
    dev.group = [
      { address: "0000:00:1f.0", id: "8086:2918", class: "0x060100", driver: "lpc_ich", bridge: false },
      { address: "0000:00:1f.2", id: "8086:2922", class: "0x010601", driver: "ahci", bridge: false },
      { address: "0000:00:1f.3", id: "8086:2930", class: "0x0c0500", driver: "i801_smbus", bridge: false },
    ];
    expect(refusalsFor(guestDetection({ devices: [dev] }), opts)).toEqual([
      "0000:00:1f.3 shares IOMMU group 4 with 0000:00:1f.0, which is in use by driver lpc_ich",
      "0000:00:1f.3 shares IOMMU group 4 with 0000:00:1f.2, which is in use by driver ahci",
    ]);
  });

  test("accepts group members that are bridges, unbound, vfio-pci, pci-stub or themselves targets", () => {
    const gpu = guestDevice({ address: "0000:01:00.0", id: "10de:2204", class: "0x030000", driver: "nouveau", iommuGroup: 7 });
    const audio = guestDevice({ address: "0000:01:00.1", id: "10de:1aef", class: "0x040300", driver: "snd_hda_intel", iommuGroup: 7 });
    const group = [
      { address: "0000:00:01.0", id: "8086:1901", class: "0x060400", driver: "pcieport", bridge: true },
      { address: "0000:01:00.0", id: "10de:2204", class: "0x030000", driver: "nouveau", bridge: false },
      { address: "0000:01:00.1", id: "10de:1aef", class: "0x040300", driver: "snd_hda_intel", bridge: false },
      { address: "0000:01:00.2", id: "10de:1ada", class: "0x0c0330", driver: "", bridge: false },
      { address: "0000:01:00.3", id: "10de:1adb", class: "0x0c8000", driver: "vfio-pci", bridge: false },
    ];
    gpu.group = group;
    audio.group = group;
    expect(refusalsFor(guestDetection({ devices: [gpu, audio] }), opts)).toEqual([]);
  });

  test("rejects the controller of a mounted disk, a bridge, and ids that match nothing", () => {
    const d = guestDetection({
      devices: [
        guestDevice({ address: "0000:00:1f.2", storageInUse: ["sda"] }),
        guestDevice({ address: "0000:00:1c.0", class: "0x060400", bridge: true }),
      ],
      missing: ["id:10de:2204"],
    });
    expect(refusalsFor(d, opts)).toEqual([
      "0000:00:1c.0 is a PCI bridge (0x060400): bridges cannot be assigned",
      "0000:00:1f.2 backs block devices in use on this host: sda",
      "no PCI device matches id:10de:2204",
    ]);
  });

  test("rejects a kernel without vfio-pci when devices are requested", () => {
    const d = guestDetection({ modules: { vfio: "missing", vfio_iommu_type1: "missing", vfio_pci: "missing", vfio_virqfd: "missing" } });
    expect(refusalsFor(d, { addresses: [] })).toEqual(["kernel 6.1.0-50-amd64 has no vfio-pci module"]);
  });
});
