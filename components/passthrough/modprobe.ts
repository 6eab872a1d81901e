/**
 * Module loading and vfio-pci claiming: `/etc/modules-load.d`, `/etc/modprobe.d` and an initramfs-tools hook.
 *
 * - modules-load.d lists only the VFIO modules that exist as loadable modules for the host's kernel
 *   (`vfio_virqfd` was folded into `vfio` in Linux 6.2; naming a missing module makes module loading fail).
 * - Claim by id: `options vfio-pci ids=…`, plus `softdep <host driver> pre: vfio-pci` so vfio-pci is loaded (and
 *   claims its ids) before the driver that would otherwise bind the device.
 * - Claim by address: an `install` rule for vfio_pci that writes `driver_override` for each address right before
 *   the module loads; the same softdeps make it load before the host driver.
 * - The initramfs hook copies the VFIO modules into the initramfs, where host drivers are often loaded first.
 */
import { commentSafe } from "./kernel-cmdline";
import { isPciAddress, isPciId, uniqueSorted } from "../../provider/rules/pci";

/** How a module exists for a kernel: built in, loadable, or absent. */
export type ModuleState = "builtin" | "module" | "missing";

/** The VFIO modules the component cares about, in load order. */
export const VFIO_MODULES = ["vfio", "vfio_iommu_type1", "vfio_pci", "vfio_virqfd"] as const;
export type VfioModule = (typeof VFIO_MODULES)[number];

const MODULE_NAME = /^[a-z0-9_-]{1,64}$/;

/** Loadable VFIO modules to list in modules-load.d, in load order. Built-in and missing ones are left out. */
export function loadableVfioModules(states: Partial<Record<VfioModule, ModuleState>>): string[] {
  return VFIO_MODULES.filter((m) => states[m] === "module");
}

/** Render `/etc/modules-load.d/<stem>.conf`, or `null` when nothing needs loading (all built in). */
export function renderModulesLoad(states: Partial<Record<VfioModule, ModuleState>>, owner: string): string | null {
  const mods = loadableVfioModules(states);
  if (mods.length === 0) return null;
  return [`# Managed by pulumi-lxd-hardened (${commentSafe(owner)}): VFIO modules for PCI passthrough.`, ...mods, ""].join(
    "\n",
  );
}

/** What the modprobe.d file must express. */
export interface VfioClaim {
  /** vendor:device ids claimed by vfio-pci (normalised). */
  ids: readonly string[];
  /** Addresses claimed through driver_override (normalised). */
  addresses: readonly string[];
  /** Modules that would otherwise drive the claimed devices (from their modalias); vfio ones are dropped. */
  hostModules: readonly string[];
}

/** Host modules that must load after vfio-pci: sorted, unique, without vfio/pci-stub themselves. */
export function softdepModules(hostModules: readonly string[]): string[] {
  const cleaned = hostModules
    .map((m) => m.replace(/-/g, "_"))
    .filter((m) => MODULE_NAME.test(m) && !m.startsWith("vfio") && m !== "pci_stub");
  return uniqueSorted(cleaned);
}

/**
 * Render `/etc/modprobe.d/<stem>.conf` for a loadable vfio-pci, or `null` when no device is claimed.
 * Throws on values that are not normalised ids/addresses (they are validated long before this point).
 */
export function renderVfioModprobe(claim: VfioClaim, owner: string): string | null {
  const ids = uniqueSorted(claim.ids);
  const addresses = uniqueSorted(claim.addresses);
  for (const id of ids) if (!isPciId(id)) throw new Error(`renderVfioModprobe: bad id ${JSON.stringify(id)}`);
  for (const a of addresses) if (!isPciAddress(a)) throw new Error(`renderVfioModprobe: bad address ${JSON.stringify(a)}`);
  if (ids.length === 0 && addresses.length === 0) return null;
  const lines = [`# Managed by pulumi-lxd-hardened (${commentSafe(owner)}): devices claimed by vfio-pci.`];
  if (ids.length > 0) lines.push(`options vfio-pci ids=${ids.join(",")}`);
  if (addresses.length > 0) {
    const writes = addresses
      .map((a) => `[ -e /sys/bus/pci/devices/${a}/driver_override ] && echo vfio-pci > /sys/bus/pci/devices/${a}/driver_override;`)
      .join(" ");
    lines.push(`install vfio_pci ${writes} /sbin/modprobe --ignore-install vfio_pci $CMDLINE_OPTS`);
  }
  for (const m of softdepModules(claim.hostModules)) lines.push(`softdep ${m} pre: vfio-pci`);
  lines.push("");
  return lines.join("\n");
}

/** Render the initramfs-tools hook that copies the loadable VFIO modules into the initramfs, or `null`. */
export function renderInitramfsHook(states: Partial<Record<VfioModule, ModuleState>>, owner: string): string | null {
  const mods = loadableVfioModules(states);
  if (mods.length === 0) return null;
  return [
    "#!/bin/sh",
    `# Managed by pulumi-lxd-hardened (${commentSafe(owner)}): VFIO modules in the initramfs, so vfio-pci can`,
    "# claim devices before drivers that load from the initramfs.",
    'PREREQ=""',
    'prereqs() { echo "$PREREQ"; }',
    'case "$1" in prereqs) prereqs; exit 0 ;; esac',
    ". /usr/share/initramfs-tools/hook-functions",
    `manual_add_modules ${mods.join(" ")}`,
    "",
  ].join("\n");
}
