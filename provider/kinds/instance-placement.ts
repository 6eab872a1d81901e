/**
 * Where an instance runs in an LXD cluster: the Instance kind's `target` input (a member name, or `@<group>`),
 * its `location` output, and moving an instance between members. Kept apart from instance.ts, which calls in.
 *
 * LXD endpoints: GET /1.0 (`environment.server_clustered`), POST /1.0/instances?target=…,
 * GET /1.0/cluster/members[/{name}], GET /1.0/cluster/groups/{name}, POST /1.0/instances/{name}?target=<member>
 * with `{migration: true}` (API extensions `clustering`, `clustering_groups`).
 *
 * - create: `?target=` as given (LXD picks the member of a group).
 * - diff: a change of `target` is an update, never a replacement. A group target that the instance's member
 *   already belongs to is no change at all.
 * - update: an instance whose member does not satisfy the new target is moved in place (data kept). A stopped
 *   one is moved; a running one is stopped, moved and started again only with `allowRestartForMove: true`
 *   (otherwise the preview, or the update, says why it cannot move). LXD cannot move to a group
 *   (`Failed to get target node`): a group target is resolved to its online member with the fewest instances of
 *   the instance's project (ties: by name), other than the one it is on.
 * - read: an instance whose member is offline fails the read with the member's name and status; the state is kept.
 * - a non-clustered server refuses `target` with a clear error.
 */
import { z } from "zod";
import {
  getClusterGroup, getClusterMember, getInstance, isClustered, isRunningStatus, listClusterMembers, LxdError, moveInstance, stopInstance,
  type ClusterMember, type LxdClient,
} from "../lxd";
import { lxdSays } from "../kit/errors";
import type * as pulumi from "@pulumi/pulumi";
import type { Scope } from "../kit/contract";
import { UNKNOWN } from "../rules/values";

/** The placement inputs of an instance. */
export interface PlacementInputs {
  /** A cluster member name, or `@<group>` for any member of a cluster group. Absent: LXD chooses (or a single server). */
  target?: string;
  /** Allow stopping a running instance to move it to another member (started again after). Default false. */
  allowRestartForMove?: boolean;
}

const MEMBER = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;

/** The zod fields of the placement inputs (spread into the Instance schema). */
export function placementFields() {
  return {
    target: z
      .string()
      .superRefine((t, ctx) => {
        if (!MEMBER.test(t.startsWith("@") ? t.slice(1) : t)) ctx.addIssue({ code: "custom", message: `must be a cluster member name or "@<cluster group>", but ${JSON.stringify(t)} was provided` });
      })
      .optional(),
    allowRestartForMove: z.boolean().optional(),
  };
}

/**
 * The zod field of a `target` that names one member, for objects LXD places on one member only (a custom volume
 * on a local pool). LXD 5.0 takes no `@<group>` for them: it answers "Cluster member not found".
 */
export function memberTargetField(noun: string) {
  return z
    .string()
    .superRefine((t, ctx) => {
      if (t.startsWith("@")) ctx.addIssue({ code: "custom", message: `must be one cluster member name: LXD places a ${noun} on one member and takes no cluster group for it (LXD 5.0 answers "Cluster member not found"), but ${JSON.stringify(t)} was provided` });
      else if (!MEMBER.test(t)) ctx.addIssue({ code: "custom", message: `must be a cluster member name (1–63 letters, digits, "." or "-"), but ${JSON.stringify(t)} was provided` });
    })
    .optional();
}

/**
 * The kit's diff without its `target` replacement when `target` is dropped or names the member the object is already
 * on (`location`): for a volume or a volume snapshot `target` only says where, so that is no change. Whether anything
 * else changed is recomputed over `diffKeys`. `base` itself when there is nothing to drop.
 */
export function withoutPlacedTarget<I extends { target?: string }>(
  olds: I & { location?: string }, news: I, base: pulumi.dynamic.DiffResult, diffKeys: readonly (keyof I & string)[],
): pulumi.dynamic.DiffResult {
  const replaces = (base.replaces ?? []).filter((k) => !(k === "target" && (news.target === undefined || news.target === olds.location)));
  if (replaces.length === (base.replaces ?? []).length) return base;
  const others = diffKeys.filter((k) => k !== "target" && JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
  return { ...base, changes: replaces.length > 0 || others.length > 0, replaces };
}

/** `location` as an output: the member the instance runs on; "" on a server that is not clustered. */
export function locationOf(inst: { location?: string }): string {
  return inst.location && inst.location !== "none" ? inst.location : "";
}

const isGroup = (t: string) => t.startsWith("@");
const known = (v: unknown) => v !== undefined && v !== UNKNOWN;

/** Refuses a target on a server that is not a cluster member. */
async function requireCluster(lxd: LxdClient, target: string): Promise<void> {
  if (!(await isClustered(lxd))) {
    throw new Error(`target ${JSON.stringify(target)} needs an LXD cluster, but the server is not clustered (remove target, or point connection at a cluster member)`);
  }
}

/**
 * Check-time: the failure reason for a `target` given to a server that is not clustered, or undefined (no target,
 * an unknown one, a cluster, or LXD could not be asked at preview: create refuses then). Shared by every kind
 * that takes a `target` (Instance, StorageVolume).
 */
export async function targetNeedsCluster(target: unknown, open: () => Scope): Promise<string | undefined> {
  if (!known(target) || !target) return undefined;
  try {
    if (await isClustered(open().lxd)) return undefined;
  } catch {
    return undefined;
  }
  return `target must be absent on a server that is not clustered (point connection at a cluster member, or remove target), but ${JSON.stringify(target)} was provided`;
}

/** The `?target=` of a create, after checking that the server is clustered; undefined without a target. */
export async function createTarget(lxd: LxdClient, target: string | undefined): Promise<string | undefined> {
  if (!target) return undefined;
  await requireCluster(lxd, target);
  return target;
}

/** The groups of a member (GET /1.0/cluster/members/{m}). */
async function groupsOf(lxd: LxdClient, member: string): Promise<string[]> {
  return (await getClusterMember(lxd, member)).value.groups ?? [];
}

/** Whether an instance on `location` satisfies `target` (no target: any place does). */
export async function satisfies(lxd: LxdClient, location: string, target: string | undefined): Promise<boolean> {
  if (!target) return true;
  if (!location) return false;
  if (!isGroup(target)) return location === target;
  return (await groupsOf(lxd, location)).includes(target.slice(1));
}

/**
 * Check-time guard: a target change that would need to stop a running instance is refused at preview, with the
 * reason, unless `allowRestartForMove` (or the instance is to be stopped anyway). Reads LXD; says nothing when
 * LXD cannot be read (update says it then).
 * @returns the failure reason, or undefined
 */
export async function checkPlacement(olds: Record<string, unknown>, news: PlacementInputs & { name?: string; running?: boolean }, open: () => Scope): Promise<string | undefined> {
  if (!known(news.target) || !news.target) return undefined;
  try {
    const notCluster = await targetNeedsCluster(news.target, open);
    if (notCluster) return notCluster;
    const { lxd, project } = open();
    if (olds.name === undefined || olds.target === news.target || news.allowRestartForMove || news.running === false) return undefined;
    const inst = (await getInstance(lxd, String(olds.name), { project })).value;
    if (!isRunningStatus(inst.status) || (await satisfies(lxd, locationOf(inst), news.target))) return undefined;
    return cannotMove(String(olds.name), locationOf(inst), news.target);
  } catch {
    return undefined;
  }
}

function cannotMove(name: string, from: string, to: string): string {
  return `instance "${name}" runs on member "${from}" and must move to ${to}: LXD moves only a stopped container (live migration needs CRIU), so this needs a stop and a start. Set allowRestartForMove: true to allow it, or running: false`;
}

/**
 * Diff refinement: a target change that the instance already satisfies (its member is in the new group, or the
 * new target is the member it is on) is no change when nothing else changed.
 */
export async function placementDiff(
  olds: Record<string, unknown>, news: Record<string, unknown>, base: { changes?: boolean; replaces?: string[] },
  diffKeys: readonly string[], open: () => Scope,
): Promise<boolean> {
  if (!base.changes || (base.replaces ?? []).length || olds.target === news.target || !known(news.target)) return false;
  const others = diffKeys.filter((k) => k !== "target" && JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
  if (others.length) return false;
  const location = typeof olds.location === "string" ? olds.location : "";
  if (!location) return false;
  try {
    return await satisfies(open().lxd, location, news.target as string | undefined);
  } catch {
    return false;
  }
}

/** The member a move to `target` goes to: the member itself, or the group's least loaded online member. */
export async function resolveMoveTarget(lxd: LxdClient, project: string, target: string, from: string): Promise<string> {
  if (!isGroup(target)) return target;
  const group = target.slice(1);
  const names = new Set((await getClusterGroup(lxd, group)).value.members ?? []);
  const online = (await listClusterMembers(lxd)).filter((m: ClusterMember) => names.has(m.server_name) && m.status === "Online" && m.server_name !== from);
  if (!online.length) throw new Error(`cluster group "${group}" has no online member to move to (members: ${[...names].join(", ") || "none"})`);
  const load = new Map<string, number>();
  const all = (await lxd.get<{ location?: string }[]>("/1.0/instances", { project, query: { recursion: "1" } })).metadata ?? [];
  for (const i of all) if (i.location) load.set(i.location, (load.get(i.location) ?? 0) + 1);
  online.sort((a, b) => (load.get(a.server_name) ?? 0) - (load.get(b.server_name) ?? 0) || a.server_name.localeCompare(b.server_name));
  return online[0].server_name;
}

/**
 * Update step: moves the instance when its member does not satisfy `news.target`. Stops a running instance
 * first only with `allowRestartForMove` (or when it is to be stopped anyway); the caller's converge starts it
 * again when it should run.
 */
export async function moveIfNeeded(
  lxd: LxdClient, project: string, name: string, news: PlacementInputs & { running?: boolean; timeouts?: { stopGraceSec?: number; updateSec?: number } },
): Promise<void> {
  if (!news.target) return;
  await requireCluster(lxd, news.target);
  const inst = (await getInstance(lxd, name, { project })).value;
  const from = locationOf(inst);
  if (await satisfies(lxd, from, news.target)) return;
  const to = await resolveMoveTarget(lxd, project, news.target, from);
  const t = news.timeouts ?? {};
  if (isRunningStatus(inst.status)) {
    if (!news.allowRestartForMove && news.running !== false) throw new Error(cannotMove(name, from, news.target));
    await stopInstance(lxd, name, { project, graceSec: t.stopGraceSec ?? 30, timeoutSec: t.updateSec ?? 600 });
  }
  try {
    await moveInstance(lxd, name, to, { project, timeoutSec: t.updateSec ?? 600 });
  } catch (err) {
    throw new Error(`Failed to move instance "${name}" in project "${project}" from member "${from}" to "${to}": ${lxdSays(err)}`, { cause: err });
  }
}

/**
 * Read guard: when reading an instance fails on a cluster, says which member holds it and its status (an
 * offline member), so the error names the member. A 404 is left as it is (gone).
 */
export async function explainReadFailure(lxd: LxdClient, location: string | undefined, err: unknown): Promise<unknown> {
  if (err instanceof LxdError && err.status === 404) return err;
  if (!location) return err;
  let state: string;
  try {
    const m = (await getClusterMember(lxd, location)).value;
    // Just after a member dies, the cluster may still list it online for a few seconds (heartbeats).
    state = m.status === "Online" ? "not answering (the cluster still lists it online)" : `${m.status.toLowerCase()} (${m.message || "no message"})`;
  } catch {
    state = "not answering";
  }
  return new Error(`its cluster member "${location}" is ${state}, so LXD cannot say what the instance is now; the state is kept as it was. Bring the member back (or evacuate it), then refresh. LXD said: ${lxdSays(err)}`, { cause: err });
}
