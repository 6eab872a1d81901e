/**
 * ClusterGroup, host side: an LXD cluster group (not in a project) and which members belong to it.
 *
 * LXD endpoints: POST /1.0/cluster/groups, GET|PUT|DELETE /1.0/cluster/groups/{name},
 * GET|PUT /1.0/cluster/members/{name} (API extension `clustering_groups`).
 *
 * Membership is written member by member: LXD's assign (a member's `groups`) REPLACES the member's groups, so each
 * member is read, this group added to (or removed from) its list, and the whole member PUT back: the member keeps
 * its other groups. A member left with no group goes back to `default` (LXD keeps every member in one).
 * Removing a member from `members` removes only this group from it. Delete takes the group off its members,
 * then deletes it. Changing `name` (or the server) forces replacement; `description` and `members` update in place.
 */
import { z } from "zod";
import {
  createClusterGroup, deleteClusterGroup, getClusterGroup, getClusterMember, isClustered, isConflict, memberPut, updateClusterGroup, updateClusterMember,
  type LxdClient,
} from "../lxd";
import { nameSchema, type NameRule } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { checkWith } from "../kit/check";
import { amend } from "../kit/errors";
import type { Kind } from "../kit/contract";

/** Cluster group and member names: 1–63 letters, digits, dots and dashes, starting with a letter or digit. */
export const CLUSTER_NAME: NameRule = { re: /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/, mustBe: "must be 1–63 letters, digits, '.' or '-', starting with a letter or digit" };

/** Inputs after check. */
export interface ClusterGroupInputs {
  name: string;
  description: string;
  /** Member names, sorted, without duplicates. */
  members: string[];
  connection?: ConnectionArgs;
}

/** State: the inputs as LXD holds them. */
export type ClusterGroupOutputs = ClusterGroupInputs;

function schema() {
  return z
    .object({
      name: nameSchema(CLUSTER_NAME).refine((n) => n !== "default", "must not be \"default\" (LXD's own group: manage its members with ClusterMember groups)"),
      description: z.string().default(""),
      members: z.array(nameSchema(CLUSTER_NAME)).default([]).transform((m) => [...new Set(m)].sort()),
      connection: connectionSchema().optional(),
    })
    .strict();
}

/** Adds (`add`) or removes this group from a member's groups, keeping its others: read, change, PUT the whole member. */
export async function setMembership(lxd: LxdClient, member: string, group: string, add: boolean): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const { value, etag } = await getClusterMember(lxd, member);
    const has = (value.groups ?? []).includes(group);
    if (has === add) return;
    let groups = add ? [...(value.groups ?? []), group] : (value.groups ?? []).filter((g) => g !== group);
    if (!groups.length) groups = ["default"];
    try {
      await updateClusterMember(lxd, member, { ...memberPut(value), groups }, etag);
      return;
    } catch (err) {
      if (attempt < 4 && (err as { status?: number }).status === 412) continue;
      throw new Error(`Failed to ${add ? "add" : "remove"} cluster group "${group}" ${add ? "to" : "from"} member "${member}": ${(err as Error).message}`, { cause: err });
    }
  }
}

async function readGroup(lxd: LxdClient, inputs: ClusterGroupInputs): Promise<ClusterGroupOutputs> {
  const g = (await getClusterGroup(lxd, inputs.name)).value;
  return { ...inputs, name: g.name, description: g.description ?? "", members: [...(g.members ?? [])].sort() } satisfies ClusterGroupOutputs;
}

async function requireCluster(lxd: LxdClient): Promise<void> {
  if (!(await isClustered(lxd))) throw new Error("the server is not clustered: cluster groups exist only in an LXD cluster");
}

export const clusterGroupKind: Kind<ClusterGroupInputs, ClusterGroupOutputs> = {
  noun: "cluster group",
  inProject: false,
  outputKeys: [],
  diffKeys: ["name", "description", "members"],
  replaceKeys: ["name"],

  async check(news) {
    const { value, failures } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    return { inputs: value as ClusterGroupInputs };
  },

  async create({ lxd }, inputs, accepted) {
    await requireCluster(lxd);
    try {
      await createClusterGroup(lxd, { name: inputs.name, description: inputs.description, members: [] });
    } catch (err) {
      if (isConflict(err)) throw amend(err, " (a cluster group of this name exists: import it under another name, or delete it first)");
      throw err;
    }
    accepted();
    for (const m of inputs.members) await setMembership(lxd, m, inputs.name, true);
    return readGroup(lxd, inputs);
  },

  async read({ lxd }, props) {
    return readGroup(lxd, props);
  },

  async update({ lxd }, olds, news) {
    const { value, etag } = await getClusterGroup(lxd, news.name);
    if ((value.description ?? "") !== news.description) {
      await updateClusterGroup(lxd, news.name, { description: news.description, members: value.members ?? [] }, etag);
    }
    for (const m of news.members) await setMembership(lxd, m, news.name, true);
    for (const m of olds.members ?? []) if (!news.members.includes(m)) await setMembership(lxd, m, news.name, false);
    return readGroup(lxd, news);
  },

  async delete({ lxd }, props) {
    const g = (await getClusterGroup(lxd, props.name)).value;
    for (const m of g.members ?? []) await setMembership(lxd, m, props.name, false);
    await deleteClusterGroup(lxd, props.name);
  },
};
