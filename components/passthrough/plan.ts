/**
 * From detected facts and the user's choices to what the host must look like: kernel arguments, managed files,
 * and refusals. Pure: the component renders the apply script from this plan, and a changed plan is what
 * re-runs the apply step.
 */
import type { DetectionResult } from "./detection";
import { iommuKernelArgs, renderGrubDropIn } from "./kernel-cmdline";
import { renderInitramfsHook, renderModulesLoad, renderVfioModprobe } from "./modprobe";
import { isBridgeClass, uniqueSorted } from "../../provider/rules/pci";
import type { ManagedFile } from "./scripts";
import { renderLxdLimits, renderLxdSysctl } from "./sysctl";

/** The user's choices, already validated and normalised. */
export interface PlanOptions {
  /** Addresses to claim through driver_override. */
  addresses: readonly string[];
  /** vendor:device ids to claim (`options vfio-pci ids=`). */
  ids: readonly string[];
  /** Extra kernel arguments. */
  extraKernelArgs: readonly string[];
  /** File name stem for every managed file. */
  fileStem: string;
  /** Name shown in managed files' header comments. */
  owner: string;
  /** Write LXD's production sysctls and limits. */
  lxdServerSettings: boolean;
  /** sysctl overrides on top of LXD's suggested values. */
  sysctlOverrides: Readonly<Record<string, string>>;
}

/** What the host must look like. */
export interface HostPlan {
  kernelArgs: string[];
  files: ManagedFile[];
  /** Reasons not to touch the host; non-empty means the apply step must not run. */
  refusals: string[];
}

const VIABLE_DRIVERS = new Set(["", "vfio-pci", "pci-stub"]);

/** Reasons this host or these devices must not be changed (mirrors the scripts' own checks). */
export function refusalsFor(d: DetectionResult, opts: Pick<PlanOptions, "addresses">): string[] {
  const out: string[] = [];
  if (d.bootLoader.kind !== "grub") {
    out.push(
      `boot loader "${d.bootLoader.kind}" is not supported (${d.bootLoader.detail}): only GRUB with update-grub (Debian/Ubuntu) is managed`,
    );
  }
  const wantsDevices = d.devices.length > 0 || d.missing.length > 0;
  if (wantsDevices && d.modules.vfio_pci === "missing") out.push(`kernel ${d.kernelRelease} has no vfio-pci module`);
  if (opts.addresses.length > 0 && d.modules.vfio_pci === "builtin") {
    out.push(
      `vfio-pci is built into kernel ${d.kernelRelease}: claiming by address needs it as a module; claim by vendor:device id instead`,
    );
  }
  for (const m of d.missing) out.push(`no PCI device matches ${m}`);
  const targets = new Set(d.devices.map((x) => x.address));
  for (const dev of d.devices) {
    if (dev.bootVga) out.push(`${dev.address} is the boot VGA device (boot_vga=1): the host console would be lost`);
    if (dev.bridge) out.push(`${dev.address} is a PCI bridge (${dev.class}): bridges cannot be assigned`);
    if (dev.storageInUse.length > 0) {
      out.push(`${dev.address} backs block devices in use on this host: ${dev.storageInUse.join(" ")}`);
    }
    for (const m of dev.group) {
      if (targets.has(m.address) || m.bridge || isBridgeClass(m.class) || VIABLE_DRIVERS.has(m.driver)) continue;
      out.push(`${dev.address} shares IOMMU group ${dev.iommuGroup} with ${m.address}, which is in use by driver ${m.driver}`);
    }
  }
  return uniqueSorted(out);
}

/** Build the plan. File paths follow Debian/Ubuntu conventions. */
export function planHost(d: DetectionResult, opts: PlanOptions): HostPlan {
  const builtinVfioPci = d.modules.vfio_pci === "builtin";
  const kernelArgs = iommuKernelArgs({
    cpuVendor: d.cpuVendor,
    iommuPlatform: d.iommuPlatform,
    vfioPciIds: builtinVfioPci ? uniqueSorted(opts.ids) : [],
    extraArgs: opts.extraKernelArgs,
  });
  const wantsDevices = opts.ids.length > 0 || opts.addresses.length > 0;
  const states = wantsDevices ? d.modules : {};
  const hostModules = d.devices.flatMap((x) => x.hostModules);
  const stem = opts.fileStem;
  const files: ManagedFile[] = [
    { path: `/etc/default/grub.d/${stem}.cfg`, mode: "0644", content: renderGrubDropIn(kernelArgs, opts.owner), effect: "grub" },
    { path: `/etc/modules-load.d/${stem}.conf`, mode: "0644", content: renderModulesLoad(states, opts.owner), effect: "none" },
    {
      path: `/etc/modprobe.d/${stem}.conf`,
      mode: "0644",
      content: builtinVfioPci
        ? null
        : renderVfioModprobe({ ids: opts.ids, addresses: opts.addresses, hostModules }, opts.owner),
      effect: "initramfs",
    },
    {
      path: `/etc/initramfs-tools/hooks/${stem}`,
      mode: "0755",
      content: renderInitramfsHook(states, opts.owner),
      effect: "initramfs",
    },
    {
      path: `/etc/sysctl.d/60-${stem}.conf`,
      mode: "0644",
      content: opts.lxdServerSettings ? renderLxdSysctl(opts.owner, opts.sysctlOverrides) : null,
      effect: "sysctl",
    },
    {
      path: `/etc/security/limits.d/60-${stem}.conf`,
      mode: "0644",
      content: opts.lxdServerSettings ? renderLxdLimits(opts.owner) : null,
      effect: "none",
    },
  ];
  return { kernelArgs, files, refusals: refusalsFor(d, opts) };
}
