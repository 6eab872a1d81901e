/**
 * VolumeSnapshot, host side: a snapshot of a custom storage volume, and the explicit action of restoring the
 * volume from it.
 *
 * LXD endpoints: POST /1.0/storage-pools/{pool}/volumes/custom/{volume}/snapshots, GET|PUT|POST (rename)|DELETE
 * …/snapshots/{name}, PUT /1.0/storage-pools/{pool}/volumes/custom/{volume} `{restore: <name>}`, all with
 * `?project=`.
 *
 * Changing `pool`, `volume`, `project` (or the LXD server) forces replacement (a new snapshot of the volume as it
 * is then). `name` is renamed in place; `description` and `expiresAt` are updated in place.
 *
 * Restore: `restoreTrigger` is an opaque string. When an update changes it to a new non-empty value, the update
 * restores the volume from this snapshot (after any rename or description/expiry change of the same update),
 * and nothing else does: setting it at create, removing it, or any other change never restores. The diff shows
 * `restoreTrigger` as the changed property, so the restore is visible in the preview. LXD refuses to restore a
 * volume that a running instance uses ("Cannot restore custom volume used by running instances"): stop the
 * instance first; the message is surfaced. A restore replaces the volume's content with the snapshot's (what was
 * written since is lost) and deletes nothing else.
 *
 * Clusters: a volume on a local pool lives on one member, and its snapshots with it. The snapshot takes that member
 * from the volume (GET the volume, its `location`, at create; kept in the `location` output) and sends it as
 * `?target=` with every call, so a volume created with `StorageVolume.target` needs nothing more here. When several
 * members hold a volume of that name (LXD: "More than one cluster member has a volume named …"), `target` names the
 * member whose volume is meant (API extension `clustering`; a change forces replacement).
 *
 * A snapshot deleted outside the stack (or whose volume is gone) reads as gone, and the next `up` takes it again.
 * A create cut off before LXD answered (the daemon went away) is kept in state as partially created (`createdAt`
 * ""; a refresh keeps it so); the next run deletes whatever LXD holds of it (a copy may have stopped half-way) and
 * takes it again, or, with `adopt`, adopts it (destroy then leaves it).
 */
import { z } from "zod";
import {
  createStorageVolumeSnapshot, deleteStorageVolumeSnapshot, getStorageVolume, getStorageVolumeSnapshot, isConflict, isNotFound, isTransportError,
  renameStorageVolumeSnapshot, restoreStorageVolume, updateStorageVolumeSnapshot, type LxdClient, type StorageVolumeSnapshot,
} from "../lxd";
import { nameSchema, normalizeProject, POOL_NAME, projectSchema, VOLUME_NAME } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { checkWith } from "../kit/check";
import type { Kind } from "../kit/contract";
import { amend } from "../kit/errors";
import { memberTargetField, targetNeedsCluster, withoutPlacedTarget } from "./instance-placement";

/** What LXD answers for "never expires". */
const NEVER = "0001-01-01T00:00:00Z";
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** An RFC3339 time in UTC without fractions (how it is compared), or "" for never. */
export function normalizeExpiry(v: string | undefined): string {
  if (!v || v === NEVER || v.startsWith("0001-01-01")) return "";
  return new Date(v).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Inputs after check. */
export interface VolumeSnapshotInputs {
  pool: string;
  volume: string;
  name: string;
  project: string;
  description: string;
  /** RFC3339 in UTC, "" = never expires. */
  expiresAt: string;
  restoreTrigger?: string;
  adopt: boolean;
  /** Cluster member holding the volume, when several members hold a volume of that name. */
  target?: string;
  connection?: ConnectionArgs;
}

/** State. */
export interface VolumeSnapshotOutputs extends VolumeSnapshotInputs {
  /** When LXD took the snapshot (RFC3339). */
  createdAt: string;
  /** The volume config the snapshot holds. */
  config: Record<string, string>;
  contentType: string;
  /** The `restoreTrigger` value whose restore last ran ("" = none yet). */
  restoredFor: string;
  /** True when the snapshot existed before this stack and was adopted: destroy leaves it. */
  adopted: boolean;
  /** Cluster member holding the volume and the snapshot (the volume's `location`); "" on a single server or for a remote pool. */
  location: string;
}

function schema() {
  return z
    .object({
      pool: nameSchema(POOL_NAME),
      volume: nameSchema(VOLUME_NAME),
      name: nameSchema(VOLUME_NAME),
      project: projectSchema(),
      description: z.string().default(""),
      expiresAt: z.string().refine((v) => v === "" || (RFC3339_RE.test(v) && !Number.isNaN(Date.parse(v))), "must be an RFC3339 time such as \"2030-01-31T12:00:00Z\" (or \"\" for never)").default(""),
      restoreTrigger: z.string().optional(),
      adopt: z.boolean().default(false),
      target: memberTargetField("volume snapshot"),
      connection: connectionSchema().optional(),
    })
    .strict();
}

function outputsFrom(s: StorageVolumeSnapshot, i: VolumeSnapshotInputs, extra: { restoredFor: string; adopted: boolean; location: string }): VolumeSnapshotOutputs {
  return {
    ...i,
    name: s.name,
    description: s.description ?? "",
    expiresAt: normalizeExpiry(s.expires_at),
    // LXD 5.0.2 records no time for volume snapshots (it answers the zero time); "" is kept for a cut-off create.
    createdAt: s.created_at || NEVER,
    config: s.config ?? {},
    contentType: s.content_type ?? "",
    ...extra,
  } satisfies VolumeSnapshotOutputs;
}

/** The `?target=` of a snapshot's calls: the member holding its volume, or none. */
const at = (project: string, location: string) => ({ project, target: location || undefined });

const get = (lxd: LxdClient, i: { pool: string; volume: string; name: string }, project: string, location: string) =>
  getStorageVolumeSnapshot(lxd, i.pool, i.volume, i.name, at(project, location));

/**
 * The member holding the volume (its `location`): "" on a single server (`none`) or for a remote pool's volume.
 * `target` (the member named by the user) is asked for that member's volume.
 */
async function volumeMember(lxd: LxdClient, i: { pool: string; volume: string; target?: string }, project: string): Promise<string> {
  try {
    const loc = (await getStorageVolume(lxd, i.pool, i.volume, { project, target: i.target })).value.location;
    return loc && loc !== "none" ? loc : i.target ?? "";
  } catch (err) {
    if (/More than one cluster member/.test((err as Error).message)) throw amend(err, " (several cluster members hold a volume of this name: set target to the member whose volume is meant)");
    throw err;
  }
}

export const volumeSnapshotKind: Kind<VolumeSnapshotInputs, VolumeSnapshotOutputs> = {
  noun: "volume snapshot",
  outputKeys: ["createdAt", "config", "contentType", "restoredFor", "adopted", "location"],
  diffKeys: ["pool", "volume", "name", "project", "description", "expiresAt", "restoreTrigger", "target"],
  replaceKeys: ["pool", "volume", "project", "target"],
  idOf: (p) => `${normalizeProject(p.project)}/${p.pool}/${p.volume}/${p.name}`,
  subject: (verb, p) => `${verb} snapshot "${p.name}" of storage volume "${p.volume}" in pool "${p.pool}"`,

  async check(news, { open }) {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    const notCluster = unknownKeys.includes("target") ? undefined : await targetNeedsCluster(value.target, open);
    if (notCluster) return { failures: [{ property: "target", reason: notCluster }] };
    const project = unknownKeys.includes("project") ? value.project! : normalizeProject(value.project);
    const expiresAt = unknownKeys.includes("expiresAt") ? value.expiresAt : normalizeExpiry(value.expiresAt);
    return { inputs: { ...value, project, expiresAt } as VolumeSnapshotInputs };
  },

  async diff(olds, news, base) {
    // A create that was cut off (`createdAt` "" or absent): the update deletes what LXD may hold and takes it again.
    if (!olds.createdAt && !(base.replaces ?? []).length) return { ...base, changes: true };
    // `target` only says which member's volume is meant: naming the member it is on, or dropping it, is no change.
    base = withoutPlacedTarget(olds, news, base, volumeSnapshotKind.diffKeys);
    // Removing the trigger restores nothing: not a change worth an update on its own.
    if (news.restoreTrigger === undefined && olds.restoreTrigger !== undefined && base.changes) {
      const others = volumeSnapshotKind.diffKeys.filter((k) => k !== "restoreTrigger" && JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
      if (!others.length && !(base.replaces ?? []).length) return { ...base, changes: false };
    }
    return base;
  },

  async create({ lxd, project }, inputs, accepted) {
    const location = await volumeMember(lxd, inputs, project);
    const adopted = { restoredFor: inputs.restoreTrigger ?? "", adopted: false, location };
    try {
      await createStorageVolumeSnapshot(lxd, inputs.pool, inputs.volume, { name: inputs.name, ...(inputs.expiresAt ? { expires_at: inputs.expiresAt } : {}) }, at(project, location));
    } catch (err) {
      if (isTransportError(err)) accepted({ createdAt: "" }); // LXD may hold it: kept in state, the next run converges
      if (!isConflict(err)) throw err;
      if (!inputs.adopt) throw amend(err, " (set adopt: true to bring the existing snapshot under management)");
      adopted.adopted = true;
    }
    accepted({ createdAt: "", adopted: adopted.adopted, location });
    const { value, etag } = await get(lxd, inputs, project, location);
    if ((value.description ?? "") !== inputs.description || normalizeExpiry(value.expires_at) !== inputs.expiresAt) {
      await updateStorageVolumeSnapshot(lxd, inputs.pool, inputs.volume, inputs.name, { description: inputs.description, expires_at: inputs.expiresAt || NEVER }, etag, at(project, location));
    }
    return outputsFrom((await get(lxd, inputs, project, location)).value, inputs, adopted);
  },

  async read({ lxd, project }, props) {
    // A state written before `location` existed: ask the volume once.
    const location = props.location ?? (await volumeMember(lxd, props, project));
    const outs = outputsFrom((await get(lxd, props, project, location)).value, props, { restoredFor: props.restoredFor ?? "", adopted: props.adopted ?? false, location });
    // A create that was cut off stays so on refresh (what LXD holds may be half-made): the next run takes it again.
    return props.createdAt === "" ? { ...outs, createdAt: "" } : outs;
  },

  async update({ lxd, project }, olds, news) {
    const location = olds.location ?? (await volumeMember(lxd, news, project));
    let adopted = olds.adopted ?? false;
    if (!olds.createdAt) {
      // A create cut off before LXD answered (kept in state as partially created). What LXD may hold then is not
      // trusted (the copy may have stopped half-way; nothing in the API tells): deleted and taken again. With
      // `adopt` (or once adopted), a snapshot LXD holds may have been there before the stack: adopted, left on destroy.
      const keep = news.adopt || adopted;
      const held = await get(lxd, { ...news, name: olds.name }, project, location).then(() => true, (err: unknown) => {
        if (isNotFound(err)) return false;
        throw err;
      });
      if (held && !keep) await deleteStorageVolumeSnapshot(lxd, news.pool, news.volume, olds.name, at(project, location));
      if (!held || !keep) return volumeSnapshotKind.create({ lxd, project }, news, () => undefined);
      adopted = true;
    }
    if (olds.name !== news.name) await renameStorageVolumeSnapshot(lxd, news.pool, news.volume, olds.name, news.name, at(project, location));
    const { value, etag } = await get(lxd, news, project, location);
    if ((value.description ?? "") !== news.description || normalizeExpiry(value.expires_at) !== news.expiresAt) {
      await updateStorageVolumeSnapshot(lxd, news.pool, news.volume, news.name, { description: news.description, expires_at: news.expiresAt || NEVER }, etag, at(project, location));
    }
    let restoredFor = olds.restoredFor ?? "";
    if (news.restoreTrigger && news.restoreTrigger !== olds.restoreTrigger && news.restoreTrigger !== restoredFor) {
      try {
        await restoreStorageVolume(lxd, news.pool, news.volume, news.name, at(project, location));
      } catch (err) {
        throw amend(err, ` (restoring storage volume "${news.volume}" from snapshot "${news.name}" for restoreTrigger ${JSON.stringify(news.restoreTrigger)}; stop the instances using the volume and run again)`);
      }
      restoredFor = news.restoreTrigger;
    }
    return outputsFrom((await get(lxd, news, project, location)).value, news, { restoredFor, adopted, location });
  },

  async delete({ lxd, project }, props) {
    if (props.adopted) return; // it existed before this stack: left as it is
    await deleteStorageVolumeSnapshot(lxd, props.pool, props.volume, props.name, at(project, props.location ?? ""));
  },
};
