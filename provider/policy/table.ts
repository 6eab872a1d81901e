/**
 * The hardening policy as one table, read top to bottom: what is matched (a config key or pattern, a device,
 * a `raw.lxc` line), the class of the finding, why it weakens confinement, and the predicate on the value.
 * Each row carries a refused example and an opted-out example (accepted when its class is in
 * `securityOptOuts`, and then reported as weakened); tests/unit/policy-table.test.ts runs every one.
 *
 * How rows apply (./judge.ts):
 * - config rows: every row whose keys match judges the value (a value can be a finding of two rows, e.g. a
 *   line break in `security.privileged`). Rows with `hardened` name a key that `hardenedConfig` sets: an empty
 *   value there is a finding of the row's class whatever the predicate says (it unsets the hardened default,
 *   so a profile or LXD's default decides). `askedBy` names the input (`nesting`, `devLxd`) that sets the key
 *   itself: when the caller says that input asked for it, an LXD spelling of true is not a finding.
 * - `raw.lxc` rows: the value of `raw.lxc` is judged line by line; blank lines, comments and the keys of
 *   `HARMLESS_LXC_KEYS` pass; every other line is a finding of the FIRST row that matches it.
 * - device rows: every row judges every device.
 * - `server config` rows (ServerSettings, ./server.ts `judgeServerConfig`): every row judges the server keys it
 *   names; their classes (`wildcard-bind`, `trust-password`) are opted out of in `ServerSettings.securityOptOuts`.
 * - `trust` rows (TrustCertificate, TrustToken, ./server.ts `judgeTrust`): judge the entry's `restricted` input;
 *   class `unrestricted`, opted out of in their `securityOptOuts`.
 * - config, `raw.lxc` and device rows judge instances and profiles (and a StorageVolume's config, an
 *   InstanceDevice's or PciDevice's device); server config and trust rows never judge those, nor the reverse.
 * - preview unknowns (whole maps, devices or single values) are never judged.
 */
import * as path from "node:path";
import type { ConfigMap, DeviceMap } from "../lxd";
import { LISTENER_KEYS, bindKind } from "./address";
import { canOptOut, type FindingClass } from "./classes";
import type { ServerOptOut, TrustOptOut } from "./server";
import { GUEST_API_KEYS } from "../rules/server-keys";
import { hasLineBreak, isFalse, isTrue } from "./values";

/**
 * A row's example subject: for config, `raw.lxc` and device rows an input for `assess` (a config and/or devices of
 * an instance or profile); for `server config` rows a ServerSettings `config`; for `trust` rows the inputs of a
 * TrustCertificate or TrustToken.
 */
export interface PolicyExample {
  config?: ConfigMap;
  devices?: DeviceMap;
  /** `server config` rows: the server config (`ServerSettings.config`). */
  server?: ConfigMap;
  /** `trust` rows: the trust store entry's inputs. */
  trust?: { restricted: boolean };
}

/** Every class a row can have: the instance policy's, and the server and trust classes (./server.ts). */
export type PolicyClass = FindingClass | ServerOptOut | TrustOptOut;

interface RowBase<C extends PolicyClass = FindingClass> {
  class: C;
  /** Why it weakens confinement (the finding's reason). */
  reason: string;
  /**
   * `refused`: found by this row, refused without opt-outs. `optedOut`: found by this row, accepted when the
   * row's class is in `securityOptOuts` (or `"cannot be opted out"` for a class of `REFUSED_CLASSES`).
   */
  examples: { refused: PolicyExample; optedOut: PolicyExample | "cannot be opted out" };
}

/** A row on config keys. */
export interface ConfigRow extends RowBase {
  on: "config";
  /** Exact keys, `prefix.*` patterns, or `*` (every key). */
  keys: string[];
  /** Patterns (same syntax) of keys the row leaves alone. */
  except?: string[];
  /** The predicate in words (for the doc). */
  when: string;
  /** True when `value` weakens confinement (never called with "" on a `hardened` row, nor with a preview unknown). */
  weakens: (value: string, key: string) => boolean;
  /** The value `hardenedConfig` sets (in words when it depends on the inputs); "" is then a finding. */
  hardened?: string;
  /** The input that sets this key itself; with it, an LXD spelling of true is not a finding. */
  askedBy?: "nesting" | "devLxd";
}

/** A row on one line of `raw.lxc`. */
export interface RawLxcRow extends RowBase {
  on: "raw.lxc";
  /** The lxc keys it matches, as text: `lxc.apparmor.*` (prefix `lxc.apparmor.`), `lxc.idmap*` (prefix `lxc.idmap`). */
  lxcKey: string;
  /** True when this row judges the line (its `lxc.` key, or undefined when the line is not `lxc.key = value`). */
  matches: (lxcKey: string | undefined) => boolean;
}

/** A row on devices. */
export interface DeviceRow extends RowBase {
  on: "device";
  /** Which devices and properties, in words. */
  match: string;
  /** The finding's reason for this device, or undefined when the row does not find it. */
  weakens: (name: string, props: Record<string, string>) => string | undefined;
  /**
   * The device property a finding of this row is about (`Finding.property`): a name, or a function of the
   * device's properties (undefined: the device as a whole, e.g. its name).
   */
  property: string | ((props: Record<string, string>) => string | undefined);
}

/** A row on a server config key (ServerSettings). */
export interface ServerConfigRow extends RowBase<ServerOptOut> {
  on: "server config";
  /** Exact server config keys. */
  keys: string[];
  /** The predicate in words (for the doc). */
  when: string;
  /** True when `value` weakens the server (never called with "" nor a preview unknown). */
  weakens: (value: string, key: string) => boolean;
}

/** A row on an input of a trust store entry (TrustCertificate, TrustToken). */
export interface TrustRow extends RowBase<TrustOptOut> {
  on: "trust";
  /** The input judged. */
  input: "restricted";
  /** The predicate in words (for the doc). */
  when: string;
  /** True when the input's value weakens the server (a preview unknown never does). */
  weakens: (value: boolean | string) => boolean;
}

export type PolicyRow = ConfigRow | RawLxcRow | DeviceRow | ServerConfigRow | TrustRow;

/**
 * Config keys the `injection` row leaves alone: values multi-line by design (`raw.*`, `cloud-init.*`, `user.*`),
 * and `image.*` (copied by LXD from the image's properties, kept in its database, never written to the LXC config).
 */
export const MULTI_LINE_KEYS = ["raw.*", "cloud-init.*", "user.*", "image.*"];

/**
 * Host paths a disk device must not bring into an instance, whether its source is one of them, is under one,
 * or contains one (a disk of `/var` brings `/var/lib/lxd`). Symlinks on the host cannot be resolved from here.
 */
export const PROTECTED_HOST_PATHS = [
  "/", "/boot", "/etc", "/root", "/proc", "/sys", "/dev", "/run", "/var/run",
  "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
  "/var/lib/lxd", "/var/snap/lxd", "/var/log/lxd", "/var/lib/incus", "/var/log/incus", "/var/cache/incus", "/var/lib/lxcfs", "/var/lib/docker", "/var/run/docker.sock", "/run/docker.sock",
];

/**
 * Bounds on the kernel resource limits a container may raise (`limits.kernel.<name>`, passed by LXD to
 * `lxc.prlimit.<name>`): `unlimited`, a negative number (-1 is the usual spelling of unlimited), a value that is not a number,
 * or a number above the bound (either half of `soft:hard`) is a finding of class `kernel`. Limits not listed
 * here (as, core, cpu, data, fsize, locks, rss, rttime, sigpending, stack) are unlimited or RAM-sized by the
 * kernel's own default, so raising them lifts nothing.
 */
export const KERNEL_LIMIT_BOUNDS: Record<string, { max: number; why: string }> = {
  memlock: { max: 64 * 1024 * 1024, why: "locked memory above 64 MiB (67108864 bytes) pins host memory that cannot be reclaimed or swapped" },
  nofile: { max: 1048576, why: "open files above 1048576 (the kernel's default fs.nr_open) let the container exhaust the host's file table" },
  nproc: { max: 65536, why: "processes above 65536 per user (counted by the host kernel per real uid) let the container exhaust the host's process table" },
  msgqueue: { max: 8 * 1024 * 1024, why: "POSIX message queues above 8 MiB (8388608 bytes) are unaccounted host kernel memory" },
  rtprio: { max: 0, why: "a real-time priority above 0 lets the container's threads starve the host's CPUs" },
  nice: { max: 20, why: "a nice ceiling above 20 lets the container raise its priority above the host's default processes" },
};

/** True when a `limits.kernel.<name>` value lifts the bound `max`. */
function liftsKernelLimit(value: string, max: number): boolean {
  return value.split(":").some((part) => {
    const v = part.trim();
    if (v === "unlimited" || !/^-?\d+$/.test(v)) return true;
    const n = Number(v);
    return n < 0 || n > max;
  });
}

/** The reason of a finding for "" on a `hardened` row. */
export function emptyValueReason(row: ConfigRow): string {
  return `an empty value unsets the key and with it the hardened default (${row.hardened}), so a profile or LXD's default decides; ${row.reason}`;
}

const nonEmpty = (v: string) => v.trim() !== "";

/**
 * Sysctls that belong to the container's own network and IPC namespaces, which LXD gives every container, privileged
 * or not (`linux.sysctl.<key>`, API extension `linux_sysctl`): the network namespace's IPv4, IPv6, netfilter and
 * unix keys and `net.core.somaxconn`, and the IPC namespace's `kernel.msgmax`, `kernel.msgmnb`, `kernel.msgmni`,
 * `kernel.sem`, `kernel.shmall`, `kernel.shmmax`, `kernel.shmmni`, `kernel.shm_rmid_forced` and `fs.mqueue.*`. Each
 * was set on an unprivileged container of LXD 5.0.2 here and read back inside; `prefix.*` is a prefix. The user
 * namespace's `user.*` limits are not among them: a privileged container has no user namespace of its own, so
 * they would be set for the host.
 */
export const NAMESPACED_SYSCTLS = [
  "net.ipv4.*", "net.ipv6.*", "net.netfilter.*", "net.unix.*", "net.core.somaxconn",
  "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
  "fs.mqueue.*",
] as const;
const notFalse = (v: string) => !isFalse(v);
const notTrue = (v: string) => !isTrue(v);
const setAndNotFalse = (v: string) => v !== "" && !isFalse(v);
const never = () => false;
const cfg = (config: ConfigMap): PolicyExample => ({ config });
const dev = (props: Record<string, string>): PolicyExample => ({ devices: { d0: props } });
const lxc = (line: string): PolicyExample => ({ config: { "raw.lxc": `lxc.init.cmd = /sbin/init\n${line}` } });

/** A `raw.lxc` row matching keys that start with `prefix`. */
function lxcPrefix(prefix: string, cls: FindingClass, reason: string, refused: string, optedOut: string): RawLxcRow {
  return {
    on: "raw.lxc", lxcKey: `${prefix}*`, class: cls, reason,
    matches: (k) => k !== undefined && k.startsWith(prefix),
    examples: { refused: lxc(refused), optedOut: lxc(optedOut) },
  };
}

/** A device row for a device type that passes host hardware or device nodes. */
function deviceType(type: string, what: string, refused: Record<string, string>, optedOut: Record<string, string>): DeviceRow {
  return {
    on: "device", match: `type=${type}`, class: "devices", reason: `a ${type} device ${what}`, property: "type",
    weakens: (_n, d) => (d.type === type ? `a ${type} device ${what}` : undefined),
    examples: { refused: dev({ type, ...refused }), optedOut: dev({ type, ...optedOut }) },
  };
}

/** A row on `limits.kernel.<name>`. */
function kernelLimit(name: string): ConfigRow {
  const { max, why } = KERNEL_LIMIT_BOUNDS[name];
  const key = `limits.kernel.${name}`;
  return {
    on: "config", keys: [key], class: "kernel", reason: why,
    when: `unlimited, negative, not a number, or above ${max} (either half of soft:hard)`,
    weakens: (v) => v !== "" && liftsKernelLimit(v, max),
    examples: { refused: cfg({ [key]: "unlimited" }), optedOut: cfg({ [key]: `${max}:${max + 1}` }) },
  };
}

/** Whether a disk source (absolute host path) is, is under, or contains a protected host path; which one. */
export function protectedPathOf(source: string): string | undefined {
  // "/tmp/../etc", "//etc" and "/etc/" are /etc.
  const src = path.posix.normalize(source).replace(/\/+$/, "") || "/";
  return PROTECTED_HOST_PATHS.find((p) => src === p || (p !== "/" && src.startsWith(`${p}/`)) || (src !== "/" && p.startsWith(`${src}/`)));
}

/** The spoofing filters of a bridged nic (LXD's nic device options); the defaults set them to true (./nic.ts). */
export const NIC_FILTER_KEYS = ["security.mac_filtering", "security.ipv4_filtering", "security.ipv6_filtering"] as const;

/** True for a nic device LXD connects to a bridge: nictype bridged, or no nictype and a `network` (a managed bridge's, or another type's: LXD then refuses the filter keys itself). */
export function isBridgedNic(d: Record<string, string>): boolean {
  return d.type === "nic" && (d.nictype === "bridged" || (d.nictype === undefined && typeof d.network === "string" && d.network !== ""));
}

/** The policy, top to bottom. */
export const POLICY: readonly PolicyRow[] = [
  // ── Any config value ──────────────────────────────────────────────────────────────────────────────
  {
    on: "config", keys: ["*"], except: MULTI_LINE_KEYS, class: "injection",
    when: "contains a line break (\\n or \\r)", weakens: hasLineBreak,
    reason: "a line break in a value LXD writes into the container's LXC config starts a new line that nobody judged (only raw.*, cloud-init.* and user.* values are multi-line by design; image.* values stay in LXD's database)",
    examples: { refused: cfg({ "environment.GREETING": "hi\nlxc.apparmor.profile = unconfined" }), optedOut: "cannot be opted out" },
  },
  {
    on: "config", keys: ["volatile.*"], class: "injection",
    when: "set at all (any value)", weakens: () => true,
    reason: "volatile.* is LXD's runtime state, not configuration: a written volatile.idmap.next, for one, is the id map LXD applies at the next start (host root included), behind every other key's back",
    examples: { refused: cfg({ "volatile.idmap.next": '[{"Isuid":true,"Isgid":false,"Hostid":0,"Nsid":0,"Maprange":65536}]' }), optedOut: "cannot be opted out" },
  },
  // ── security.* keys the hardened config sets (fail closed: anything but LXD's spelling of the hardened value) ──
  {
    on: "config", keys: ["security.privileged"], hardened: "false", class: "privileged",
    when: "not an LXD spelling of false (false, 0, no, off in any case)", weakens: notFalse,
    reason: "a privileged container's root is the host's root",
    examples: { refused: cfg({ "security.privileged": "true" }), optedOut: cfg({ "security.privileged": " false" }) },
  },
  {
    on: "config", keys: ["security.idmap.isolated"], hardened: "true", class: "idmap",
    when: "not an LXD spelling of true (true, 1, yes, on in any case)", weakens: notTrue,
    reason: "without an isolated idmap, containers share one id range (LXD's default): an escape from one reaches the others' files",
    examples: { refused: cfg({ "security.idmap.isolated": "false" }), optedOut: cfg({ "security.idmap.isolated": "" }) },
  },
  {
    on: "config", keys: ["security.idmap.size"], hardened: "the size idmapSizeFor(nesting) gives, with the nesting input", class: "idmap",
    when: "empty", weakens: never,
    reason: "the isolated idmap is sized for what runs nested",
    examples: { refused: cfg({ "security.idmap.size": "" }), optedOut: cfg({ "security.idmap.size": "" }) },
  },
  {
    on: "config", keys: ["security.syscalls.deny_default"], hardened: "true", class: "seccomp",
    when: "not an LXD spelling of true", weakens: notTrue,
    reason: "anything but true removes LXD's seccomp policy entirely (Seccomp: 0 inside)",
    examples: { refused: cfg({ "security.syscalls.deny_default": "false" }), optedOut: cfg({ "security.syscalls.deny_default": "nope" }) },
  },
  {
    on: "config", keys: ["security.syscalls.deny_compat"], hardened: "true", class: "seccomp",
    when: "not an LXD spelling of true", weakens: notTrue,
    reason: "anything but true re-opens the 32-bit compat syscall entry points (LXD's default leaves them open)",
    examples: { refused: cfg({ "security.syscalls.deny_compat": "0" }), optedOut: cfg({ "security.syscalls.deny_compat": "TRUE " }) },
  },
  {
    on: "config", keys: ["security.nesting"], hardened: "false (true with the nesting input)", askedBy: "nesting", class: "nesting",
    when: "not an LXD spelling of false (a true spelling passes when the nesting input asked for it)", weakens: notFalse,
    reason: "nesting relaxes /proc and /sys protections; use the nesting input, which also sizes the idmap",
    examples: { refused: cfg({ "security.nesting": "true" }), optedOut: cfg({ "security.nesting": "On" }) },
  },
  {
    on: "config", keys: [...GUEST_API_KEYS], hardened: "false (true with the guestApi input, alias devLxd; security.devlxd on LXD, security.guestapi on Incus)", askedBy: "devLxd", class: "devlxd",
    when: "not an LXD spelling of false (a true spelling passes when the guestApi/devLxd input asked for it)", weakens: notFalse,
    reason: "the guest API (/dev/lxd on LXD, /dev/incus on Incus) lets the container query the server about itself (on by default); to expose it, use the guestApi: true input instead of setting the key",
    examples: { refused: cfg({ "security.devlxd": "true" }), optedOut: cfg({ "security.devlxd": "yes" }) },
  },
  {
    on: "config", keys: ["security.syscalls.intercept.mknod", "security.syscalls.intercept.setxattr"], hardened: "true with nesting for docker, else unset", class: "seccomp",
    when: "empty", weakens: never,
    reason: "LXD's interception lets Docker create only safe device nodes and set only safe xattrs",
    examples: { refused: cfg({ "security.syscalls.intercept.mknod": "" }), optedOut: cfg({ "security.syscalls.intercept.setxattr": "" }) },
  },
  // ── Other security.* keys ─────────────────────────────────────────────────────────────────────────
  {
    on: "config", keys: ["security.syscalls.blacklist_default", "security.syscalls.blacklist_compat"], class: "seccomp",
    when: "set and not an LXD spelling of true", weakens: (v) => v !== "" && !isTrue(v),
    reason: "the old names of deny_default / deny_compat: anything but true loosens LXD's seccomp policy",
    examples: { refused: cfg({ "security.syscalls.blacklist_default": "false" }), optedOut: cfg({ "security.syscalls.blacklist_compat": "off" }) },
  },
  {
    on: "config", keys: ["security.idmap.base"], class: "idmap",
    when: "set", weakens: nonEmpty,
    reason: "a fixed idmap base can overlap other containers' or the host's ids",
    examples: { refused: cfg({ "security.idmap.base": "0" }), optedOut: cfg({ "security.idmap.base": "1000000" }) },
  },
  {
    on: "config", keys: ["security.shifted", "security.unmapped"], class: "idmap",
    when: "set and not an LXD spelling of false (custom storage volume config: StorageVolume)", weakens: setAndNotFalse,
    reason: "on a custom volume, security.shifted has every instance that mounts it see its files through an id shift (instances with different id maps then share files as their real owners), and security.unmapped leaves its files owned by unmapped host ids",
    examples: { refused: cfg({ "security.shifted": "true" }), optedOut: cfg({ "security.unmapped": "true" }) },
  },
  {
    on: "config", keys: ["security.syscalls.allow", "security.syscalls.whitelist"], class: "seccomp",
    when: "set", weakens: nonEmpty,
    reason: "an allow list replaces LXD's default deny policy",
    examples: { refused: cfg({ "security.syscalls.allow": "mount" }), optedOut: cfg({ "security.syscalls.whitelist": "keyctl" }) },
  },
  {
    on: "config", keys: ["security.syscalls.intercept.mount", "security.syscalls.intercept.bpf"], class: "seccomp",
    when: "set and not an LXD spelling of false", weakens: setAndNotFalse,
    reason: "mount or bpf interception has LXD mount filesystems or load device programs on the container's behalf",
    examples: { refused: cfg({ "security.syscalls.intercept.mount": "true" }), optedOut: cfg({ "security.syscalls.intercept.bpf": "1" }) },
  },
  {
    on: "config", keys: ["security.syscalls.intercept.mount.allowed", "security.syscalls.intercept.mount.shift", "security.syscalls.intercept.mount.fuse", "security.syscalls.intercept.bpf.devices"], class: "seccomp",
    when: "set and not an LXD spelling of false", weakens: setAndNotFalse,
    reason: "this lets LXD perform privileged operations on the container's behalf",
    examples: { refused: cfg({ "security.syscalls.intercept.mount.allowed": "ext4" }), optedOut: cfg({ "security.syscalls.intercept.bpf.devices": "true" }) },
  },
  // ── The host kernel ───────────────────────────────────────────────────────────────────────────────
  {
    on: "config", keys: ["linux.kernel_modules"], class: "kernel",
    when: "set", weakens: nonEmpty,
    reason: "LXD loads these modules into the host kernel before the container starts: more host kernel code the container can reach",
    examples: { refused: cfg({ "linux.kernel_modules": "ip_tables" }), optedOut: cfg({ "linux.kernel_modules": "overlay,br_netfilter" }) },
  },
  ...Object.keys(KERNEL_LIMIT_BOUNDS).map(kernelLimit),
  {
    on: "config", keys: ["linux.sysctl.*"], except: NAMESPACED_SYSCTLS.map((k) => `linux.sysctl.${k}`), class: "kernel",
    when: `set, for a sysctl outside the container's own namespaces (allowed: ${NAMESPACED_SYSCTLS.join(", ")})`, weakens: nonEmpty,
    // Measured on LXD 5.0.2: an unprivileged container with kernel.domainname, net.core.bpf_jit_harden or
    // vm.overcommit_memory fails to start; user.* belongs to a user namespace, which a privileged container lacks.
    reason: "the sysctl is not one of the container's own network or IPC namespaces: a privileged container would set it for the whole host (an unprivileged one fails to start)",
    examples: { refused: cfg({ "linux.sysctl.vm.overcommit_memory": "1" }), optedOut: cfg({ "linux.sysctl.net.core.bpf_jit_harden": "0" }) },
  },
  // ── raw.* keys (raw.lxc: see the raw.lxc rows below) ─────────────────────────────────────────────
  {
    on: "config", keys: ["raw.idmap"], class: "idmap",
    when: "set", weakens: nonEmpty,
    reason: "raw.idmap maps host ids straight into the container",
    examples: { refused: cfg({ "raw.idmap": "both 1000 1000" }), optedOut: cfg({ "raw.idmap": "uid 1000 0" }) },
  },
  {
    on: "config", keys: ["raw.seccomp"], class: "seccomp",
    when: "set", weakens: nonEmpty,
    reason: "raw.seccomp installs a hand-written syscall policy",
    examples: { refused: cfg({ "raw.seccomp": "2\nallowlist\n" }), optedOut: cfg({ "raw.seccomp": "2\ndenylist\nreject_force_umount\n" }) },
  },
  {
    on: "config", keys: ["raw.apparmor"], class: "apparmor",
    when: "set", weakens: nonEmpty,
    reason: "raw.apparmor changes the AppArmor profile (and is silently ignored on hosts without AppArmor)",
    examples: { refused: cfg({ "raw.apparmor": "mount," }), optedOut: cfg({ "raw.apparmor": "capability sys_admin,\nmount," }) },
  },
  {
    on: "config", keys: ["raw.qemu", "raw.qemu.conf"], class: "raw",
    when: "set", weakens: nonEmpty,
    reason: "passes arbitrary options to QEMU",
    examples: { refused: cfg({ "raw.qemu": "-device foo" }), optedOut: cfg({ "raw.qemu.conf": "[device \"x\"]\ndriver = \"y\"" }) },
  },
  // ── raw.lxc, line by line (first matching row) ───────────────────────────────────────────────────
  lxcPrefix("lxc.apparmor.", "apparmor", "changes or switches off the AppArmor confinement", "lxc.apparmor.profile = unconfined", "lxc.apparmor.allow_nesting = 1"),
  lxcPrefix("lxc.selinux.", "apparmor", "changes the SELinux confinement", "lxc.selinux.context = unconfined_t", "lxc.selinux.context.keyring = x"),
  lxcPrefix("lxc.seccomp.", "seccomp", "replaces the seccomp policy", "lxc.seccomp.profile = /tmp/p", "lxc.seccomp.allow_nesting = 1"),
  lxcPrefix("lxc.cap.", "capabilities", "changes the capability set", "lxc.cap.drop =", "lxc.cap.keep = sys_admin"),
  lxcPrefix("lxc.idmap", "idmap", "replaces the id map", "lxc.idmap = u 0 0 65536", "lxc.idmap = g 0 0 65536"),
  lxcPrefix("lxc.id_map", "idmap", "replaces the id map (old name)", "lxc.id_map = u 0 0 65536", "lxc.id_map = g 0 0 1"),
  lxcPrefix("lxc.cgroup.devices.", "devices", "opens host devices through the device cgroup", "lxc.cgroup.devices.allow = a", "lxc.cgroup.devices.allow = c 10:200 rwm"),
  lxcPrefix("lxc.cgroup2.devices.", "devices", "opens host devices through the device cgroup", "lxc.cgroup2.devices.allow = a", "lxc.cgroup2.devices.allow = b 8:0 rwm"),
  lxcPrefix("lxc.hook.", "raw", "runs a program on the host as root", "lxc.hook.pre-start = /bin/sh -c id", "lxc.hook.start-host = /usr/bin/true"),
  lxcPrefix("lxc.console.logfile", "raw", "has the host write a file of the container's choosing as root", "lxc.console.logfile = /etc/cron.d/x", "lxc.console.logfile = /tmp/console.log"),
  lxcPrefix("lxc.console.path", "raw", "attaches a host device as the console", "lxc.console.path = /dev/tty1", "lxc.console.path = none"),
  lxcPrefix("lxc.log.file", "raw", "has the host write a file as root", "lxc.log.file = /tmp/x", "lxc.log.file = /var/log/c.log"),
  lxcPrefix("lxc.include", "raw", "includes a file whose content cannot be judged", "lxc.include = /etc/lxc/x.conf", "lxc.include = /usr/share/lxc/config/common.conf"),
  lxcPrefix("lxc.mount", "raw", "mounts host paths or kernel filesystems", "lxc.mount.entry = /dev/dri dev/dri none bind", "lxc.mount.auto = proc:rw"),
  lxcPrefix("lxc.namespace.", "raw", "shares or keeps host namespaces", "lxc.namespace.share.net = 1", "lxc.namespace.keep = user"),
  lxcPrefix("lxc.rootfs.", "raw", "changes the root filesystem set-up", "lxc.rootfs.path = dir:/", "lxc.rootfs.options = idmap=container"),
  lxcPrefix("lxc.cgroup", "raw", "changes cgroup settings outside LXD's limits", "lxc.cgroup2.memory.max = max", "lxc.cgroup.relative = 1"),
  lxcPrefix("lxc.proc.", "raw", "writes /proc settings of the container's init", "lxc.proc.oom_score_adj = -1000", "lxc.proc.oom_score_adj = 10"),
  {
    on: "raw.lxc", lxcKey: "lxc.* (any other key)", class: "raw",
    reason: "is not known to leave confinement unchanged",
    matches: (k) => k !== undefined,
    examples: { refused: lxc("lxc.prlimit.nofile = 1024"), optedOut: lxc("lxc.net.0.type = phys") },
  },
  {
    on: "raw.lxc", lxcKey: "(not an lxc.key = value line)", class: "raw",
    reason: "is not a raw.lxc \"lxc.key = value\" line",
    matches: (k) => k === undefined,
    examples: { refused: lxc("not a line"), optedOut: lxc("net.0.type = phys") },
  },
  // ── Devices ───────────────────────────────────────────────────────────────────────────────────────
  {
    on: "device", match: "any device: a line break in its name or in any property value", class: "injection",
    reason: "a line break in a device property LXD writes into the container's LXC config starts a new line that nobody judged",
    weakens: (name, d) => {
      if (hasLineBreak(name)) return "the device name contains a line break, which LXD would write into the container's LXC config";
      const prop = Object.keys(d).find((k) => typeof d[k] === "string" && hasLineBreak(d[k]));
      return prop === undefined ? undefined : `property ${prop} contains a line break, which LXD would write into the container's LXC config as a new line that nobody judged`;
    },
    property: (d) => Object.keys(d).find((k) => typeof d[k] === "string" && hasLineBreak(d[k])),
    examples: { refused: dev({ type: "disk", source: "/srv/data", path: "/data\nlxc.apparmor.profile = unconfined" }), optedOut: "cannot be opted out" },
  },
  deviceType("unix-char", "passes a host character device", { source: "/dev/kvm" }, { major: "10", minor: "200", path: "/dev/net/tun" }),
  deviceType("unix-block", "passes a host block device", { source: "/dev/sda" }, { source: "/dev/loop0" }),
  deviceType("unix-hotplug", "passes host devices as they appear", { vendorid: "1234" }, { productid: "5678" }),
  deviceType("usb", "passes a host USB device", { vendorid: "0781" }, { vendorid: "0781", productid: "5567" }),
  deviceType("gpu", "passes a host GPU", {}, { pci: "0000:01:00.0" }),
  deviceType("pci", "passes a host PCI device", { address: "0000:01:00.0" }, { address: "0000:02:00.0" }),
  deviceType("infiniband", "passes a host InfiniBand device", { nictype: "physical", parent: "ib0" }, { nictype: "sriov", parent: "ib0" }),
  deviceType("tpm", "passes a TPM", { path: "/dev/tpm0" }, { path: "/dev/tpm1" }),
  {
    on: "device", match: "type=nic with nictype=physical or nictype=sriov", class: "devices",
    reason: "a physical or sriov nic hands a host network device to the instance", property: "nictype",
    weakens: (_n, d) => (d.type === "nic" && (d.nictype === "physical" || d.nictype === "sriov") ? `a ${d.nictype} nic hands a host network device to the instance` : undefined),
    examples: { refused: dev({ type: "nic", nictype: "physical", parent: "eth1" }), optedOut: dev({ type: "nic", nictype: "sriov", parent: "eth2" }) },
  },
  {
    on: "device", match: `type=nic with nictype=bridged (or no nictype and a network) and ${NIC_FILTER_KEYS.join(", ")} set to anything but an LXD spelling of true (empty included)`, class: "network",
    reason: "a bridged nic without its spoofing filters lets the instance send from other MAC or IP addresses than its own on the bridge (impersonating the host or other instances); the defaults fill them in",
    weakens: (_n, d) => {
      if (!isBridgedNic(d)) return undefined;
      const off = NIC_FILTER_KEYS.filter((k) => typeof d[k] === "string" && !isTrue(d[k]));
      return off.length ? `${off.map((k) => `${k}=${JSON.stringify(d[k])}`).join(", ")} switches off the spoofing filter of a bridged nic: the instance can send from other MAC or IP addresses than its own on the bridge` : undefined;
    },
    property: (d) => NIC_FILTER_KEYS.find((k) => typeof d[k] === "string" && !isTrue(d[k])),
    examples: { refused: dev({ type: "nic", network: "br0", "security.mac_filtering": "false" }), optedOut: dev({ type: "nic", nictype: "bridged", parent: "br0", "security.ipv4_filtering": "off" }) },
  },
  {
    on: "device", match: "type=proxy with bind set to anything but host (LXD 5.0 takes instance, container and guest alike)", class: "devices",
    reason: "a proxy bound in the instance lets the instance connect to host-side sockets", property: "bind",
    weakens: (_n, d) => (d.type === "proxy" && typeof d.bind === "string" && d.bind.trim() !== "" && d.bind.trim().toLowerCase() !== "host"
      ? `a proxy with bind=${d.bind} listens in the instance and connects on the host: the instance reaches host-side sockets` : undefined),
    examples: { refused: dev({ type: "proxy", bind: "container", listen: "unix:/s", connect: "unix:/run/x" }), optedOut: dev({ type: "proxy", bind: "instance", listen: "tcp:127.0.0.1:80", connect: "tcp:127.0.0.1:8080" }) },
  },
  {
    on: "device", match: "type=disk with a host source (a leading /) and no path", class: "devices",
    reason: "a host directory without a path is mounted over the instance's root filesystem", property: "path",
    weakens: (_n, d) => (d.type === "disk" && typeof d.source === "string" && d.source.startsWith("/") && (typeof d.path !== "string" || d.path.trim() === "")
      ? `disk source ${d.source} has no path: LXD mounts it over the instance's root filesystem (give path, e.g. /mnt/data)` : undefined),
    examples: { refused: dev({ type: "disk", source: "/srv" }), optedOut: dev({ type: "disk", source: "/srv/data" }) },
  },
  {
    on: "device", match: `type=disk whose host source (a leading /) is, is under or contains one of ${PROTECTED_HOST_PATHS.join(" ")}`, class: "devices",
    reason: "the disk exposes host internals", property: "source",
    weakens: (_n, d) => {
      if (d.type !== "disk" || typeof d.source !== "string" || !d.source.startsWith("/")) return undefined;
      const hit = protectedPathOf(d.source);
      return hit === undefined ? undefined : `disk source ${d.source} exposes host internals (${hit})`;
    },
    examples: { refused: dev({ type: "disk", source: "/var", path: "/mnt" }), optedOut: dev({ type: "disk", source: "/etc/ssl/certs", path: "/certs", readonly: "true" }) },
  },
  {
    on: "device", match: "type=disk with shift set and not an LXD spelling of false (host paths and pool volumes alike)", class: "idmap",
    reason: "shift=true lets container root write the disk's files as their real owners", property: "shift",
    weakens: (_n, d) => (d.type === "disk" && typeof d.shift === "string" && setAndNotFalse(d.shift) ? "shift=true lets container root write the disk's files as their real owners" : undefined),
    examples: { refused: dev({ type: "disk", pool: "default", source: "shared-vol", path: "/shared", shift: "true" }), optedOut: dev({ type: "disk", source: "/srv/data", path: "/data", shift: "yes" }) },
  },
  {
    on: "device", match: "any device with raw.mount.options", class: "raw",
    reason: "raw.mount.options passes mount options unchecked", property: "raw.mount.options",
    weakens: (_n, d) => (typeof d["raw.mount.options"] === "string" && d["raw.mount.options"] !== "" ? "raw.mount.options passes mount options unchecked" : undefined),
    examples: { refused: dev({ type: "disk", source: "/srv/data", path: "/data", "raw.mount.options": "suid" }), optedOut: dev({ type: "disk", pool: "default", source: "v", path: "/v", "raw.mount.options": "noatime" }) },
  },  // ── The server's own config (ServerSettings) ──────────────────────────────────────────────────────
  {
    on: "server config", keys: [...LISTENER_KEYS], class: "wildcard-bind",
    when: "binds every address of the host: an empty host, *, 0.0.0.0 or an all-zero IPv6 address such as [::] (with or without a port)", weakens: (v) => bindKind(v) === "wildcard",
    reason: "it listens on every address of the host, so the LXD API is reachable on every interface, present and future; bind the one address your clients reach (127.0.0.1:8443 for local use only)",
    examples: { refused: { server: { "core.https_address": "[::]:8443" } }, optedOut: { server: { "core.metrics_address": "0.0.0.0:9100" } } },
  },
  {
    on: "server config", keys: ["core.trust_password"], class: "trust-password",
    when: "set (any value but empty)", weakens: (v) => v !== "",
    reason: "a shared password lets anyone who learns it get a certificate trusted with full control of the server; issue a TrustToken per client or add the client's certificate with TrustCertificate",
    examples: { refused: { server: { "core.trust_password": "s3cret" } }, optedOut: { server: { "core.trust_password": "correct horse battery staple" } } },
  },
  // ── The trust store (TrustCertificate, TrustToken) ────────────────────────────────────────────────
  {
    on: "trust", input: "restricted", class: "unrestricted",
    when: "false", weakens: (v) => v === false,
    reason: "an unrestricted certificate has full control of the server: every project, the server config, and root on the host through privileged instances; restrict it to the projects it needs",
    examples: { refused: { trust: { restricted: false } }, optedOut: { trust: { restricted: false } } },
  },
];

/** `raw.lxc` keys known to leave confinement as it is: `lxc.init.cmd` is that key, and its sub-keys; a key ending in `.` is a prefix. */
export const HARMLESS_LXC_KEYS = [
  "lxc.init.cmd", "lxc.init.cwd", "lxc.init.uid", "lxc.init.gid", "lxc.environment", "lxc.console.size",
  "lxc.console.buffer.size", "lxc.console.rotate", "lxc.log.level", "lxc.signal.", "lxc.start.", "lxc.uts.name",
  "lxc.tty.max", "lxc.pty.max", "lxc.ephemeral", "lxc.no_new_privs", "lxc.keyring.session", "lxc.autodev",
];

/** True when a `raw.lxc` key is in `HARMLESS_LXC_KEYS`. */
export function isHarmlessLxcKey(key: string): boolean {
  return HARMLESS_LXC_KEYS.some((p) => (p.endsWith(".") ? key.startsWith(p) || key === p.slice(0, -1) : key === p || key.startsWith(`${p}.`)));
}

/** The text that names a row (`Finding.rule`, `policyRows()[i].rule`). */
export function ruleOf(row: PolicyRow): string {
  if (row.on === "config") return `config ${row.keys.join(", ")}${row.except ? ` except ${row.except.join(", ")}` : ""}`;
  if (row.on === "raw.lxc") return `raw.lxc ${row.lxcKey}`;
  if (row.on === "server config") return `server config ${row.keys.join(", ")}`;
  if (row.on === "trust") return `trust ${row.input}`;
  return `devices: ${row.match}`;
}

/** A row in plain form, for a generated doc. */
export interface PolicyRowText {
  /** `config`, `raw.lxc` (one line of it), `device`, `server config` or `trust`. */
  on: PolicyRow["on"];
  /** The row's name: what it matches. */
  rule: string;
  class: PolicyClass;
  /** True when `securityOptOuts` can accept it (the judged resource's own: see `optOutIn`). */
  optOut: boolean;
  /** The resources whose `securityOptOuts` accept the row's class (absent when none does). */
  optOutIn?: string;
  /** The predicate in words. */
  when: string;
  reason: string;
  /** The value `hardenedConfig` sets, when the row is on a key it sets. */
  hardened?: string;
}

/** The resources whose `securityOptOuts` accept a row's class, in words; undefined when no opt-out accepts it. */
function optOutInOf(row: PolicyRow): string | undefined {
  if (row.on === "server config") return "ServerSettings";
  if (row.on === "trust") return "TrustCertificate, TrustToken";
  if (!canOptOut(row.class)) return undefined;
  if (row.on === "device") return "Instance, Profile, InstanceDevice";
  return row.on === "config" && row.keys.includes("security.shifted") ? "StorageVolume" : "Instance, Profile";
}

/** The rows of `POLICY` in plain form (no functions), top to bottom. */
export function policyRows(): PolicyRowText[] {
  return POLICY.map((row) => {
    const optOutIn = optOutInOf(row);
    return {
      on: row.on,
      rule: ruleOf(row),
      class: row.class,
      optOut: optOutIn !== undefined,
      ...(optOutIn !== undefined ? { optOutIn } : {}),
      when: row.on === "config" ? (row.hardened && row.when !== "empty" ? `${row.when}, or empty` : row.when) : row.on === "raw.lxc" ? "the first row whose key matches the line" : row.on === "device" ? row.match : row.when,
      reason: row.reason,
      ...(row.on === "config" && row.hardened ? { hardened: row.hardened } : {}),
    };
  });
}
