/** The classes of findings, and the finding itself. */

/**
 * Classes of settings that weaken confinement. Each is refused unless named in `securityOptOuts`; an accepted
 * one is listed in `securityReport.weakened` and logged as a warning. The rows of `POLICY` (./table.ts) say
 * which key or device falls in which class and why; in short:
 * - `privileged`: `security.privileged` anything but false (container root is host root).
 * - `idmap`: a shared or host-overlapping id map (`security.idmap.isolated` anything but true,
 *   `security.idmap.base`, `raw.idmap`, `lxc.idmap`, `shift=true` on any disk device).
 * - `seccomp`: LXD's syscall policy switched off or loosened (`security.syscalls.deny_default` or `deny_compat`
 *   anything but true, an allow list, `raw.seccomp`, mount/bpf interception, `lxc.seccomp.*`).
 * - `apparmor`: mandatory access control replaced or switched off (`raw.apparmor`, `lxc.apparmor.*`, `lxc.selinux.*`).
 * - `capabilities`: capability sets changed (`lxc.cap.keep`, `lxc.cap.drop`).
 * - `devices`: host devices or host internals exposed (unix-char/-block/-hotplug, usb, gpu, pci, infiniband,
 *   tpm, physical or sriov nic, a disk whose source is, is under or contains a protected host path, a proxy
 *   that binds inside the instance, `lxc.cgroup*.devices.*`).
 * - `nesting`: `security.nesting` set by hand (the `nesting` input sets it with a sized idmap instead).
 * - `devlxd`: `security.devlxd` set by hand to anything but false (the `devLxd` input is the way to ask for `/dev/lxd`).
 * - `kernel`: the host kernel itself reached (`linux.kernel_modules` loads modules into it; a `linux.sysctl.*` key
 *   outside the container's own network and IPC namespaces sets a host-wide value) or its resource limits lifted
 *   (`limits.kernel.*` unlimited, -1 or above the bounds of ./table.ts).
 * - `network`: the spoofing filters of a bridged nic switched off (`security.mac_filtering`, `security.ipv4_filtering`,
 *   `security.ipv6_filtering` set to anything but true on a nic with nictype bridged or a `network`); the
 *   defaults are filled in at check (./nic.ts).
 * - `raw`: low-level keys whose effect on confinement cannot be judged (`raw.qemu*`, `raw.mount.options`,
 *   `lxc.hook.*`, `lxc.include`, `lxc.mount*`, `lxc.namespace.*`, unknown `lxc.*` lines).
 *
 * Every key that `hardenedConfig` sets (except the `limits.*` defaults) is also a finding of its class when
 * its value is "" (the empty value unsets the hardened default, so a profile or LXD's default decides).
 */
export const WEAKENING_CLASSES = ["privileged", "idmap", "seccomp", "apparmor", "capabilities", "devices", "nesting", "devlxd", "kernel", "network", "raw"] as const;
/** A class of findings that `securityOptOuts` can accept. */
export type WeakeningClass = (typeof WEAKENING_CLASSES)[number];

/**
 * Classes of findings that are always refused, whatever `securityOptOuts` says:
 * - `injection`: a line break (`\n` or `\r`) in a config value or device property that is not multi-line by
 *   design: LXD writes such values into the container's LXC config, where a line break starts a new,
 *   unjudged line (`environment.*` values included). Only `raw.*`, `cloud-init.*` and `user.*` values may span lines
 *   (and `image.*`, which LXD copies from the image and never writes to the LXC config).
 */
export const REFUSED_CLASSES = ["injection"] as const;
export type RefusedClass = (typeof REFUSED_CLASSES)[number];

/** The class of a finding: one that can be opted out of, or one that is always refused. */
export type FindingClass = WeakeningClass | RefusedClass;

/** True when `securityOptOuts` can accept findings of class `c`. */
export function canOptOut(c: string): c is WeakeningClass {
  return (WEAKENING_CLASSES as readonly string[]).includes(c);
}

/** One setting that weakens confinement. */
export interface Finding {
  class: FindingClass;
  /** `config.<key>`, `config.raw.lxc[line <n>: <lxc key>]` or `devices.<name>`. */
  key: string;
  /** For a device finding: the device property it is about (e.g. `source`, `shift`, `type`); absent when it is the device's name. */
  property?: string;
  reason: string;
  /**
   * The config value that was judged, when it is short and shown safely: set for single-line values of at
   * most 120 characters outside `raw.*`, `environment.*`, `user.*` and `cloud-init.*`; absent otherwise.
   */
  value?: string;
  /** Where the setting came from, from `judgeEffective` only: `instance` or `profile "<name>"`. */
  source?: string;
  /** The row of `POLICY` that found it (its `rule` text, as `policyRows()` lists it). */
  rule?: string;
}
