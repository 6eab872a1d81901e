/**
 * The hardening policy shared by instances and profiles: the defaults a container gets, the settings that
 * weaken confinement (grouped in classes that a user can opt out of one by one), the line-by-line judgement
 * of `raw.lxc`, and idmap sizing for nesting.
 *
 * Facts this rests on (measured on LXD 5.0.2, see ../shared/LXD-TESTBED.md): `security.idmap.size` is ignored
 * unless `security.idmap.isolated=true`; `security.syscalls.deny_default=false` removes seccomp entirely and a
 * restricted project still accepts it; `raw.lxc` is barely filtered; without AppArmor `raw.apparmor` is
 * accepted and ignored; a nested user namespace needs more than a 65536-id map; a nested LXD skips ids
 * below 100000.
 */
import * as path from "node:path";
import { UNKNOWN } from "./rules/values";
import type { ConfigMap, DeviceMap } from "./lxd";

/**
 * Classes of settings that weaken confinement. Each is refused unless named in `securityOptOuts`:
 * - `privileged`: `security.privileged=true` (container root is host root).
 * - `idmap`: a shared or host-overlapping id map (`security.idmap.isolated=false`, `security.idmap.base`,
 *   `raw.idmap`, `lxc.idmap`, disk `shift=true`).
 * - `seccomp`: LXD's syscall policy switched off or loosened (`security.syscalls.deny_default=false`,
 *   `deny_compat=false`, an allow list, `raw.seccomp`, mount/bpf interception, `lxc.seccomp.*`).
 * - `apparmor`: mandatory access control replaced or switched off (`raw.apparmor`, `lxc.apparmor.*`, `lxc.selinux.*`).
 * - `capabilities`: capability sets changed (`lxc.cap.keep`, `lxc.cap.drop`).
 * - `devices`: host devices or host internals exposed (unix-char/-block/-hotplug, usb, gpu, pci, infiniband,
 *   tpm, physical nic, a disk from a sensitive host path, a proxy that binds inside the instance, `lxc.cgroup*.devices.*`).
 * - `nesting`: `security.nesting=true` set by hand (the `nesting` input sets it with a sized idmap instead).
 * - `raw`: low-level keys whose effect on confinement cannot be judged (`raw.qemu*`, `raw.mount.options`,
 *   `lxc.hook.*`, `lxc.include`, `lxc.mount*`, `lxc.namespace.*`, unknown `lxc.*` lines).
 */
export const WEAKENING_CLASSES = ["privileged", "idmap", "seccomp", "apparmor", "capabilities", "devices", "nesting", "raw"] as const;
export type WeakeningClass = (typeof WEAKENING_CLASSES)[number];

/** One setting that weakens confinement. */
export interface Finding {
  class: WeakeningClass;
  /** `config.<key>`, `config.raw.lxc[<line>]` or `devices.<name>`. */
  key: string;
  reason: string;
}

/** Size of one id block, as LXD allocates them. */
export const IDMAP_BLOCK = 65536;
/** A nested LXD does not use ids below this (it keeps them for the host system). */
export const NESTED_LXD_SKIP = 100000;

/** Default limits (the user may change them; `defaultLimits: false` leaves them to profiles). */
export const DEFAULT_LIMITS: ConfigMap = { "limits.cpu": "1", "limits.memory": "1GiB", "limits.processes": "2000" };

/** What runs inside a nesting container. */
export interface Nesting {
  /** `docker` (Docker or containerd inside), `lxd` (LXD inside, `depth` levels), `userns` (rootless tools: podman, unshare). */
  workload: "docker" | "lxd" | "userns";
  /** LXD levels below this container (`workload: "lxd"` only). Default 1. Range 1–4. */
  depth?: number;
  /** Isolated instances each nested LXD runs side by side (each needs its own id block). Default 1. Range 1–64. */
  childInstances?: number;
}

const roundUp = (n: number) => Math.ceil(n / IDMAP_BLOCK) * IDMAP_BLOCK;

/**
 * The `security.idmap.size` a container needs for what runs inside it.
 * - nothing nested: 65536;
 * - `docker` / `userns`: 131072 (a nested user namespace needs its own 65536 next to the container's own);
 * - `lxd`, depth d: from the bottom up, each level holds 100000 skipped ids plus its children's maps,
 *   rounded up to whole 65536 blocks (depth 1 → 196608, depth 2 → 327680).
 */
export function idmapSizeFor(nesting?: Nesting): number {
  if (!nesting) return IDMAP_BLOCK;
  if (nesting.workload !== "lxd") return 2 * IDMAP_BLOCK;
  const depth = nesting.depth ?? 1;
  const children = nesting.childInstances ?? 1;
  let size = IDMAP_BLOCK; // the innermost containers: plain unprivileged
  for (let level = 0; level < depth; level++) size = roundUp(NESTED_LXD_SKIP + children * size);
  return size;
}

/**
 * The hardened config of a container (before the user's own config is laid over it).
 * Virtual machines get only what applies to them (limits, `/dev/lxd` off).
 */
export function hardenedConfig(opts: { type: "container" | "virtual-machine"; nesting?: Nesting; devLxd?: boolean; defaultLimits?: boolean }): ConfigMap {
  const cfg: ConfigMap = { "security.devlxd": String(opts.devLxd ?? false) };
  if (opts.defaultLimits !== false) Object.assign(cfg, DEFAULT_LIMITS);
  if (opts.type === "virtual-machine") return cfg;
  Object.assign(cfg, {
    "security.privileged": "false",
    "security.idmap.isolated": "true",
    // Without nesting, LXD's own size for an isolated map (65536) is the right one; leaving the key out keeps
    // the instance valid in restricted projects, where `security.idmap.size` is a blocked low-level key.
    ...(opts.nesting ? { "security.idmap.size": String(idmapSizeFor(opts.nesting)) } : {}),
    "security.syscalls.deny_default": "true",
    "security.syscalls.deny_compat": "true",
    "security.nesting": String(opts.nesting !== undefined),
  });
  if (opts.nesting?.workload === "docker") {
    // Docker creates device nodes and sets overlayfs xattrs; LXD's interception allows only the safe ones.
    cfg["security.syscalls.intercept.mknod"] = "true";
    cfg["security.syscalls.intercept.setxattr"] = "true";
  }
  return cfg;
}

const isTrue = (v: string | undefined) => v !== undefined && ["true", "1", "yes", "on"].includes(v.toLowerCase());
const isFalse = (v: string | undefined) => v !== undefined && ["false", "0", "no", "off"].includes(v.toLowerCase());

/** Config keys judged one by one. */
function judgeConfigKey(key: string, value: string): Finding[] {
  const f = (cls: WeakeningClass, reason: string): Finding[] => [{ class: cls, key: `config.${key}`, reason }];
  if (value === UNKNOWN) return []; // a preview unknown: judged when it is known
  switch (key) {
    case "security.privileged":
      return isTrue(value) ? f("privileged", "a privileged container's root is the host's root") : [];
    case "security.idmap.isolated":
      if (value === "") return f("idmap", "an empty value unsets the key, and LXD's default is a shared idmap: containers share one id range");
      return isFalse(value) ? f("idmap", "without an isolated idmap, containers share one id range: an escape from one reaches the others' files") : [];
    case "security.idmap.base":
      return value ? f("idmap", "a fixed idmap base can overlap other containers' or the host's ids") : [];
    case "raw.idmap":
      return value.trim() ? f("idmap", "raw.idmap maps host ids straight into the container") : [];
    case "security.syscalls.deny_default":
    case "security.syscalls.blacklist_default":
      return isFalse(value) ? f("seccomp", "this removes LXD's seccomp policy entirely (Seccomp: 0 inside)") : [];
    case "security.syscalls.deny_compat":
    case "security.syscalls.blacklist_compat":
      if (value === "") return f("seccomp", "an empty value unsets the key, and LXD's default leaves the 32-bit compat syscall entry points open");
      return isFalse(value) ? f("seccomp", "this re-opens the 32-bit compat syscall entry points that the hardened policy closes") : [];
    case "security.syscalls.allow":
    case "security.syscalls.whitelist":
      return value.trim() ? f("seccomp", "an allow list replaces LXD's default deny policy") : [];
    case "raw.seccomp":
      return value.trim() ? f("seccomp", "raw.seccomp installs a hand-written syscall policy") : [];
    case "security.syscalls.intercept.mount":
    case "security.syscalls.intercept.bpf":
      return isTrue(value) ? f("seccomp", `${key.split(".").pop()} interception has LXD perform ${key.endsWith("bpf") ? "bpf device programs" : "mounts"} on the container's behalf`) : [];
    case "security.syscalls.intercept.mount.allowed":
    case "security.syscalls.intercept.mount.shift":
    case "security.syscalls.intercept.mount.fuse":
    case "security.syscalls.intercept.bpf.devices":
      return value && !isFalse(value) ? f("seccomp", "this lets LXD perform privileged operations on the container's behalf") : [];
    case "raw.apparmor":
      return value.trim() ? f("apparmor", "raw.apparmor changes the AppArmor profile (and is silently ignored on hosts without AppArmor)") : [];
    case "security.nesting":
      return isTrue(value) ? f("nesting", "nesting relaxes /proc and /sys protections; use the nesting input, which also sizes the idmap") : [];
    case "raw.qemu":
    case "raw.qemu.conf":
      return value.trim() ? f("raw", `${key} passes arbitrary options to QEMU`) : [];
    case "raw.lxc":
      return judgeRawLxc(value);
    default:
      return [];
  }
}

/** `raw.lxc` keys known to leave confinement as it is (prefix match on the key). */
const HARMLESS_LXC_PREFIXES = [
  "lxc.init.cmd", "lxc.init.cwd", "lxc.init.uid", "lxc.init.gid", "lxc.environment", "lxc.console.size",
  "lxc.console.buffer.size", "lxc.console.rotate", "lxc.log.level", "lxc.signal.", "lxc.start.", "lxc.uts.name",
  "lxc.tty.max", "lxc.pty.max", "lxc.ephemeral", "lxc.sysctl.", "lxc.no_new_privs", "lxc.keyring.session", "lxc.autodev",
];
const LXC_CLASSES: [prefix: string, cls: WeakeningClass, reason: string][] = [
  ["lxc.apparmor.", "apparmor", "changes or switches off the AppArmor confinement"],
  ["lxc.selinux.", "apparmor", "changes the SELinux confinement"],
  ["lxc.seccomp.", "seccomp", "replaces the seccomp policy"],
  ["lxc.cap.", "capabilities", "changes the capability set"],
  ["lxc.idmap", "idmap", "replaces the id map"],
  ["lxc.id_map", "idmap", "replaces the id map"],
  ["lxc.cgroup.devices.", "devices", "opens host devices through the device cgroup"],
  ["lxc.cgroup2.devices.", "devices", "opens host devices through the device cgroup"],
  ["lxc.hook.", "raw", "runs a program on the host as root"],
  ["lxc.console.logfile", "raw", "has the host write a file of the container's choosing as root"],
  ["lxc.console.path", "raw", "attaches a host device as the console"],
  ["lxc.log.file", "raw", "has the host write a file as root"],
  ["lxc.include", "raw", "includes a file whose content cannot be judged"],
  ["lxc.mount", "raw", "mounts host paths or kernel filesystems"],
  ["lxc.namespace.", "raw", "shares or keeps host namespaces"],
  ["lxc.rootfs.", "raw", "changes the root filesystem set-up"],
  ["lxc.cgroup", "raw", "changes cgroup settings outside LXD's limits"],
  ["lxc.proc.", "raw", "writes /proc settings of the container's init"],
];

/**
 * Judges `raw.lxc` line by line: blank lines, comments and keys known to be harmless (the seed's
 * `lxc.init.cmd`, logging, console…) pass; every other line is a finding of its class; unknown keys are
 * `raw` (not known to be harmless).
 */
export function judgeRawLxc(text: string): Finding[] {
  const out: Finding[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const key = line.split("=")[0].trim();
    const where = `config.raw.lxc[line ${i + 1}: ${key}]`;
    if (!line.includes("=") || !key.startsWith("lxc.")) {
      out.push({ class: "raw", key: where, reason: `"${line}" is not a raw.lxc "lxc.key = value" line` });
      return;
    }
    if (HARMLESS_LXC_PREFIXES.some((p) => key === p || key.startsWith(p.endsWith(".") ? p : `${p}.`) || key === p.replace(/\.$/, ""))) return;
    const hit = LXC_CLASSES.find(([p]) => key === p || key.startsWith(p));
    out.push(hit ? { class: hit[1], key: where, reason: `${key} ${hit[2]}` } : { class: "raw", key: where, reason: `${key} is not known to leave confinement unchanged` });
  });
  return out;
}

/** Host paths a disk device must not bring into an instance. */
const SENSITIVE_PATHS = ["/", "/proc", "/sys", "/dev", "/run", "/var/run", "/boot", "/etc", "/root", "/var/lib/lxd", "/var/snap/lxd", "/var/lib/docker", "/var/run/docker.sock", "/run/docker.sock"];
const DEVICE_ACCESS_TYPES: Record<string, string> = {
  "unix-char": "passes a host character device", "unix-block": "passes a host block device",
  "unix-hotplug": "passes host devices as they appear", usb: "passes a host USB device", gpu: "passes a host GPU",
  pci: "passes a host PCI device", infiniband: "passes a host InfiniBand device", tpm: "passes a TPM",
};

function judgeDevice(name: string, d: Record<string, string>): Finding[] {
  const key = `devices.${name}`;
  const type = d.type ?? "";
  const out: Finding[] = [];
  if (DEVICE_ACCESS_TYPES[type]) out.push({ class: "devices", key, reason: `a ${type} device ${DEVICE_ACCESS_TYPES[type]}` });
  if (type === "nic" && (d.nictype === "physical" || d.nictype === "sriov")) out.push({ class: "devices", key, reason: `a ${d.nictype} nic hands a host network device to the instance` });
  if (type === "proxy" && d.bind === "instance") out.push({ class: "devices", key, reason: "a proxy with bind=instance lets the instance connect to host-side sockets" });
  if (type === "disk" && d.source?.startsWith("/")) {
    // "/tmp/../etc", "//etc" and "/etc/" are /etc. (Symlinks on the host cannot be resolved from here.)
    const src = path.posix.normalize(d.source).replace(/\/+$/, "") || "/";
    const hit = SENSITIVE_PATHS.find((p) => src === p || (p !== "/" && src.startsWith(`${p}/`)));
    if (hit) out.push({ class: "devices", key, reason: `disk source ${d.source} exposes host internals (${hit})` });
    if (isTrue(d.shift)) out.push({ class: "idmap", key, reason: "shift=true lets container root write host files as their real owners" });
  }
  if (d["raw.mount.options"]) out.push({ class: "raw", key, reason: "raw.mount.options passes mount options unchecked" });
  return out;
}

/** Every finding in a config + devices pair. */
export function assess(config: ConfigMap, devices: DeviceMap): Finding[] {
  return [
    ...Object.entries(config).flatMap(([k, v]) => judgeConfigKey(k, v)),
    ...Object.entries(devices).flatMap(([n, d]) => judgeDevice(n, d)),
  ];
}

/** Splits findings into refused (class not opted out) and accepted-but-weakened. */
export function applyOptOuts(findings: Finding[], optOuts: readonly WeakeningClass[]): { refused: Finding[]; weakened: Finding[] } {
  return {
    refused: findings.filter((f) => !optOuts.includes(f.class)),
    weakened: findings.filter((f) => optOuts.includes(f.class)),
  };
}

/** The message for a refused finding, naming the key, the reason and the opt-out. */
export function refusalMessage(f: Finding): string {
  return `${f.key} weakens confinement: ${f.reason}. It is refused by the hardened defaults; to accept it, add "${f.class}" to securityOptOuts`;
}

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
  /** Settings that weaken confinement and were accepted through securityOptOuts. */
  weakened: Finding[];
  /** Human-readable warnings (weakened settings, host without AppArmor, …). */
  warnings: string[];
}

/** Builds the report from the effective config (after profiles, when known) and the accepted findings. */
export function securityReport(config: ConfigMap, weakened: Finding[], host: { apparmor: boolean }, optOuts: readonly WeakeningClass[] = []): SecurityReport {
  const syscalls = (k: string) => config[`security.syscalls.${k}`];
  let seccomp: SecurityReport["seccomp"] = "lxd-default";
  if (isFalse(syscalls("deny_default")) || isFalse(syscalls("blacklist_default"))) seccomp = "off";
  else if (weakened.some((f) => f.class === "seccomp")) seccomp = "custom";
  else if (isTrue(syscalls("deny_compat")) || isTrue(syscalls("blacklist_compat"))) seccomp = "lxd-default+compat";
  const apparmor = !host.apparmor ? "unavailable-on-host" : weakened.some((f) => f.class === "apparmor") ? "custom" : "lxd-default";
  const warnings = weakened.map((f) =>
    optOuts.includes(f.class)
      ? `${f.key} weakens confinement (${f.class}, opted out): ${f.reason}`
      : `${f.key} weakens confinement (${f.class}, not opted out here: it comes from a profile or was set outside this program): ${f.reason}`);
  if (!host.apparmor) warnings.push("the LXD host has no AppArmor: the instance runs without mandatory access control");
  return {
    privileged: isTrue(config["security.privileged"]),
    idmapIsolated: isTrue(config["security.idmap.isolated"]),
    // LXD gives an isolated map 65536 ids when no size is set; a shared map is the host-wide one.
    idmapSize: Number(config["security.idmap.size"] ?? 0) || (isTrue(config["security.idmap.isolated"]) ? IDMAP_BLOCK : 0),
    seccomp,
    apparmor,
    devLxd: !isFalse(config["security.devlxd"]),
    nesting: isTrue(config["security.nesting"]),
    weakened,
    warnings,
  };
}
