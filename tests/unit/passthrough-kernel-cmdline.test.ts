import {
  checkKernelArg,
  iommuKernelArgs,
  missingKernelArgs,
  parseCmdline,
  renderGrubDropIn,
} from "../../components/passthrough/kernel-cmdline";

describe("iommuKernelArgs", () => {
  test("adds intel_iommu=on and iommu=pt on an Intel VT-d platform", () => {
    expect(iommuKernelArgs({ cpuVendor: "GenuineIntel", iommuPlatform: "intel" })).toEqual(["intel_iommu=on", "iommu=pt"]);
  });
  test("follows the ACPI DMAR table, not the CPU vendor (TCG guests report AuthenticAMD)", () => {
    expect(iommuKernelArgs({ cpuVendor: "AuthenticAMD", iommuPlatform: "intel" })).toEqual(["intel_iommu=on", "iommu=pt"]);
  });
  test("never emits amd_iommu=on on AMD", () => {
    const args = iommuKernelArgs({ cpuVendor: "AuthenticAMD", iommuPlatform: "amd" });
    expect(args).toEqual(["iommu=pt"]);
    expect(args.join(" ")).not.toMatch(/amd_iommu/);
  });
  test("falls back to the CPU vendor when the firmware announces no IOMMU", () => {
    expect(iommuKernelArgs({ cpuVendor: "GenuineIntel", iommuPlatform: "none" })).toEqual(["intel_iommu=on", "iommu=pt"]);
    expect(iommuKernelArgs({ cpuVendor: "AuthenticAMD", iommuPlatform: "none" })).toEqual(["iommu=pt"]);
  });
  test("puts vfio-pci.ids and extra args last, without duplicates", () => {
    expect(
      iommuKernelArgs({
        cpuVendor: "GenuineIntel",
        iommuPlatform: "intel",
        vfioPciIds: ["10de:2204", "10de:1aef"],
        extraArgs: ["iommu=pt", "video=efifb:off"],
      }),
    ).toEqual(["intel_iommu=on", "iommu=pt", "vfio-pci.ids=10de:2204,10de:1aef", "video=efifb:off"]);
  });
});

describe("checkKernelArg", () => {
  test("accepts one plain token", () => {
    expect(checkKernelArg("video=efifb:off")).toEqual({ ok: true, value: "video=efifb:off" });
  });
  test.each(['quiet"; rm -rf /', "a b", "$(reboot)", "`x`", "", "x".repeat(201)])("rejects %j", (arg) => {
    expect(checkKernelArg(arg).ok).toBe(false);
  });
  test("rejects amd_iommu=on, which is not a kernel value", () => {
    const r = checkKernelArg("amd_iommu=on");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/not a kernel value/);
  });
});

describe("cmdline parsing", () => {
  test("splits on whitespace and honours quotes", () => {
    expect(parseCmdline(' BOOT_IMAGE=/vmlinuz root=UUID=1 dyndbg="file x +p"  quiet\n')).toEqual([
      "BOOT_IMAGE=/vmlinuz",
      "root=UUID=1",
      "dyndbg=file x +p",
      "quiet",
    ]);
  });
  test("reports only the arguments the kernel lacks, by exact token", () => {
    expect(missingKernelArgs("root=/dev/sda1 intel_iommu=on iommu=ptx", ["intel_iommu=on", "iommu=pt"])).toEqual(["iommu=pt"]);
    expect(missingKernelArgs("intel_iommu=on iommu=pt", ["intel_iommu=on", "iommu=pt"])).toEqual([]);
  });
});

describe("renderGrubDropIn", () => {
  test("appends to GRUB_CMDLINE_LINUX_DEFAULT without replacing it", () => {
    const text = renderGrubDropIn(["intel_iommu=on", "iommu=pt"], "PassthroughHost gpu-host");
    expect(text).toBe(
      [
        "# Managed by pulumi-lxd-hardened (PassthroughHost gpu-host): IOMMU kernel arguments for PCI passthrough.",
        "# update-grub reads this after /etc/default/grub. To revert: delete this file, then run update-grub.",
        'GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT} intel_iommu=on iommu=pt"',
        "",
      ].join("\n"),
    );
  });
  test("sources cleanly in a shell and yields the appended value", () => {
    const { execFileSync } = require("child_process") as typeof import("child_process");
    const out = execFileSync("bash", ["-c", `GRUB_CMDLINE_LINUX_DEFAULT="quiet"; ${renderGrubDropIn(["iommu=pt"], "x")}\nprintf %s "$GRUB_CMDLINE_LINUX_DEFAULT"`], {
      encoding: "utf8",
    });
    expect(out).toBe("quiet iommu=pt");
  });
  test("rejects an argument that could break out of the quoted value", () => {
    expect(() => renderGrubDropIn(['x" ; touch /tmp/pwned ; "'], "x")).toThrow(/unsafe kernel argument/);
  });
  test("keeps the owner comment on one line", () => {
    expect(renderGrubDropIn(["iommu=pt"], "evil\nGRUB_TIMEOUT=0").split("\n")[0]).toContain("evil?GRUB_TIMEOUT=0");
  });
});
