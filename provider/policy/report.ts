/** The security report: what confinement an instance or profile really has, from its effective config. */
import type { ConfigMap } from "../lxd";
import { canOptOut, type Finding, type WeakeningClass } from "./classes";
import { IDMAP_BLOCK } from "./hardened";
import { isFalse, isTrue } from "./values";

/** The security report output of an instance or profile. */
export interface SecurityReport {
  /** Container root is host root. */
  privileged: boolean;
  /** `security.idmap.isolated` in effect, and the map size requested. */
  idmapIsolated: boolean;
  idmapSize: number;
  /** `lxd-default+compat` (hardened), `lxd-default`, `custom` (allow list/raw/interception) or `off`. */
  seccomp: "lxd-default+compat" | "lxd-default" | "custom" | "off";
  /** `lxd-default`, `custom` (raw.apparmor / lxc.apparmor), or `unavailable-on-host` (no mandatory access control). */
  apparmor: "lxd-default" | "custom" | "unavailable-on-host";
  devLxd: boolean;
  nesting: boolean;
  /**
   * Settings that weaken confinement and are in force: accepted through securityOptOuts, or (for the
   * effective config) set by a profile or outside this program; the warnings say which.
   */
  weakened: Finding[];
  /** Human-readable warnings (weakened settings, host without AppArmor, …). */
  warnings: string[];
}

/**
 * Builds the report from the effective config (after profiles, when known) and the findings in force.
 * `optOuts` only changes the wording of the warnings (opted out here, or not).
 */
export function securityReport(config: ConfigMap, weakened: Finding[], host: { apparmor: boolean }, optOuts: readonly WeakeningClass[] = []): SecurityReport {
  const syscalls = (k: string) => config[`security.syscalls.${k}`];
  let seccomp: SecurityReport["seccomp"] = "lxd-default";
  if (isFalse(syscalls("deny_default")) || isFalse(syscalls("blacklist_default"))) seccomp = "off";
  else if (weakened.some((f) => f.class === "seccomp")) seccomp = "custom";
  else if (isTrue(syscalls("deny_compat")) || isTrue(syscalls("blacklist_compat"))) seccomp = "lxd-default+compat";
  const apparmor = !host.apparmor ? "unavailable-on-host" : weakened.some((f) => f.class === "apparmor") ? "custom" : "lxd-default";
  const from = (f: Finding) => (f.source ? ` (set by ${f.source === "instance" ? "the instance" : f.source})` : "");
  const warnings = weakened.map((f) =>
    canOptOut(f.class) && optOuts.includes(f.class)
      ? `${f.key} weakens confinement (${f.class}, opted out): ${f.reason}${from(f)}`
      : `${f.key} weakens confinement (${f.class}, not opted out here: it comes from a profile or was set outside this program): ${f.reason}${from(f)}`);
  if (!host.apparmor) warnings.push("the LXD host has no AppArmor: the instance runs without mandatory access control");
  return {
    privileged: isTrue(config["security.privileged"]),
    idmapIsolated: isTrue(config["security.idmap.isolated"]),
    // LXD gives an isolated map 65536 ids when no size is set; a shared map is the host-wide one.
    idmapSize: Number(config["security.idmap.size"] ?? 0) || (isTrue(config["security.idmap.isolated"]) ? IDMAP_BLOCK : 0),
    seccomp,
    apparmor,
    // LXD exposes /dev/lxd unless the key is set to something other than a true spelling (shared.IsTrueOrEmpty);
    // Incus the same for /dev/incus with security.guestapi.
    devLxd: ((v) => !v || isTrue(v))(config["security.devlxd"] || config["security.guestapi"]),
    nesting: isTrue(config["security.nesting"]),
    weakened,
    warnings,
  };
}
