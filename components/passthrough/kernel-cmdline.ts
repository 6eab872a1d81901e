/**
 * Kernel command-line arguments for PCI passthrough and the GRUB drop-in that carries them.
 *
 * Debian's and Ubuntu's `grub-mkconfig` source `/etc/default/grub.d/*.cfg` after `/etc/default/grub`, so a
 * drop-in that appends to `GRUB_CMDLINE_LINUX_DEFAULT` changes nothing the administrator wrote and is
 * removed by deleting one file.
 */

/** Which IOMMU the platform has, from its ACPI tables (`DMAR` = Intel VT-d, `IVRS` = AMD-Vi). */
export type IommuPlatform = "intel" | "amd" | "none";

/** Inputs that decide the IOMMU arguments. */
export interface IommuArgsInput {
  /** `vendor_id` from /proc/cpuinfo, e.g. `GenuineIntel`, `AuthenticAMD`. */
  cpuVendor: string;
  /** IOMMU hardware announced by the firmware. */
  iommuPlatform: IommuPlatform;
  /** `vfio-pci.ids=` value to put on the command line (only when vfio-pci is built into the kernel). */
  vfioPciIds?: readonly string[];
  /** Extra arguments, already validated with {@link checkKernelArg}. */
  extraArgs?: readonly string[];
}

/**
 * The arguments to add. `intel_iommu=on` only for Intel VT-d (a `DMAR` table, or an Intel CPU when the firmware
 * announces nothing); AMD-Vi is on whenever the firmware enables it, and `amd_iommu=on` is not a kernel value, so
 * nothing is added for it. `iommu=pt` always: host devices keep identity mappings (no DMA-translation cost), only
 * devices given to guests are translated.
 */
export function iommuKernelArgs(input: IommuArgsInput): string[] {
  const args: string[] = [];
  const intel =
    input.iommuPlatform === "intel" || (input.iommuPlatform === "none" && input.cpuVendor === "GenuineIntel");
  if (intel) args.push("intel_iommu=on");
  args.push("iommu=pt");
  if (input.vfioPciIds && input.vfioPciIds.length > 0) args.push(`vfio-pci.ids=${input.vfioPciIds.join(",")}`);
  for (const a of input.extraArgs ?? []) if (!args.includes(a)) args.push(a);
  return args;
}

const KERNEL_ARG = /^[A-Za-z0-9_][A-Za-z0-9_.,:\/+=-]*$/;

/** Validate one extra kernel argument: a single token, no quotes, spaces or shell metacharacters. */
export function checkKernelArg(arg: unknown): { ok: true; value: string } | { ok: false; reason: string } {
  if (typeof arg !== "string" || !KERNEL_ARG.test(arg) || arg.length > 200) {
    return {
      ok: false,
      reason: `a kernel argument must be one token of letters, digits and _.,:/+=- (at most 200), but ${JSON.stringify(arg)} was provided`,
    };
  }
  if (/^(amd_iommu=on)$/.test(arg)) {
    return { ok: false, reason: `"amd_iommu=on" is not a kernel value (AMD-Vi is on when the firmware enables it), but it was provided` };
  }
  return { ok: true, value: arg };
}

/** Split a kernel command line (as in /proc/cmdline) into tokens, honouring double quotes. */
export function parseCmdline(cmdline: string): string[] {
  const tokens: string[] = [];
  let cur = "";
  let quoted = false;
  let has = false;
  for (const ch of cmdline.trim()) {
    if (ch === '"') {
      quoted = !quoted;
      has = true;
    } else if (/\s/.test(ch) && !quoted) {
      if (has) tokens.push(cur);
      cur = "";
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has) tokens.push(cur);
  return tokens;
}

/** The wanted arguments the running kernel was not booted with (exact token match). */
export function missingKernelArgs(cmdline: string, wanted: readonly string[]): string[] {
  const have = new Set(parseCmdline(cmdline));
  return wanted.filter((a) => !have.has(a));
}

/** Render `/etc/default/grub.d/<stem>.cfg`. `owner` names the managing resource in the header comment. */
export function renderGrubDropIn(args: readonly string[], owner: string): string {
  for (const a of args) {
    if (!KERNEL_ARG.test(a)) throw new Error(`renderGrubDropIn: refusing unsafe kernel argument ${JSON.stringify(a)}`);
  }
  return [
    `# Managed by pulumi-lxd-hardened (${commentSafe(owner)}): IOMMU kernel arguments for PCI passthrough.`,
    "# update-grub reads this after /etc/default/grub. To revert: delete this file, then run update-grub.",
    `GRUB_CMDLINE_LINUX_DEFAULT="\${GRUB_CMDLINE_LINUX_DEFAULT} ${args.join(" ")}"`,
    "",
  ].join("\n");
}

/** Strip anything that could end a comment line or confuse a reader. */
export function commentSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 120);
}
