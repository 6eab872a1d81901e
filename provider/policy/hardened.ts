/**
 * The hardened defaults: the config a container gets before the user's config is laid over it, and the
 * idmap sizing for nesting.
 *
 * Facts this rests on (measured on LXD 5.0.2, see ../shared/LXD-TESTBED.md): `security.idmap.size` is ignored
 * unless `security.idmap.isolated=true`; a nested user namespace needs more than a 65536-id map; a nested LXD
 * skips ids below 100000.
 */
import type { ConfigMap, ServerKind } from "../lxd";
import { guestApiKey } from "../rules/server-keys";

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
 * Virtual machines get only what applies to them (limits, the guest API off).
 * `server` picks the guest API key: `security.devlxd` on LXD (default), `security.guestapi` on Incus.
 */
export function hardenedConfig(opts: { type: "container" | "virtual-machine"; nesting?: Nesting; devLxd?: boolean; defaultLimits?: boolean; server?: ServerKind }): ConfigMap {
  const cfg: ConfigMap = { [guestApiKey(opts.server)]: String(opts.devLxd ?? false) };
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
