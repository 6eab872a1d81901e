/**
 * LXD's "server settings for a production setup": kernel limits for hosts running many instances.
 * Opt-in; written to `/etc/sysctl.d/<stem>.conf` (applied at once with `sysctl -p`) and
 * `/etc/security/limits.d/<stem>.conf` (read by pam_limits at the next login).
 * Values are the ones LXD's documentation suggests (reference/server_settings).
 */
import { commentSafe } from "./kernel-cmdline";

/** sysctl key → suggested value, in the documentation's order. */
export const LXD_PRODUCTION_SYSCTLS: ReadonlyArray<readonly [string, string]> = [
  ["fs.aio-max-nr", "524288"],
  ["fs.inotify.max_queued_events", "1048576"],
  ["fs.inotify.max_user_instances", "1048576"],
  ["fs.inotify.max_user_watches", "1048576"],
  ["kernel.dmesg_restrict", "1"],
  ["kernel.keys.maxbytes", "2000000"],
  ["kernel.keys.maxkeys", "2000"],
  ["net.core.bpf_jit_limit", "1000000000"],
  ["net.ipv4.neigh.default.gc_thresh3", "8192"],
  ["net.ipv6.neigh.default.gc_thresh3", "8192"],
  ["vm.max_map_count", "262144"],
];

/** limits.conf rows: domain, type, item, value. */
export const LXD_PRODUCTION_LIMITS: ReadonlyArray<readonly [string, "soft" | "hard", string, string]> = [
  ["*", "soft", "nofile", "1048576"],
  ["*", "hard", "nofile", "1048576"],
  ["root", "soft", "nofile", "1048576"],
  ["root", "hard", "nofile", "1048576"],
  ["*", "soft", "memlock", "unlimited"],
  ["*", "hard", "memlock", "unlimited"],
  ["root", "soft", "memlock", "unlimited"],
  ["root", "hard", "memlock", "unlimited"],
];

const SYSCTL_KEY = /^[a-z0-9_]+(?:[./][a-z0-9_-]+)+$/;
const SYSCTL_VALUE = /^[0-9A-Za-z_. -]{1,64}$/;

/** Render the sysctl.d file. `overrides` replace or add keys (validated: dotted key, simple value). */
export function renderLxdSysctl(owner: string, overrides: Readonly<Record<string, string>> = {}): string {
  const merged = new Map<string, string>(LXD_PRODUCTION_SYSCTLS.map(([k, v]) => [k, v]));
  for (const [k, v] of Object.entries(overrides)) {
    if (!SYSCTL_KEY.test(k)) throw new Error(`sysctl key must be dotted lower-case words, but ${JSON.stringify(k)} was provided`);
    if (!SYSCTL_VALUE.test(v)) throw new Error(`sysctl value for ${k} must be a short plain value, but ${JSON.stringify(v)} was provided`);
    merged.set(k, v);
  }
  return [
    `# Managed by pulumi-lxd-hardened (${commentSafe(owner)}): LXD production server settings.`,
    ...[...merged].map(([k, v]) => `${k} = ${v}`),
    "",
  ].join("\n");
}

/** Render the limits.d file (pam_limits: applies to new sessions). */
export function renderLxdLimits(owner: string): string {
  return [
    `# Managed by pulumi-lxd-hardened (${commentSafe(owner)}): LXD production server settings.`,
    ...LXD_PRODUCTION_LIMITS.map(([d, t, i, v]) => `${d.padEnd(6)} ${t} ${i.padEnd(8)} ${v}`),
    "",
  ].join("\n");
}
