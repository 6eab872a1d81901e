/**
 * Semantics shared by every resource: value normalisation the way LXD stores values, the one spelling of
 * the default project, server-owned keys, preview unknowns, and zod issues turned into check failures.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { connectionTarget, type ConnectionArgs } from "./connection";
import type { ConfigMap, DeviceMap } from "./lxd";

/** The value the engine sends for inputs not known yet during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** True when `v` is, or contains, a preview unknown. */
export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

/** LXD's rule for project names (no spaces, slashes, underscores or quotes); "" means `default`. */
export const PROJECT_NAME_RE = /^[^\s/_'"]*$/;

/** The `project` input of every resource: optional, "" or omitted = `default`. */
export function projectSchema() {
  return z.string().regex(PROJECT_NAME_RE, "must be a project name: no spaces, slashes, underscores or quotes").optional();
}

/** A config key: LXD's keys are lower-case words joined by dots (any case after `user.` and `environment.`); no spaces. */
export function configKeySchema() {
  return z
    .string()
    .regex(/^((user|environment)\.\S+|[a-z0-9][a-z0-9._-]*)$/, "must be an LXD config key (lower-case, dot-separated, no spaces; any case after user. or environment.)");
}

/** LXD's project name for "no project given": an empty project and `default` are the same project (case C05). */
export function normalizeProject(p: string | undefined | null): string {
  return p ? p : "default";
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
 * in the desired state would show a diff on every plan. (An empty instance value still removes a hardened
 * default, because the merge happens before this.)
 */
export function dropEmpty(m: ConfigMap): ConfigMap {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== ""));
}

/** Normalises a devices map (each property value to a string). */
export function normalizeDevices(m: Record<string, Record<string, string | number | boolean>> | undefined): DeviceMap {
  const out: DeviceMap = {};
  // A whole device can be a preview unknown: carried as it is.
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

/** The server-owned part of a config map, to carry over unchanged on a PUT. */
export function serverOwnedConfig(m: ConfigMap | undefined): ConfigMap {
  const out: ConfigMap = {};
  for (const [k, v] of Object.entries(m ?? {})) if (isServerOwnedKey(k)) out[k] = v;
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
 * Runs a zod schema in `check`: returns the parsed value, or failures naming the property and the reason.
 * Issues on values that are preview unknowns (or inside one) are not failures: the value is not known yet.
 */
export function checkWith<S extends z.ZodType>(
  schema: S,
  news: Record<string, unknown>,
  opts: { keepUnknown?: boolean } = {},
): { value?: z.output<S>; failures: pulumi.dynamic.CheckFailure[]; unknownKeys: string[] } {
  // `__provider` (and any other engine-owned `__` key) is not an input of ours.
  const own = Object.fromEntries(Object.entries(news).filter(([k]) => !k.startsWith("__")));
  const r = schema.safeParse(own);
  if (r.success) return { value: r.data, failures: [], unknownKeys: [] };
  const failures: pulumi.dynamic.CheckFailure[] = [];
  const unknownKeys = new Set<string>();
  for (const issue of r.error.issues) {
    if (isUnderUnknown(news, issue.path as (string | number)[])) {
      unknownKeys.add(String(issue.path[0] ?? ""));
      continue;
    }
    const property = issue.path.length ? issue.path.map(String).join(".") : "(inputs)";
    // A bad record key: say which key, with the key schema's own message rather than "Invalid key in record".
    const inner = (issue as { issues?: { message: string }[] }).issues?.[0]?.message;
    const reason = issue.code === "invalid_key" && inner
      ? `${issue.path.slice(0, -1).map(String).join(".")} key ${JSON.stringify(String(issue.path[issue.path.length - 1]))} ${inner}`
      : `${property} ${issue.message}`;
    failures.push({ property, reason });
  }
  if (failures.length || !opts.keepUnknown || unknownKeys.has("")) return { failures, unknownKeys: [...unknownKeys] };
  // Preview: validate and default everything that is known; the properties that are (or hold) unknowns come
  // back as the unknown sentinel, for the caller to carry through.
  const known = Object.fromEntries(Object.entries(own).filter(([k]) => !unknownKeys.has(k)));
  const again = schema.safeParse(known);
  if (!again.success) return { failures: [], unknownKeys: [...unknownKeys] };
  const value = { ...(again.data as Record<string, unknown>) };
  for (const k of unknownKeys) value[k] = UNKNOWN;
  return { value: value as z.output<S>, failures: [], unknownKeys: [...unknownKeys] };
}

function isUnderUnknown(root: unknown, p: (string | number)[]): boolean {
  let cur: unknown = root;
  if (cur === UNKNOWN) return true;
  for (const seg of p) {
    if (cur === null || typeof cur !== "object") return false;
    cur = (cur as Record<string | number, unknown>)[seg];
    if (cur === UNKNOWN) return true;
  }
  return containsUnknown(cur);
}

/**
 * The diff of two flat-or-nested input objects by top-level property, with `replaceKeys` forcing replacement.
 * Unknown new values count as changes. Two properties are compared by meaning, the same way for every
 * resource: a listed `project` ("" and `default` are one project), and `connection`, always, by the server it
 * names (another socket, URL or remote forces replacement; other credentials or another key file do not).
 * Returns the shape dynamic providers return.
 */
export function diffProps(oldState: object, newInputs: object, keys: readonly string[], replaceKeys: readonly string[]): pulumi.dynamic.DiffResult {
  const olds = oldState as Record<string, unknown>;
  const news = newInputs as Record<string, unknown>;
  const meaning = (o: Record<string, unknown>, k: string) =>
    k === "project" && !containsUnknown(o[k]) ? normalizeProject(o[k] as string | undefined) : o[k];
  const changed = keys.filter((k) => containsUnknown(news[k]) || !sameJson(meaning(olds, k), meaning(news, k)));
  const replaces = changed.filter((k) => replaceKeys.includes(k));
  const server = (c: unknown) => connectionTarget(c as ConnectionArgs | undefined);
  if (containsUnknown(news.connection) || server(olds.connection) !== server(news.connection)) {
    changed.push("connection");
    replaces.push("connection");
  }
  return {
    changes: changed.length > 0,
    replaces,
    deleteBeforeReplace: replaces.length > 0,
  };
}

/** The error a create rejects with when the object exists in LXD but a later step failed (kept in state). */
export function partialCreate(message: string, id: string, properties: Record<string, unknown>): Error {
  return Object.assign(new Error(message), { id, properties: stripUndefined(properties), reasons: [message] });
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
