/**
 * InstanceSnapshot, host side: a snapshot of an LXD instance, its expiry, and restoring the instance from it as
 * an explicit action.
 *
 * LXD endpoints: POST /1.0/instances/{i}/snapshots, GET|PUT|POST(rename)|DELETE /1.0/instances/{i}/snapshots/{s},
 * GET /1.0/instances/{i}/state, PUT /1.0/instances/{i} {restore} (API extensions `snapshot_expiry`,
 * `snapshot_expiry_creation`, `snapshot_disk_usage`).
 *
 * Changing `instance`, `project`, `stateful` (or the LXD server) forces replacement; `name` is renamed in place;
 * `expiresAt` is updated in place (PUT). A new non-empty `restoreTrigger` restores the instance from this
 * snapshot; nothing else ever does. A running instance is restored only with `restartForRestore: true`: LXD
 * stops it, restores it and starts it again (measured on LXD 5.0.2).
 *
 * A snapshot whose create was cut off (the daemon went away) is kept in state with `createdAt: ""`; a refresh keeps
 * it so even when LXD lists it with its storage (the copy may have stopped half-way), and the next run replaces it
 * (delete what LXD may hold, create again).
 */
import { z } from "zod";
import {
  createInstanceSnapshot, deleteInstanceSnapshot, getInstance, getInstanceSnapshot, getInstanceState, isConflict, isNotFound, isRunningStatus,
  isTransportError, LxdError, NO_EXPIRY, renameInstanceSnapshot, restoreInstanceSnapshot, startInstance, updateInstanceSnapshot,
  type InstanceSnapshot as LxdSnapshot, type LxdClient,
} from "../lxd";
import { INSTANCE_NAME, nameSchema, normalizeProject, projectSchema, SNAPSHOT_NAME } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { canonicalTime, rfc3339Schema } from "../rules/time";
import { containsUnknown } from "../rules/values";
import { checkWith } from "../kit/check";
import type { Kind } from "../kit/contract";
import { amend } from "../kit/errors";

/** Inputs after check. */
export interface InstanceSnapshotInputs {
  /** The instance's name. */
  instance: string;
  /** The snapshot's name. */
  name: string;
  project: string;
  /** RFC3339 in UTC (normalised); absent = never expires. */
  expiresAt?: string;
  stateful: boolean;
  restoreTrigger?: string;
  restartForRestore: boolean;
  adopt: boolean;
  timeoutSec: number;
  connection?: ConnectionArgs;
}

/** State. */
export interface InstanceSnapshotOutputs extends InstanceSnapshotInputs {
  /** When LXD took the snapshot (RFC3339, UTC); "" while a cut-off create is not yet converged. */
  createdAt: string;
  /** Disk usage in bytes, when the storage driver can tell (not on `dir` pools). */
  size?: number;
  /** The `restoreTrigger` of the last restore this resource did. */
  lastRestoredTrigger?: string;
  /** When that restore was done (RFC3339, UTC). */
  lastRestoredAt?: string;
  /** True when the snapshot existed before this stack (`adopt: true`); it is managed fully (destroy deletes it). */
  adopted: boolean;
}

function schema() {
  return z
    .object({
      instance: nameSchema(INSTANCE_NAME),
      name: nameSchema(SNAPSHOT_NAME),
      project: projectSchema(),
      expiresAt: rfc3339Schema().optional(),
      stateful: z.boolean().default(false),
      restoreTrigger: z.string().optional(),
      restartForRestore: z.boolean().default(false),
      adopt: z.boolean().default(false),
      timeoutSec: z.number().int().min(-1).default(600),
      connection: connectionSchema().optional(),
    })
    .strict();
}

/** What a user reads in messages: `<instance>/<snapshot>`. */
const label = (p: { instance?: string; name?: string }) => `${p.instance}/${p.name}`;

function outputsFrom(s: LxdSnapshot, inputs: InstanceSnapshotInputs, extra: Pick<InstanceSnapshotOutputs, "lastRestoredTrigger" | "lastRestoredAt" | "adopted">): InstanceSnapshotOutputs {
  return {
    ...inputs,
    name: s.name,
    expiresAt: canonicalTime(s.expires_at),
    stateful: s.stateful,
    createdAt: canonicalTime(s.created_at) ?? "",
    size: typeof s.size === "number" && s.size >= 0 ? s.size : undefined,
    ...extra,
  } satisfies InstanceSnapshotOutputs;
}

const extraOf = (o: InstanceSnapshotOutputs) => ({ lastRestoredTrigger: o.lastRestoredTrigger, lastRestoredAt: o.lastRestoredAt, adopted: o.adopted ?? false });

/**
 * True when LXD holds the snapshot's record but not its storage: what a daemon killed during the snapshot's create
 * leaves (measured on LXD 5.0.2: the record is listed and answers GET, its storage volume snapshot answers 404).
 */
async function isBrokenSnapshot(lxd: LxdClient, project: string, instance: string, s: LxdSnapshot): Promise<boolean> {
  const pool = s.expanded_devices?.root?.pool;
  if (!pool) return false;
  const type = (await getInstance(lxd, instance, { project })).value.type === "virtual-machine" ? "virtual-machine" : "container";
  try {
    await lxd.get(`/1.0/storage-pools/${encodeURIComponent(pool)}/volumes/${type}/${encodeURIComponent(instance)}/snapshots/${encodeURIComponent(s.name)}`, { project });
    return false;
  } catch (err) {
    if (isNotFound(err)) return true;
    throw err;
  }
}

/**
 * The server's refusal of a stateful snapshot, with what it needs. LXD 5.0 asks CRIU at once ("Unable to create a
 * stateful snapshot. CRIU isn't installed"); Incus first wants `migration.stateful=true` on the instance
 * ("Stateful snapshots require that the instance has migration.stateful be set to true").
 */
async function statefulHint(lxd: LxdClient, err: unknown): Promise<Error> {
  if (err instanceof LxdError && /stateful/i.test(err.lxdMessage)) {
    const server = await lxd.serverKind().catch(() => "lxd" as const);
    const needs = server === "incus" ? "CRIU installed on the Incus server, migration.stateful=true on the instance" : "CRIU installed on the LXD server";
    return amend(err, ` (stateful: true saves the running state with CRIU: it needs ${needs} and a running instance; set stateful: false for a filesystem-only snapshot)`);
  }
  return err as Error;
}

/**
 * Refuses a restore of a running instance unless allowed: LXD restarts it. Returns whether it was running.
 * @throws Error naming `restartForRestore` when the instance runs and the restart is not allowed.
 */
async function guardRestore(lxd: LxdClient, project: string, news: InstanceSnapshotInputs): Promise<boolean> {
  const running = isRunningStatus((await getInstanceState(lxd, news.instance, { project })).status);
  if (running && !news.restartForRestore) {
    throw new Error(
      `restoring instance "${news.instance}" from snapshot "${news.name}" (restoreTrigger ${JSON.stringify(news.restoreTrigger)}) would restart it: ` +
        "it is running, and LXD stops it, restores its filesystem and starts it again. Set restartForRestore: true to allow that, or stop the instance first",
    );
  }
  return running;
}

/** True when the trigger asks for a restore: it changed, and it is not empty. */
const wantsRestore = (olds: { restoreTrigger?: string }, news: { restoreTrigger?: string }) =>
  !!news.restoreTrigger && !containsUnknown(news.restoreTrigger) && news.restoreTrigger !== olds.restoreTrigger;

export const instanceSnapshotKind: Kind<InstanceSnapshotInputs, InstanceSnapshotOutputs> = {
  noun: "instance snapshot",
  outputKeys: ["createdAt", "size", "lastRestoredTrigger", "lastRestoredAt", "adopted"],
  diffKeys: ["instance", "name", "project", "expiresAt", "stateful", "restoreTrigger"],
  replaceKeys: ["instance", "project", "stateful"],
  idOf: (p) => `${normalizeProject(p.project)}/${p.instance}/${p.name}`,
  subject: (verb, p) => `${verb} snapshot "${label(p)}"`,

  async check(news, { olds, open }) {
    const { value, failures } = checkWith(schema(), news);
    if (!value) return { failures };
    const project = containsUnknown(value.project) ? value.project! : normalizeProject(value.project);
    const inputs: InstanceSnapshotInputs = { ...value, project, expiresAt: containsUnknown(value.expiresAt) ? value.expiresAt : canonicalTime(value.expiresAt) };
    // A new expiry in the past would make LXD delete the snapshot at once (and the next run create it again).
    if (inputs.expiresAt && !containsUnknown(inputs.expiresAt) && inputs.expiresAt !== olds.expiresAt && Date.parse(inputs.expiresAt) <= Date.now()) {
      return { failures: [{ property: "expiresAt", reason: `expiresAt must be in the future, but ${JSON.stringify(value.expiresAt)} was provided` }] };
    }
    // A stateful snapshot needs a running instance: said at preview when the instance exists and is stopped (a
    // read; CRIU itself cannot be asked for without a write, LXD says so at create).
    if (inputs.stateful && olds.stateful !== true && !containsUnknown(inputs.instance) && !containsUnknown(news.connection)) {
      try {
        const { lxd } = open();
        const st = await getInstanceState(lxd, inputs.instance, { project });
        if (!isRunningStatus(st.status)) {
          return { failures: [{ property: "stateful", reason: `stateful must be false for a snapshot of instance "${inputs.instance}", which is ${st.status.toLowerCase()} (LXD: "Unable to create a stateful snapshot. The instance isn't running"), but true was provided` }] };
        }
      } catch {
        // Not there yet (created in the same run), or unreachable: LXD says at create.
      }
    }
    return { inputs };
  },

  diff(olds, news, base, open) {
    // A create that was cut off: replaced (LXD may hold a half-made snapshot).
    if (!olds.createdAt) return { changes: true, replaces: [...(base.replaces ?? []), "createdAt"], deleteBeforeReplace: true };
    // A restore that would restart a running instance without leave is refused at preview (a read).
    if (!(base.replaces ?? []).length && wantsRestore(olds, news) && !news.restartForRestore && !containsUnknown(news.instance) && !containsUnknown(news.connection)) {
      return (async () => {
        const { lxd, project } = open();
        let running = false;
        try {
          running = isRunningStatus((await getInstanceState(lxd, news.instance, { project })).status);
        } catch {
          // Unreachable or gone: the update says so.
        }
        if (running) await guardRestore(lxd, project, news);
        return base;
      })();
    }
    return base;
  },

  async create({ lxd, project }, inputs, accepted) {
    const held = { createdAt: "", adopted: false } as const;
    if (inputs.adopt) {
      let cur: LxdSnapshot | undefined;
      try {
        cur = (await getInstanceSnapshot(lxd, inputs.instance, inputs.name, { project })).value;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (cur && (await isBrokenSnapshot(lxd, project, inputs.instance, cur))) {
        // Nothing worth adopting: a record whose storage is gone. Deleted, then taken again below.
        await deleteInstanceSnapshot(lxd, inputs.instance, inputs.name, { project, timeoutSec: inputs.timeoutSec });
        cur = undefined;
      }
      if (cur) {
        if (cur.stateful !== inputs.stateful) {
          throw new Error(`snapshot "${label(inputs)}" exists with stateful ${cur.stateful}, but stateful ${inputs.stateful} was declared; a snapshot's statefulness cannot change`);
        }
        accepted({ ...held, adopted: true });
        if (canonicalTime(cur.expires_at) !== inputs.expiresAt) {
          const { etag } = await getInstanceSnapshot(lxd, inputs.instance, inputs.name, { project });
          await updateInstanceSnapshot(lxd, inputs.instance, inputs.name, { expires_at: inputs.expiresAt ?? NO_EXPIRY }, etag, { project, timeoutSec: inputs.timeoutSec });
        }
        const after = (await getInstanceSnapshot(lxd, inputs.instance, inputs.name, { project })).value;
        return outputsFrom(after, inputs, { adopted: true });
      }
    }
    try {
      await createInstanceSnapshot(lxd, inputs.instance, { name: inputs.name, stateful: inputs.stateful, expires_at: inputs.expiresAt }, { project, timeoutSec: inputs.timeoutSec });
    } catch (err) {
      // No answer (the daemon went away, the wait timed out): LXD may hold it. Kept in state; the next run replaces it.
      if (isTransportError(err)) accepted(held);
      // LXD says "already exists"; Incus 6.0 answers with its database's "UNIQUE constraint failed": said plainly.
      if (isConflict(err)) {
        const exists = /already exists/i.test(err.lxdMessage) ? "" : `snapshot "${label(inputs)}" already exists; `;
        throw amend(err, ` (${exists}set adopt: true to bring the existing snapshot under management)`);
      }
      throw await statefulHint(lxd, err);
    }
    accepted(held);
    const s = (await getInstanceSnapshot(lxd, inputs.instance, inputs.name, { project })).value;
    return outputsFrom(s, inputs, { adopted: false });
  },

  async read({ lxd, project }, props) {
    const s = (await getInstanceSnapshot(lxd, props.instance, props.name, { project })).value;
    const outs = outputsFrom(s, props, extraOf(props));
    // A create that was cut off stays not converged even when LXD holds the record and its storage: the copy may
    // have stopped half-way, and nothing in the API tells. The next run replaces it.
    if (props.createdAt === "" && !props.adopted) return { ...outs, createdAt: "" };
    // A record without its storage reads as not yet converged: the next run replaces it.
    return (await isBrokenSnapshot(lxd, project, props.instance, s)) ? { ...outs, createdAt: "" } : outs;
  },

  async update({ lxd, project }, olds, news) {
    const t = { project, timeoutSec: news.timeoutSec };
    if (olds.name !== news.name) await renameInstanceSnapshot(lxd, news.instance, olds.name, news.name, t);
    const { value: cur, etag } = await getInstanceSnapshot(lxd, news.instance, news.name, { project });
    if (canonicalTime(cur.expires_at) !== news.expiresAt) {
      await updateInstanceSnapshot(lxd, news.instance, news.name, { expires_at: news.expiresAt ?? NO_EXPIRY }, etag, t);
    }
    let restored: Pick<InstanceSnapshotOutputs, "lastRestoredTrigger" | "lastRestoredAt"> = { lastRestoredTrigger: olds.lastRestoredTrigger, lastRestoredAt: olds.lastRestoredAt };
    if (wantsRestore(olds, news)) {
      const wasRunning = await guardRestore(lxd, project, news);
      try {
        await restoreInstanceSnapshot(lxd, news.instance, news.name, t);
      } catch (err) {
        throw amend(err, ` (restoring instance "${news.instance}" from it, restoreTrigger ${JSON.stringify(news.restoreTrigger)})`);
      }
      // LXD starts a container it stopped for the restore; the promise is kept here whatever LXD did.
      if (wasRunning && !isRunningStatus((await getInstanceState(lxd, news.instance, { project })).status)) {
        await startInstance(lxd, news.instance, t);
      }
      restored = { lastRestoredTrigger: news.restoreTrigger, lastRestoredAt: canonicalTime(new Date().toISOString()) };
    }
    const after = (await getInstanceSnapshot(lxd, news.instance, news.name, { project })).value;
    return outputsFrom(after, news, { ...restored, adopted: olds.adopted ?? false });
  },

  async delete({ lxd, project }, props) {
    await deleteInstanceSnapshot(lxd, props.instance, props.name, { project, timeoutSec: props.timeoutSec });
  },
};
