import {
  loadableVfioModules,
  renderInitramfsHook,
  renderModulesLoad,
  renderVfioModprobe,
  softdepModules,
} from "../../components/passthrough/modprobe";

const kernel61 = { vfio: "module", vfio_iommu_type1: "module", vfio_pci: "module", vfio_virqfd: "module" } as const;
const kernel68 = { ...kernel61, vfio_virqfd: "missing" } as const;

describe("modules-load.d", () => {
  test("lists vfio_virqfd only on kernels that still ship it (before 6.2)", () => {
    expect(renderModulesLoad(kernel61, "o")).toContain("\nvfio_virqfd\n");
    expect(renderModulesLoad(kernel68, "o")).not.toContain("vfio_virqfd");
    expect(loadableVfioModules(kernel68)).toEqual(["vfio", "vfio_iommu_type1", "vfio_pci"]);
  });
  test("leaves out built-in modules and renders nothing when all are built in", () => {
    expect(loadableVfioModules({ vfio: "builtin", vfio_iommu_type1: "builtin", vfio_pci: "module", vfio_virqfd: "missing" })).toEqual([
      "vfio_pci",
    ]);
    expect(renderModulesLoad({ vfio: "builtin", vfio_iommu_type1: "builtin", vfio_pci: "builtin", vfio_virqfd: "missing" }, "o")).toBeNull();
  });
});

describe("modprobe.d", () => {
  test("claims ids with options and loads vfio-pci before the host drivers", () => {
    const text = renderVfioModprobe({ ids: ["8086:100e", "10de:2204"], addresses: [], hostModules: ["e1000", "nouveau", "e1000"] }, "o");
    expect(text).toBe(
      [
        "# Managed by pulumi-lxd-hardened (o): devices claimed by vfio-pci.",
        "options vfio-pci ids=10de:2204,8086:100e",
        "softdep e1000 pre: vfio-pci",
        "softdep nouveau pre: vfio-pci",
        "",
      ].join("\n"),
    );
  });
  test("claims addresses with driver_override written just before vfio_pci loads", () => {
    const text = renderVfioModprobe({ ids: [], addresses: ["0000:00:04.0"], hostModules: [] }, "o") ?? "";
    expect(text).toContain(
      "install vfio_pci [ -e /sys/bus/pci/devices/0000:00:04.0/driver_override ] && echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override; /sbin/modprobe --ignore-install vfio_pci $CMDLINE_OPTS",
    );
    expect(text).not.toContain("options vfio-pci");
  });
  test("renders nothing when no device is claimed", () => {
    expect(renderVfioModprobe({ ids: [], addresses: [], hostModules: ["e1000"] }, "o")).toBeNull();
  });
  test("drops vfio modules and pci-stub from softdeps and normalises dashes", () => {
    expect(softdepModules(["vfio_pci", "vfio-pci", "pci_stub", "snd-hda-intel", "Bad Name", "amdgpu"])).toEqual([
      "amdgpu",
      "snd_hda_intel",
    ]);
  });
  test("rejects ids and addresses that are not normalised", () => {
    expect(() => renderVfioModprobe({ ids: ["10DE:2204"], addresses: [], hostModules: [] }, "o")).toThrow(/bad id/);
    expect(() => renderVfioModprobe({ ids: [], addresses: ["01:00.0"], hostModules: [] }, "o")).toThrow(/bad address/);
  });
});

describe("initramfs hook", () => {
  test("copies the loadable VFIO modules into the initramfs and answers prereqs", () => {
    const hook = renderInitramfsHook(kernel68, "o") ?? "";
    expect(hook.startsWith("#!/bin/sh\n")).toBe(true);
    expect(hook).toContain("manual_add_modules vfio vfio_iommu_type1 vfio_pci\n");
    const { execFileSync } = require("child_process") as typeof import("child_process");
    expect(execFileSync("sh", ["-c", hook, "hook", "prereqs"], { encoding: "utf8" })).toBe("\n");
  });
});
