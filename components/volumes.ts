/**
 * Data volumes of the components: the input shape shared by {@link HardenedContainer} (`volumes`: custom volumes
 * created for the container and mounted into it) and {@link TenantProject} (`volumes`: custom volumes of the
 * tenant's project, created but not mounted), and their program-time validation.
 *
 * Each volume becomes a {@link StorageVolume} (type `custom`, content type `filesystem`); a container mounts it
 * as a `disk` device `{pool, source: <volume name>, path}` (LXD's `restricted.devices.disk=managed`, the tenant
 * project's setting, allows exactly such pool-backed disks).
 */
import * as pulumi from "@pulumi/pulumi";
import { DEVICE_NAME, VOLUME_NAME } from "../provider/rules/names";
import { isKnown, isSizeString } from "./validation";

type Scalar = string | number | boolean;

/** One data volume of a {@link HardenedContainer}: a custom volume created for it and mounted at `path`. */
export interface ContainerVolume {
  /**
   * Size quota, an LXD size string (`"64MiB"`, `"10GiB"`), the volume's config `size`. Required (a project with
   * `limits.disk` refuses volumes without one). Grows in place; a smaller size is refused at preview (data loss).
   * Enforced by btrfs/lvm/zfs pools; a `dir` pool stores it without enforcing it unless its filesystem has
   * project quotas (see docs/storage-volume.md).
   */
  size: pulumi.Input<string>;
  /**
   * Where the volume is mounted inside the container: an absolute path, not `/` (the disk device's `path`).
   * Updated in place (LXD re-mounts it; a running container sees the new path at once).
   */
  path: pulumi.Input<string>;
  /**
   * Storage pool of the volume. Default: the container's `pool`, else the `tenant`'s pool, else `default`.
   * Changing it forces replacement of the volume (its data is lost).
   */
  pool?: pulumi.Input<string>;
  /**
   * Volume config (LXD volume keys verbatim: `snapshots.schedule` — cron or `@daily` —, `snapshots.expiry` —
   * `"7d"` —, `snapshots.pattern`, …). `security.shifted` / `security.unmapped` are refused unless the
   * container's `securityOptOuts` names `idmap`. Default `{}`. Updated in place.
   */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** Mount the volume read-only inside the container (device property `readonly=true`). Default false. Updated in place. */
  readOnly?: pulumi.Input<boolean>;
}

/** One volume of a {@link TenantProject}: a custom volume in the tenant's project, for the tenant's instances to mount. */
export interface TenantVolume {
  /** Size quota, an LXD size string (`"1GiB"`). Required. Grows in place; a smaller size is refused at preview. */
  size: pulumi.Input<string>;
  /** Storage pool. Default: the TenantProject's `pool` (`default`). Changing it forces replacement (data lost). */
  pool?: pulumi.Input<string>;
  /** Volume config (LXD volume keys verbatim, e.g. `snapshots.schedule`). Default `{}`. Updated in place. */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** Description of the volume. Default "". Updated in place. */
  description?: pulumi.Input<string>;
}

const POOL_RE = /^[^\s/]+$/;

function fail(propertyPath: string, mustBe: string, value: unknown): never {
  throw new pulumi.InputPropertyError({ propertyPath, reason: `${propertyPath} ${mustBe}, but ${value === undefined ? "none" : JSON.stringify(value)} was provided` });
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !pulumi.Output.isInstance(v) && !(v instanceof Promise);
}

/** The schedule keys a project with `restricted.snapshots=block` contradicts. */
function scheduleKey(config: unknown): string | undefined {
  if (!isPlain(config)) return undefined;
  const v = config["snapshots.schedule"];
  return v !== undefined && v !== "" && v !== "@never" ? "snapshots.schedule" : undefined;
}

/** What the checks need to know about the context of the volumes. */
export interface VolumeContext {
  /** The container's name when known (the volume names are `<container>-<key>`); undefined for tenant volumes or unknown names. */
  containerName?: string;
  /** Names of the container's other devices (`devices` input keys, and `root`): a volume key must not reuse one. */
  deviceNames?: string[];
  /** False when the project blocks snapshots (`restricted.snapshots=block`, a TenantProject without `allowSnapshots`). */
  snapshotsAllowed?: boolean;
  /** What to tell the user to change when snapshots are blocked. */
  snapshotsHint?: string;
}

/**
 * Checks the known values of a `volumes` input. The set of volumes must be a plain object (its keys make child
 * resources); its fields may be outputs.
 * @throws pulumi.InputPropertyError naming `volumes.<key>[.field]`.
 */
export function validateVolumes(volumes: unknown, kind: "container" | "tenant", ctx: VolumeContext = {}): void {
  if (volumes === undefined) return;
  if (!isPlain(volumes)) {
    throw new pulumi.InputPropertyError({
      propertyPath: "volumes",
      reason: "volumes must be a plain object of volume name → {size, …} known when the program runs (each volume is a child resource), but an output or another value was provided",
    });
  }
  const paths = new Map<string, string>();
  for (const [key, spec] of Object.entries(volumes)) {
    const at = `volumes.${key}`;
    if (kind === "container") {
      if (!DEVICE_NAME.re.test(key)) fail(at, `(its name is also the device name) ${DEVICE_NAME.mustBe}`, key);
      if (ctx.deviceNames?.includes(key)) fail(at, `must not reuse the name of a device the container already has (${key === "root" ? "the root disk" : "in devices"})`, key);
      if (ctx.containerName !== undefined) {
        const volName = `${ctx.containerName}-${key}`;
        if (!VOLUME_NAME.re.test(volName)) fail(at, `must make a volume name "<container>-<name>" that ${VOLUME_NAME.mustBe.replace(/^must be/, "is")}`, volName);
      }
    } else if (!VOLUME_NAME.re.test(key)) {
      fail(at, `(its name is the volume's name) ${VOLUME_NAME.mustBe}`, key);
    }
    if (!isPlain(spec)) fail(at, "must be an object {size, …}", spec);
    const s = spec as Record<string, unknown>;
    const allowed = kind === "container" ? ["size", "path", "pool", "config", "readOnly"] : ["size", "pool", "config", "description"];
    for (const field of Object.keys(s)) {
      if (allowed.includes(field)) continue;
      if (kind === "tenant" && (field === "path" || field === "readOnly")) {
        throw new pulumi.InputPropertyError({
          propertyPath: `${at}.${field}`,
          reason: `${at}.${field} is not an input of a tenant volume: a TenantProject creates its volumes in the project but mounts them nowhere; mount one with a disk device {type: "disk", pool, source: "${key}", path} in a HardenedContainer's devices or an InstanceDevice, or use HardenedContainer volumes`,
        });
      }
      fail(at, `must have only the fields ${allowed.join(", ")}`, field);
    }
    if (s.size === undefined) fail(`${at}.size`, "must be given: a size with a unit, such as \"64MiB\" or \"10GiB\"", s.size);
    if (isKnown(s.size) && !isSizeString(s.size)) fail(`${at}.size`, "must be a size with a unit, such as \"64MiB\" or \"10GiB\"", s.size);
    if (isKnown(s.pool) && !(typeof s.pool === "string" && POOL_RE.test(s.pool))) fail(`${at}.pool`, "must name a storage pool (non-empty, no spaces or slashes)", s.pool);
    if (s.config !== undefined && isKnown(s.config) && !isPlain(s.config)) fail(`${at}.config`, "must be an object of LXD volume keys", s.config);
    if (isPlain(s.config) && "size" in s.config) fail(`${at}.config.size`, "must not be set (give the size as size)", s.config.size);
    if (kind === "tenant" && isKnown(s.description) && typeof s.description !== "string") fail(`${at}.description`, "must be a string", s.description);
    if (kind === "container") {
      if (s.path === undefined) fail(`${at}.path`, "must be given: the absolute mount path inside the container, such as \"/srv/data\"", s.path);
      if (isKnown(s.path)) {
        const p = s.path;
        if (typeof p !== "string" || !p.startsWith("/") || /[\n\r\0]/.test(p)) fail(`${at}.path`, "must be an absolute path inside the container, such as \"/srv/data\" (no line breaks)", p);
        const norm = (p as string).replace(/\/+$/, "");
        if (norm === "") fail(`${at}.path`, "must not be / (the root disk is mounted there)", p);
        const other = paths.get(norm);
        if (other !== undefined) fail(`${at}.path`, `must differ from the path of volumes.${other}`, p);
        paths.set(norm, key);
      }
      if (isKnown(s.readOnly) && typeof s.readOnly !== "boolean") fail(`${at}.readOnly`, "must be true or false", s.readOnly);
    }
    const sched = scheduleKey(s.config);
    if (sched && ctx.snapshotsAllowed === false) {
      throw new pulumi.InputPropertyError({
        propertyPath: `${at}.config.${sched}`,
        reason: `${at}.config.${sched} takes snapshots, which the project forbids (restricted.snapshots=block): ${ctx.snapshotsHint ?? "allow snapshots in the project"}, or drop the schedule`,
      });
    }
  }
}
