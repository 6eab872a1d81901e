/**
 * What the policy pack judges: an LXD (or Incus) instance, profile, project or device, a custom storage volume, the
 * server's own config or a trust store entry, read from a resource's
 * properties as the engine hands them to a policy, whichever provider declared it. Pure: loads only the policy
 * and the rules of this package (no @pulumi/pulumi, no @pulumi/policy, no REST client).
 *
 * Resource types and the property names read (the bridged names are the Terraform providers' names in camelCase,
 * a Terraform `device` block becoming the list `devices`):
 *
 * | type token | kind | properties read |
 * | --- | --- | --- |
 * | `pulumi-nodejs:dynamic/lxd:Instance` | instance | `name`, `project`, `type`, `config`, `devices` (map), `profiles`, `nesting`, `devLxd`, `securityOptOuts` |
 * | `pulumi-nodejs:dynamic/lxd:Profile` | profile | `name`, `project`, `config`, `devices` (map), `securityOptOuts` |
 * | `pulumi-nodejs:dynamic/lxd:PciDevice` | device | `instance`, `project`, `deviceName`, `kind`, `device` (the LXD properties, after check) |
 * | `pulumi-nodejs:dynamic/lxd:Project` | project | `name`, `config` |
 * | `pulumi-nodejs:dynamic/lxd:InstanceDevice` | device | `instance`, `project`, `deviceName`, `device` (after check: `type` and the properties, bridged nic defaults filled in), else `type` and `properties`; `securityOptOuts` |
 * | `pulumi-nodejs:dynamic/lxd:StorageVolume` | volume | `pool`, `name`, `project`, `config`, `securityOptOuts` |
 * | `pulumi-nodejs:dynamic/lxd:ServerSettings` | server | `config` (the server config keys the stack manages), `securityOptOuts` |
 * | `pulumi-nodejs:dynamic/lxd:TrustCertificate`, `pulumi-nodejs:dynamic/lxd:TrustToken` | trust | `name`, `restricted` (LXD's default when absent: false, the kinds' default: true), `securityOptOuts` |
 * | `lxd:index/instance:Instance` (and the older `lxd:index/container:Container`) | instance | `name`, `project`, `type`, `config`, `limits` (map: each key `k` is LXD's `limits.k`), `devices` (list of `{name, type, properties}`), `profiles`, `privileged` (old boolean: `security.privileged`) |
 * | `lxd:index/profile:Profile` | profile | `name`, `project`, `config`, `devices` (list) |
 * | `lxd:index/project:Project` | project | `name`, `config` |
 * | `lxd:index/instanceDevice:InstanceDevice` | device | `instanceName`, `project`, `name`, `type`, `properties` |
 * | `lxd:index/volume:Volume` (provider 2.x), `lxd:index/storageVolume:StorageVolume` (3.x) | volume | `pool`, `name`, `project`, `config` |
 * | `incus:index/instance:Instance` | instance | `name`, `project`, `type`, `config`, `devices` (list), `profiles` |
 * | `incus:index/profile:Profile` | profile | `name`, `project`, `config`, `devices` (list) |
 * | `incus:index/project:Project` | project | `name`, `config` |
 *
 * Not read (their tokens or the meaning of their properties were not checked): the Terraform LXD provider's
 * TrustCertificate and TrustToken, and the Incus provider's volumes, devices and trust entries.
 *
 * Incus names `/dev/lxd` the guest API: its keys `security.guestapi` and `security.guestapi.*` are read as LXD's
 * `security.devlxd` and `security.devlxd.*` and named with their Incus names again in findings.
 *
 * Values the engine does not know yet (preview) are read as the provider's preview unknown, which the policy never
 * judges: what is known is judged, the rest waits for `pulumi up`.
 */
import type { ConfigMap, DeviceMap } from "../provider/lxd";
import {
  canOptOut, hardenedConfig, PREVIEW_UNKNOWN, SERVER_OPT_OUTS, TRUST_OPT_OUTS, WEAKENING_CLASSES,
  type Finding, type Nesting, type ServerOptOut, type TrustOptOut, type WeakeningClass,
} from "../provider/policy";
import { keyFor } from "../provider/rules/server-keys";
import { configValue } from "../provider/rules/values";

/** Which provider declared the resource. */
export type Family = "pulumi-lxd-hardened" | "terraform-lxd" | "incus";
/** What the resource is, as LXD sees it: `volume` is a custom storage volume, `server` the server's own config, `trust` a trust store entry. */
export type SubjectKind = "instance" | "profile" | "project" | "device" | "volume" | "server" | "trust";

/** Every class the pack can accept: the instance policy's weakening classes, then the server's and the trust store's. */
export const PACK_CLASSES = [...WEAKENING_CLASSES, ...SERVER_OPT_OUTS, ...TRUST_OPT_OUTS] as const;
/** A class the pack's `optOuts` (and a resource's `securityOptOuts`) can accept. */
export type PackClass = WeakeningClass | ServerOptOut | TrustOptOut;
/** True for a class in {@link PACK_CLASSES}. */
export const isPackClass = (c: unknown): c is PackClass => typeof c === "string" && (canOptOut(c) || (SERVER_OPT_OUTS as readonly string[]).includes(c) || (TRUST_OPT_OUTS as readonly string[]).includes(c));

/** The resource types the pack reads, by type token. */
export const SUBJECT_TYPES: Readonly<Record<string, { family: Family; kind: SubjectKind }>> = {
  "pulumi-nodejs:dynamic/lxd:Instance": { family: "pulumi-lxd-hardened", kind: "instance" },
  "pulumi-nodejs:dynamic/lxd:Profile": { family: "pulumi-lxd-hardened", kind: "profile" },
  "pulumi-nodejs:dynamic/lxd:PciDevice": { family: "pulumi-lxd-hardened", kind: "device" },
  "pulumi-nodejs:dynamic/lxd:Project": { family: "pulumi-lxd-hardened", kind: "project" },
  "pulumi-nodejs:dynamic/lxd:InstanceDevice": { family: "pulumi-lxd-hardened", kind: "device" },
  "pulumi-nodejs:dynamic/lxd:StorageVolume": { family: "pulumi-lxd-hardened", kind: "volume" },
  "pulumi-nodejs:dynamic/lxd:ServerSettings": { family: "pulumi-lxd-hardened", kind: "server" },
  "pulumi-nodejs:dynamic/lxd:TrustCertificate": { family: "pulumi-lxd-hardened", kind: "trust" },
  "pulumi-nodejs:dynamic/lxd:TrustToken": { family: "pulumi-lxd-hardened", kind: "trust" },
  "lxd:index/instance:Instance": { family: "terraform-lxd", kind: "instance" },
  "lxd:index/container:Container": { family: "terraform-lxd", kind: "instance" },
  "lxd:index/profile:Profile": { family: "terraform-lxd", kind: "profile" },
  "lxd:index/project:Project": { family: "terraform-lxd", kind: "project" },
  "lxd:index/instanceDevice:InstanceDevice": { family: "terraform-lxd", kind: "device" },
  "lxd:index/volume:Volume": { family: "terraform-lxd", kind: "volume" },
  "lxd:index/storageVolume:StorageVolume": { family: "terraform-lxd", kind: "volume" },
  "incus:index/instance:Instance": { family: "incus", kind: "instance" },
  "incus:index/profile:Profile": { family: "incus", kind: "profile" },
  "incus:index/project:Project": { family: "incus", kind: "project" },
};

/** One instance, profile, project, device, volume, server config or trust store entry, in LXD's own key names. */
export interface Subject {
  family: Family;
  kind: SubjectKind;
  /**
   * The LXD name (`name`, else the resource name); for a device, `<instance>/<device name>`; for a volume,
   * `<pool>/<volume name>`; for the server config, empty.
   */
  name: string;
  /** The LXD project. Default `default`. */
  project: string;
  /** Instances: `container` (default) or `virtual-machine`. */
  type: "container" | "virtual-machine";
  /** Config in LXD's key names (Incus keys translated); a volume's or the server's config; the preview unknown when not known as a whole. */
  config: ConfigMap;
  /** Devices by name; the preview unknown when not known as a whole. */
  devices: DeviceMap;
  /** Instances: the profiles in the order LXD applies them (default `["default"]`); the preview unknown when not known. */
  profiles: string[];
  /** This package's Instance: the `nesting` and `devLxd` inputs, which ask for `security.nesting` / `security.devlxd`. */
  nesting?: Nesting;
  devLxd?: boolean;
  /** Trust store entries: `restricted` (a boolean, or the preview unknown). */
  restricted?: boolean | string;
  /**
   * This package's resources that have `securityOptOuts` (Instance, Profile, InstanceDevice, StorageVolume,
   * ServerSettings, TrustCertificate, TrustToken): those classes (the preview unknown counts as every class: the
   * pack's own opt-outs still bound them). Absent for resources that have no such input.
   */
  ownOptOuts?: readonly PackClass[];
  /**
   * This package's Instance: true when `props` are the provider's checked inputs (what the engine passes when the
   * provider's check passed), whose config already holds the hardened defaults, so that a hardened key missing from
   * it was emptied by the program (`""`, accepted by the resource's `securityOptOuts`). False for the program's own
   * inputs (what the engine passes when the check failed), over which the provider would lay the hardened defaults.
   */
  checked?: boolean;
}

const UNKNOWN_MAP = PREVIEW_UNKNOWN as unknown as ConfigMap;
const isUnknown = (v: unknown) => v === PREVIEW_UNKNOWN;

/** True for the error `@pulumi/policy` throws when a policy reads a value not known during preview. */
function isUnknownValueError(e: unknown): boolean {
  return e instanceof Error && (e.constructor?.name === "UnknownValueError" || e.name === "UnknownValueError");
}

/**
 * A deep plain copy of what `read` returns, with every value the engine does not know yet (the policy SDK's
 * property proxy throws on reading one) replaced by the provider's preview unknown.
 */
export function plain(read: () => unknown): unknown {
  let v: unknown;
  try {
    v = read();
  } catch (e) {
    if (isUnknownValueError(e)) return PREVIEW_UNKNOWN;
    throw e;
  }
  if (Array.isArray(v)) {
    const arr = v;
    return Array.from({ length: arr.length }, (_, i) => plain(() => arr[i]));
  }
  if (v !== null && typeof v === "object") {
    const obj = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(obj).map((k) => [k, plain(() => obj[k])]));
  }
  return v;
}

/** A scalar as LXD stores it; undefined for anything else (null, objects). */
function scalar(v: unknown): string | undefined {
  if (isUnknown(v)) return PREVIEW_UNKNOWN;
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? configValue(v) : undefined;
}

/** A config map as LXD stores it (values to strings, nulls dropped), `prefix` added to each key. */
function configMap(v: unknown, prefix = ""): ConfigMap {
  if (isUnknown(v)) return UNKNOWN_MAP;
  if (v === null || typeof v !== "object" || Array.isArray(v)) return {};
  const out: ConfigMap = {};
  for (const [k, raw] of Object.entries(v)) {
    const s = scalar(raw);
    if (s !== undefined) out[`${prefix}${k}`] = s;
  }
  return out;
}

/** Devices given as a map of name → properties (this package). */
function deviceMap(v: unknown): DeviceMap {
  if (isUnknown(v)) return UNKNOWN_MAP as unknown as DeviceMap;
  if (v === null || typeof v !== "object" || Array.isArray(v)) return {};
  return Object.fromEntries(Object.entries(v).map(([n, d]) => [n, isUnknown(d) ? (PREVIEW_UNKNOWN as never) : configMap(d)]));
}

/** Devices given as a list of `{name, type, properties}` (the bridged providers' `devices`, from Terraform's `device` blocks). */
function deviceList(v: unknown): DeviceMap {
  if (isUnknown(v)) return UNKNOWN_MAP as unknown as DeviceMap;
  if (!Array.isArray(v)) return {};
  const out: DeviceMap = {};
  v.forEach((d, i) => {
    const entry = (d ?? {}) as { name?: unknown; type?: unknown; properties?: unknown };
    const name = typeof entry.name === "string" && !isUnknown(entry.name) ? entry.name : `devices[${i}]`;
    if (isUnknown(d) || isUnknown(entry.properties)) {
      out[name] = PREVIEW_UNKNOWN as never;
      return;
    }
    const props = configMap(entry.properties);
    const type = scalar(entry.type);
    out[name] = { ...props, ...(type !== undefined ? { type } : {}) };
  });
  return out;
}

/** Incus key → LXD key (`security.guestapi*` → `security.devlxd*`; provider/rules/server-keys.ts). */
export function fromIncusKey(key: string): string {
  return keyFor("lxd", key);
}
/** LXD key → Incus key (`security.devlxd*` → `security.guestapi*`; provider/rules/server-keys.ts). */
export function toIncusKey(key: string): string {
  return keyFor("incus", key);
}

/** A finding's key (`config.<key>`, `devices.<name>`, …) in the resource's own key names. */
export function keyIn(family: Family, findingKey: string): string {
  if (family !== "incus" || !findingKey.startsWith("config.")) return findingKey;
  return `config.${toIncusKey(findingKey.slice("config.".length))}`;
}

// This package's own resources may be on Incus too (their state then holds security.guestapi): every family is read
// in LXD's names, which no LXD config contradicts (LXD has no security.guestapi key).
function translated(config: ConfigMap, _family: Family): ConfigMap {
  if (isUnknown(config)) return config;
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [fromIncusKey(k), v]));
}

function stringList(v: unknown, dflt: string[]): string[] {
  if (isUnknown(v)) return PREVIEW_UNKNOWN as unknown as string[];
  if (!Array.isArray(v)) return dflt;
  return v.map((x) => (typeof x === "string" ? x : PREVIEW_UNKNOWN));
}

function optOuts(v: unknown): readonly PackClass[] {
  if (isUnknown(v) || (Array.isArray(v) && v.some(isUnknown))) return PACK_CLASSES;
  return Array.isArray(v) ? v.filter(isPackClass) : [];
}

const text = (v: unknown, dflt: string) => (typeof v === "string" && v !== "" ? v : dflt);

/**
 * Reads a resource of a type in {@link SUBJECT_TYPES}; undefined for any other type.
 * @param type the resource's type token.
 * @param props its properties as the policy SDK passes them (inputs to a resource policy, outputs to a stack policy).
 * @param resourceName the resource's name (the LXD name when `name` is not set).
 */
export function subjectOf(type: string, props: Record<string, unknown>, resourceName: string): Subject | undefined {
  const t = SUBJECT_TYPES[type];
  if (!t) return undefined;
  const p = plain(() => props) as Record<string, unknown>;
  const name = text(p.name, resourceName);
  const project = text(p.project, "default");
  const base: Pick<Subject, "family" | "kind" | "project" | "type" | "profiles"> = {
    family: t.family, kind: t.kind, project, type: p.type === "virtual-machine" ? "virtual-machine" : "container", profiles: [],
  };
  if (t.kind === "volume") {
    const own = t.family === "pulumi-lxd-hardened" ? { ownOptOuts: optOuts(p.securityOptOuts) } : {};
    return { ...base, ...own, name: `${text(p.pool, "?")}/${name}`, config: configMap(p.config), devices: {} };
  }
  if (t.kind === "server") return { ...base, ownOptOuts: optOuts(p.securityOptOuts), name: "", config: configMap(p.config), devices: {} };
  if (t.kind === "trust") {
    // The kinds default `restricted` to true; an entry that says nothing is restricted (their check fills it in).
    const restricted = isUnknown(p.restricted) ? PREVIEW_UNKNOWN : p.restricted === false || p.restricted === "false" ? false : true;
    return { ...base, ownOptOuts: optOuts(p.securityOptOuts), name, config: {}, devices: {}, restricted };
  }
  if (t.kind === "device" && t.family === "terraform-lxd") {
    // The Terraform LXD provider's InstanceDevice: `instanceName`, `name`, `type`, `properties`.
    const props = configMap(p.properties);
    const type = scalar(p.type);
    const deviceName = text(p.name, resourceName);
    const device = isUnknown(props) ? props : { ...props, ...(type !== undefined ? { type } : {}) };
    return { ...base, name: `${text(p.instanceName, "?")}/${deviceName}`, config: {}, devices: { [deviceName]: device } };
  }
  if (t.family === "pulumi-lxd-hardened") {
    if (t.kind === "device") {
      // PciDevice: `kind` and `device`. InstanceDevice: `device` after its check, else `type` and `properties`, and `securityOptOuts`.
      const checkedDevice = p.device !== undefined && p.device !== null;
      const device = configMap(checkedDevice ? p.device : p.properties);
      const kind = scalar(p.kind ?? p.type);
      const props: Record<string, string> = isUnknown(device) ? device : { ...(kind !== undefined ? { type: kind } : {}), ...device };
      const deviceName = text(p.deviceName, resourceName);
      const own = type === "pulumi-nodejs:dynamic/lxd:InstanceDevice" ? { ownOptOuts: optOuts(p.securityOptOuts) } : {};
      return { ...base, ...own, name: `${text(p.instance, "?")}/${deviceName}`, config: {}, devices: { [deviceName]: props } };
    }
    const own = { ownOptOuts: optOuts(p.securityOptOuts) };
    if (t.kind === "instance") {
      return {
        ...base, ...own, name, config: configMap(p.config), devices: deviceMap(p.devices), profiles: stringList(p.profiles, ["default"]),
        // The instance kind's check fills in every default: these four are never missing from its inputs.
        checked: ["restartOnChange", "replaceOnIdmapShrink", "liftDeleteProtection", "defaultLimits"].every((k) => typeof p[k] === "boolean"),
        ...(p.nesting !== undefined && p.nesting !== null ? { nesting: p.nesting as Nesting } : {}),
        ...(typeof p.devLxd === "boolean" ? { devLxd: p.devLxd } : {}),
      };
    }
    return { ...base, ...(t.kind === "profile" ? own : {}), name, config: configMap(p.config), devices: t.kind === "profile" ? deviceMap(p.devices) : {} };
  }
  // The bridged providers.
  let config = translated(configMap(p.config), t.family);
  if (t.kind === "instance" && !isUnknown(config)) {
    const limits = configMap(p.limits, "limits.");
    const privileged = scalar(p.privileged);
    // The old `privileged` flag is judged over the config (fail closed: either one asking for it counts).
    config = {
      ...(isUnknown(limits) ? {} : limits),
      ...config,
      ...(privileged !== undefined && privileged !== "false" ? { "security.privileged": privileged } : {}),
    };
  }
  return {
    ...base, name, config,
    devices: t.kind === "project" ? {} : deviceList(p.devices),
    profiles: t.kind === "instance" ? stringList(p.profiles, ["default"]) : [],
  };
}

/**
 * The hardened keys an instance must hold itself (`hardenedConfig` for its type, and for this package's Instance
 * its `nesting` and `devLxd`; limits left out): a key it leaves unset is decided by its profiles or LXD's default,
 * which `POLICY` counts as a finding of that key's class (an empty value on this package's Instance). A bridged
 * instance must set them in its own config; this package's Instance has them from its provider's check.
 */
export function requiredHardenedKeys(s: Subject): ConfigMap {
  return hardenedConfig({ type: s.type, nesting: s.nesting, devLxd: s.devLxd, defaultLimits: false });
}

/** The findings' keys in the resource's own names (Incus keys back to Incus). */
export function inOwnNames(s: Subject, findings: Finding[]): Finding[] {
  return s.family === "incus" ? findings.map((f) => ({ ...f, key: keyIn(s.family, f.key) })) : findings;
}
