/**
 * Values the way LXD stores them, and the parts of a config that LXD or another resource owns. Pure functions,
 * loaded by both the provider host and programs (no client, no Pulumi).
 */
import type { ConfigMap, DeviceMap } from "../lxd/types";

/** The value the engine sends for inputs not known yet during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** True when `v` is, or contains, a preview unknown. */
export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

/**
 * A config value as LXD stores it (case C03): strings stay, numbers become their decimal text,
 * booleans `"true"` / `"false"`.
 */
export function configValue(v: string | number | boolean): string {
  return typeof v === "string" ? v : String(v);
}

/** Normalises a config map (values to strings); key order does not matter to LXD or to our diff. */
export function normalizeConfig(m: Record<string, string | number | boolean> | undefined): ConfigMap {
  const out: ConfigMap = {};
  for (const [k, v] of Object.entries(m ?? {})) out[k] = configValue(v);
  return out;
}

/**
 * Drops keys whose value is "": LXD treats an empty value as "unset" and does not store it, so keeping it
 * in the desired state would show a diff on every plan. (The policy refuses "" for hardened keys before this.)
 */
export function dropEmpty(m: ConfigMap): ConfigMap {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== ""));
}

/** Normalises a devices map (each property value to a string). A whole device can be a preview unknown: kept. */
export function normalizeDevices(m: Record<string, Record<string, string | number | boolean>> | undefined): DeviceMap {
  const out: DeviceMap = {};
  for (const [name, props] of Object.entries(m ?? {})) out[name] = props === (UNKNOWN as unknown) ? (UNKNOWN as never) : normalizeConfig(props);
  return out;
}

/**
 * Keys LXD or the image own: never part of the desired state, never drift (case C04).
 * `volatile.*` (runtime state LXD writes), `image.*` (copied from the image's properties).
 */
export function isServerOwnedKey(key: string): boolean {
  return key.startsWith("volatile.") || key.startsWith("image.");
}

/** The part of a config map the user owns: everything but server-owned keys. */
export function userConfig(m: ConfigMap | undefined): ConfigMap {
  const out: ConfigMap = {};
  for (const [k, v] of Object.entries(m ?? {})) if (!isServerOwnedKey(k)) out[k] = v;
  return out;
}

/** Deep equality for JSON-shaped values, key order ignored. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}

/** Removes keys whose value is `undefined`, deeply: the provider protocol rejects `undefined`. */
export function stripUndefined<T>(v: T): T {
  if (Array.isArray(v)) return v.map(stripUndefined) as T;
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = stripUndefined(x);
    return out as T;
  }
  return v;
}

/**
 * Config key prefix that marks a device as owned by a separate device resource (e.g. `PciDevice`):
 * `user.pulumi-lxd.device.<device name>`. The instance resource leaves such devices and their markers alone.
 */
export const DEVICE_OWNER_PREFIX = "user.pulumi-lxd.device.";

/** Splits an instance's config and devices into what the instance resource owns and what others own. */
export function splitOwnership(config: ConfigMap, devices: DeviceMap): {
  config: ConfigMap; devices: DeviceMap; foreignConfig: ConfigMap; foreignDevices: DeviceMap;
} {
  const own: ConfigMap = {};
  const foreignConfig: ConfigMap = {};
  for (const [k, v] of Object.entries(config)) {
    if (isServerOwnedKey(k) || k.startsWith(DEVICE_OWNER_PREFIX)) foreignConfig[k] = v;
    else own[k] = v;
  }
  const foreign = new Set(Object.keys(config).filter((k) => k.startsWith(DEVICE_OWNER_PREFIX)).map((k) => k.slice(DEVICE_OWNER_PREFIX.length)));
  const ownDevices: DeviceMap = {};
  const foreignDevices: DeviceMap = {};
  for (const [n, d] of Object.entries(devices)) (foreign.has(n) ? foreignDevices : ownDevices)[n] = d;
  return { config: own, devices: ownDevices, foreignConfig, foreignDevices };
}
