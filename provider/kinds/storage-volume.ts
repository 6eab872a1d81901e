/**
 * StorageVolume, host side: a custom storage volume in a pool, in a project (what a `disk` device with `pool` +
 * `source` mounts into an instance; see InstanceDevice).
 *
 * LXD endpoints: POST /1.0/storage-pools/{pool}/volumes/custom (empty, or `source.type=copy`), GET|PUT (If-Match)
 * |POST (rename)|DELETE /1.0/storage-pools/{pool}/volumes/custom/{name}, all with `?project=`.
 *
 * Changing `pool`, `project`, `contentType`, `source`, `target` (or the LXD server) forces replacement (delete
 * before create; the data is lost: a replacement of a volume in use fails at its delete, before anything changes).
 * `name` is renamed in place (LXD updates the disk devices of stopped instances that use it; it refuses while
 * a running instance uses it, and that message is surfaced). `size`, `config` and `description` are updated in
 * place.
 *
 * Data safety:
 * - `size` only grows in place. A smaller size is refused at check (and again against the live size before the
 *   write), naming the data loss, unless `allowShrink: true`; then LXD decides (it refuses to shrink on some
 *   drivers, and its message is surfaced).
 * - Delete reads LXD's `used_by` first: a volume that an instance's disk device or a profile still uses is not
 *   touched, and the error names its users.
 * - An adopted volume (`adopt: true` on a volume that existed) is never deleted: destroy puts back the config and
 *   description it had when adopted and leaves its data alone.
 * - `security.shifted` / `security.unmapped` are judged by the hardening policy as class `idmap`: refused unless
 *   `securityOptOuts` names `idmap`.
 *
 * Clusters: on a local pool (`dir`, `btrfs`, `lvm`, `zfs`) a custom volume lives on one member. `target` (a member
 * name; API extension `clustering`) creates it there (`POST …/volumes/custom?target=<member>`); without it LXD puts
 * it on the member the connection talks to. Every later call (GET, PUT, rename, DELETE) carries `?target=` with the
 * volume's member (`target`, else its `location`): LXD answers 500 "More than one cluster member has a volume named
 * …" without it once another member holds a volume of the same name. A `@<group>` is refused at check (LXD 5.0
 * answers "Cluster member not found"), and so is `target` on a server that is not clustered. Moving a volume to
 * another member is a replacement (LXD copies between members; this resource does not): naming the member it is
 * already on, or dropping `target`, is no change.
 *
 * What `size` does per driver (measured on LXD 5.0.2): `btrfs` enforces it as a qgroup quota (a write past it
 * fails with "Disk quota exceeded"); `dir` stores it and enforces it only when the pool's backing filesystem
 * has project quotas — on an ext4 root without them (this test machine), a 40 MiB write into a 10 MiB volume
 * succeeds, and shrinking is accepted; `lvm`/`zfs`/`ceph` size the block device or dataset.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  createStorageVolume, deleteStorageVolume, getStorageVolume, isConflict, isNotFound, isTransportError, renameStorageVolume, updateStorageVolume,
  type ConfigMap, type LxdClient, type StorageVolume as LxdVolume,
} from "../lxd";
import { applyOptOuts, judgeConfigValue, refusalMessage, WEAKENING_CLASSES, type Finding, type WeakeningClass } from "../policy";
import { nameSchema, normalizeProject, POOL_NAME, projectSchema, VOLUME_NAME, configSchema } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { containsUnknown, dropEmpty, normalizeConfig, sameJson, UNKNOWN, userConfig } from "../rules/values";
import { checkWith } from "../kit/check";
import type { Kind } from "../kit/contract";
import { amend } from "../kit/errors";
import { createTarget, memberTargetField, targetNeedsCluster, withoutPlacedTarget } from "./instance-placement";


/** LXD size strings: a number and an optional unit (`B`, `kB`…`EB` powers of 1000, `KiB`…`EiB` powers of 1024). */
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB|TB|PB|EB|KiB|MiB|GiB|TiB|PiB|EiB)?$/;
const UNIT: Record<string, number> = {
  B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, PB: 1e15, EB: 1e18,
  KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40, PiB: 2 ** 50, EiB: 2 ** 60,
};

/** Bytes of an LXD size string, or undefined when it is not one. */
export function sizeBytes(s: string): number | undefined {
  const m = SIZE_RE.exec(s.trim());
  return m ? Number(m[1]) * UNIT[m[2] ?? "B"] : undefined;
}

/** `@hourly`-style schedules LXD accepts in `snapshots.schedule`, besides five-field cron expressions. */
const SCHEDULE_WORDS = ["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@annually", "@yearly", "@startup", "@never"];
const CRON_FIELD_RE = /^[0-9A-Za-z*/,?-]+$/;
/** `snapshots.expiry`: one or more `<n><unit>` with M (minutes), H (hours), d, w, m (months), y. */
const EXPIRY_RE = /^\s*(\d+[MHdwmy]\s*)+$/;

/** True when `v` is a `snapshots.schedule` LXD can read: comma-separated cron expressions or `@hourly`-style words. */
export function isSnapshotSchedule(v: string): boolean {
  return v.split(",").every((part) => {
    const p = part.trim();
    if (p.startsWith("@")) return SCHEDULE_WORDS.includes(p);
    const fields = p.split(/\s+/);
    return fields.length === 5 && fields.every((f) => CRON_FIELD_RE.test(f));
  });
}

/** Where a volume is copied from (same server): a custom volume in any pool of the same project. */
export interface VolumeSource {
  pool: string;
  name: string;
  /** Copy without the source's snapshots (LXD `volume_only`). Default false: its snapshots come along. */
  volumeOnly: boolean;
}

/** Inputs after check. `config` never holds `size` (that is the `size` input). */
export interface StorageVolumeInputs {
  pool: string;
  name: string;
  project: string;
  contentType: "filesystem" | "block";
  size?: string;
  config: ConfigMap;
  description: string;
  source?: VolumeSource;
  /** Cluster member to create the volume on (`?target=`); absent: the member the connection talks to (or a single server). */
  target?: string;
  allowShrink: boolean;
  securityOptOuts: WeakeningClass[];
  adopt: boolean;
  connection?: ConnectionArgs;
}

/** State. */
export interface StorageVolumeOutputs extends StorageVolumeInputs {
  /** What uses the volume, as LXD lists it: `/1.0/instances/<name>`, `/1.0/profiles/<name>` (with `?project=`). */
  usedBy: string[];
  /** The config LXD holds (size and the keys LXD filled in from the pool's `volume.*` defaults included). */
  effectiveConfig: ConfigMap;
  /** Keys LXD filled in at create (pool defaults, e.g. `block.filesystem` on lvm): not drift, kept on updates. */
  lxdDefaults: ConfigMap;
  /** LXD's volume type: `custom`. */
  type: string;
  /** Cluster member holding the volume; `none` on a standalone server. */
  location: string;
  /** Accepted findings of the hardening policy (classes named in `securityOptOuts`). */
  weakened: Finding[];
  /** The volume's config and description before it was adopted (put back on destroy); absent for volumes this stack created. */
  adoptedFrom?: { config: ConfigMap; description: string };
}

function schema() {
  return z
    .object({
      pool: nameSchema(POOL_NAME),
      name: nameSchema(VOLUME_NAME),
      project: projectSchema(),
      contentType: z.enum(["filesystem", "block"]).default("filesystem"),
      size: z.union([z.string(), z.number()]).optional(),
      config: configSchema().default({}),
      description: z.string().default(""),
      source: z.object({ pool: nameSchema(POOL_NAME), name: nameSchema(VOLUME_NAME), volumeOnly: z.boolean().default(false) }).strict().optional(),
      target: memberTargetField("custom storage volume"),
      allowShrink: z.boolean().default(false),
      securityOptOuts: z.array(z.enum(WEAKENING_CLASSES)).default([]),
      adopt: z.boolean().default(false),
      connection: connectionSchema().optional(),
    })
    .strict();
}

type Failure = pulumi.dynamic.CheckFailure;

/** `<field> must be …, but <value> was provided`. */
const bad = (property: string, must: string, value: unknown): Failure => ({ property, reason: `${property} must be ${must}, but ${JSON.stringify(value)} was provided` });

/** The shrink refusal, or undefined when `next` is not smaller than `prev`. */
export function shrinkRefusal(prev: string | undefined, next: string | undefined, allowShrink: boolean): string | undefined {
  if (allowShrink || prev === undefined || next === undefined) return undefined;
  const a = sizeBytes(prev);
  const b = sizeBytes(next);
  if (a === undefined || b === undefined || b >= a) return undefined;
  return `size must not shrink (from ${prev} to ${next}): shrinking a volume cuts off whatever lies past the new size (data loss), and some drivers refuse it. Set allowShrink: true to let LXD shrink it, but ${JSON.stringify(next)} was provided`;
}

/** The volume's users in words: `instance "c1" (project "p")`, `profile "x"`. */
export function describeUsers(usedBy: string[]): string {
  return usedBy.map((u) => {
    const [p, q] = u.split("?");
    const parts = p.split("/");
    const name = decodeURIComponent(parts.pop() ?? "");
    const what = (parts.pop() ?? "").replace(/s$/, "");
    const project = new URLSearchParams(q ?? "").get("project");
    return `${what} "${name}"${project ? ` (project "${project}")` : ""}`;
  }).join(", ");
}

/** The policy's findings on a volume config, split by the opt-outs. */
function judge(config: ConfigMap, optOuts: WeakeningClass[]): { refused: Finding[]; weakened: Finding[] } {
  return applyOptOuts(Object.entries(config).flatMap(([k, v]) => judgeConfigValue(k, v)), optOuts);
}

/** The config written to LXD: the desired config, `size`, and the keys LXD filled in at create (kept). */
function wanted(i: StorageVolumeInputs, defaults: ConfigMap): ConfigMap {
  return { ...defaults, ...i.config, ...(i.size !== undefined ? { size: i.size } : {}) };
}

/** State from LXD's record: `config` is what is not `size`, not server-owned and not an LXD default left as it was. */
function outputsFrom(v: LxdVolume, i: StorageVolumeInputs, lxdDefaults: ConfigMap, adoptedFrom?: StorageVolumeOutputs["adoptedFrom"]): StorageVolumeOutputs {
  const live = userConfig(v.config);
  const config: ConfigMap = {};
  for (const [k, x] of Object.entries(live)) {
    if (k === "size") continue;
    if (!(k in i.config) && lxdDefaults[k] === x) continue;
    config[k] = x;
  }
  return {
    ...i,
    name: v.name,
    contentType: (v.content_type as StorageVolumeInputs["contentType"]) ?? i.contentType,
    size: live.size,
    config,
    description: v.description ?? "",
    usedBy: v.used_by ?? [],
    effectiveConfig: v.config ?? {},
    lxdDefaults,
    type: v.type,
    location: v.location ?? "",
    weakened: judge(config, i.securityOptOuts ?? []).weakened,
    adoptedFrom,
  } satisfies StorageVolumeOutputs;
}

/** Refuses a write that would shrink the live volume (its size read now). */
function guardShrink(live: LxdVolume, news: StorageVolumeInputs): void {
  const why = shrinkRefusal(live.config?.size, news.size, news.allowShrink);
  if (why) throw new Error(why.replace(/, but .*$/, ` (the live volume is ${live.config?.size})`));
}

/**
 * The member every call about the volume carries as `?target=`: `target`, else the `location` LXD reported (a
 * member name on a cluster; `none` or "" on a single server or for a remote pool's volume: no `?target=`).
 */
function memberOf(target: string | undefined, location?: string): string | undefined {
  if (target) return target;
  return location && location !== "none" ? location : undefined;
}

async function read(lxd: LxdClient, pool: string, name: string, project: string, target?: string): Promise<{ value: LxdVolume; etag: string }> {
  return getStorageVolume(lxd, pool, name, { project, target });
}

export const storageVolumeKind: Kind<StorageVolumeInputs, StorageVolumeOutputs> = {
  noun: "storage volume",
  outputKeys: ["usedBy", "effectiveConfig", "lxdDefaults", "type", "location", "weakened", "adoptedFrom"],
  diffKeys: ["pool", "name", "project", "contentType", "size", "config", "description", "source", "target"],
  replaceKeys: ["pool", "project", "contentType", "source", "target"],
  idOf: (p) => `${normalizeProject(p.project)}/${p.pool}/${p.name}`,
  subject: (verb, p) => `${verb} storage volume "${p.name}" in pool "${p.pool}"`,

  async check(news, { olds, open }) {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    const unknown = (k: string) => unknownKeys.includes(k);
    const config = unknown("config") ? (UNKNOWN as never as ConfigMap) : normalizeConfig(value.config);
    let size = value.size === undefined ? undefined : String(value.size);
    if (size !== undefined && !unknown("size") && sizeBytes(size) === undefined) failures.push(bad("size", `an LXD size string such as "20MiB" or "10GiB" (units B, kB…EB, KiB…EiB)`, value.size));
    if (!unknown("config")) {
      const inConfig = config.size;
      if (inConfig !== undefined && inConfig !== "") {
        if (sizeBytes(inConfig) === undefined) failures.push(bad("config.size", `an LXD size string such as "20MiB"`, inConfig));
        else if (size !== undefined && !unknown("size") && sizeBytes(size) !== sizeBytes(inConfig)) {
          failures.push({ property: "config.size", reason: `config.size must not differ from size (give the size once, preferably as size), but ${JSON.stringify(inConfig)} and size ${JSON.stringify(size)} were provided` });
        } else size ??= inConfig;
      }
      delete config.size;
      const sched = config["snapshots.schedule"];
      if (sched !== undefined && sched !== "" && !isSnapshotSchedule(sched)) failures.push(bad("config.snapshots.schedule", `a cron expression of five fields ("0 3 * * *") or one of ${SCHEDULE_WORDS.join(", ")} (several separated by commas)`, sched));
      const expiry = config["snapshots.expiry"];
      if (expiry !== undefined && expiry !== "" && !EXPIRY_RE.test(expiry)) failures.push(bad("config.snapshots.expiry", `a duration such as "1d", "2w" or "1d 12H" (units M, H, d, w, m, y)`, expiry));
      if (!unknown("securityOptOuts")) for (const f of judge(config, value.securityOptOuts).refused) failures.push({ property: "config", reason: refusalMessage(f) });
    }
    if (!unknown("size") && !unknown("allowShrink") && olds && typeof olds.size === "string" && !containsUnknown(olds.size)
      && olds.pool === value.pool && normalizeProject(olds.project as string) === normalizeProject(value.project)) {
      const why = shrinkRefusal(olds.size, size, value.allowShrink);
      if (why) failures.push({ property: "size", reason: why });
    }
    if (failures.length) return { failures };
    const notCluster = unknown("target") ? undefined : await targetNeedsCluster(value.target, open);
    if (notCluster) return { failures: [{ property: "target", reason: notCluster }] };
    const project = unknown("project") ? value.project! : normalizeProject(value.project);
    return { inputs: { ...value, project, size, config: unknown("config") ? config : dropEmpty(config) } as StorageVolumeInputs };
  },

  async diff(olds, news, base) {
    // `target` only places the create: naming the member the volume is already on, or dropping `target`, is no change.
    const d = withoutPlacedTarget(olds, news, base, storageVolumeKind.diffKeys);
    if (d === base) return base;
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: (d.replaces ?? []).length > 0 };
  },

  async create({ lxd, project }, inputs, accepted) {
    const target = await createTarget(lxd, inputs.target);
    const post = {
      name: inputs.name, type: "custom" as const, content_type: inputs.contentType, description: inputs.description,
      config: wanted(inputs, {}),
      ...(inputs.source ? { source: { type: "copy" as const, pool: inputs.source.pool, name: inputs.source.name, volume_only: inputs.source.volumeOnly } } : {}),
    };
    try {
      await createStorageVolume(lxd, inputs.pool, post, { project, target });
    } catch (err) {
      // The daemon went away mid-create: LXD may hold the volume. Keep it in state; the next run converges.
      if (isTransportError(err)) accepted();
      if (!isConflict(err)) throw err;
      if (!inputs.adopt) throw amend(err, " (set adopt: true to bring the existing volume under management)");
      const { value, etag } = await read(lxd, inputs.pool, inputs.name, project, target);
      if (value.content_type !== inputs.contentType) throw new Error(`the existing volume has content type "${value.content_type}", but contentType "${inputs.contentType}" was provided`);
      guardShrink(value, inputs);
      const adoptedFrom = { config: userConfig(value.config), description: value.description ?? "" };
      await updateStorageVolume(lxd, inputs.pool, inputs.name, { config: wanted(inputs, {}), description: inputs.description }, etag, { project, target });
      accepted({ adoptedFrom });
      return outputsFrom((await read(lxd, inputs.pool, inputs.name, project, target)).value, inputs, {}, adoptedFrom);
    }
    accepted();
    let { value, etag } = await read(lxd, inputs.pool, inputs.name, project, target);
    if (inputs.source) {
      // A copy starts with the source's config: bring it to the declared one (keeping what LXD filled in).
      const desired = wanted(inputs, {});
      if (!sameJson(userConfig(value.config), desired) || value.description !== inputs.description) {
        await updateStorageVolume(lxd, inputs.pool, inputs.name, { config: desired, description: inputs.description }, etag, { project, target });
        ({ value, etag } = await read(lxd, inputs.pool, inputs.name, project, target));
      }
    }
    const written = wanted(inputs, {});
    const lxdDefaults = Object.fromEntries(Object.entries(userConfig(value.config)).filter(([k]) => !(k in written)));
    return outputsFrom(value, inputs, lxdDefaults);
  },

  async read({ lxd, project }, props) {
    return outputsFrom((await read(lxd, props.pool, props.name, project, memberOf(props.target, props.location))).value, props, props.lxdDefaults ?? {}, props.adoptedFrom);
  },

  async update({ lxd, project }, olds, news) {
    const target = memberOf(news.target, olds.location);
    if (olds.type === undefined) {
      // A create cut off before LXD answered (kept in state as partially created): create it now unless LXD holds it.
      try {
        await read(lxd, news.pool, news.name, project, target);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        return storageVolumeKind.create({ lxd, project }, news, () => undefined);
      }
    }
    if (olds.name !== news.name) {
      try {
        await renameStorageVolume(lxd, news.pool, olds.name, news.name, { project, target });
      } catch (err) {
        throw amend(err, ` (renaming storage volume "${olds.name}" to "${news.name}")`);
      }
    }
    const { value: live, etag } = await read(lxd, news.pool, news.name, project, target);
    guardShrink(live, news);
    const defaults = olds.lxdDefaults ?? {};
    // Keep LXD's own defaults as they are now; everything else is the declared config (drift is removed).
    const keep = Object.fromEntries(Object.entries(userConfig(live.config)).filter(([k]) => k in defaults));
    await updateStorageVolume(lxd, news.pool, news.name, { config: wanted(news, keep), description: news.description }, etag, { project, target });
    return outputsFrom((await read(lxd, news.pool, news.name, project, target)).value, news, defaults, olds.adoptedFrom);
  },

  async delete({ lxd, project }, props) {
    const target = memberOf(props.target, props.location);
    const { value, etag } = await read(lxd, props.pool, props.name, project, target);
    const users = value.used_by ?? [];
    if (props.adoptedFrom) {
      // Never delete what existed before this stack: put back what it had, keep the data.
      await updateStorageVolume(lxd, props.pool, props.name, { config: { ...props.adoptedFrom.config }, description: props.adoptedFrom.description }, etag, { project, target });
      return;
    }
    if (users.length) {
      throw new Error(`it is still used by ${describeUsers(users)}: nothing was changed. Detach it first (remove the disk device or the profile that names it), or keep the volume`);
    }
    await deleteStorageVolume(lxd, props.pool, props.name, { project, target });
  },
};
