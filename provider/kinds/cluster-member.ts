/**
 * ClusterMember, host side: settings of an existing LXD cluster member. Members join a cluster outside Pulumi,
 * so this resource ADOPTS the member (never creates or deletes one) and manages only what it is given.
 *
 * LXD endpoints: GET|PUT /1.0/cluster/members/{name} (API extensions `clustering`, `clustering_roles`,
 * `clustering_groups`, `clustering_failure_domains`). Every write is a PUT of the whole member, with the ETag of
 * the read it was built from (LXD takes no PATCH of `config`: `The "database" role cannot be dropped`).
 *
 * Managed fields (each only when given): `description`, `groups` (the member's whole group list; cluster groups
 * must exist), `failureDomain`, `config` (only the keys given; other keys are left as they are).
 * Delete (destroy, or removal from the program) puts back what the resource changed: the values the member had
 * when it was adopted, for the fields and config keys it managed (groups that no longer exist are left out);
 * with `restoreOnDelete: false` it leaves the member as it is. Changing `name` (or the server) forces
 * replacement (another member).
 */
import { z } from "zod";
import { getClusterMember, listClusterGroups, memberPut, updateClusterMember, type ClusterMember, type ClusterMemberPut, type ConfigMap, type LxdClient } from "../lxd";
import { nameSchema, scalarSchema } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { normalizeConfig } from "../rules/values";
import { checkWith } from "../kit/check";
import type { Kind } from "../kit/contract";
import { CLUSTER_NAME } from "./cluster-group";

/** Inputs after check. */
export interface ClusterMemberInputs {
  name: string;
  description?: string;
  /** Sorted, without duplicates. */
  groups?: string[];
  failureDomain?: string;
  config?: ConfigMap;
  restoreOnDelete: boolean;
  connection?: ConnectionArgs;
}

/** What the member had before the resource changed it: put back on delete. */
export interface MemberBefore {
  description: string;
  groups: string[];
  failureDomain: string;
  /** Managed keys' previous values; "" = the key was not set. */
  config: ConfigMap;
}

/** State. */
export interface ClusterMemberOutputs extends ClusterMemberInputs {
  adoptedFrom: MemberBefore;
  /** LXD's status: `Online`, `Offline`, `Evacuated`, … */
  status: string;
  /** Roles LXD gave the member (`database`, `database-leader`, …). */
  roles: string[];
  /** `https://address:port` */
  url: string;
}

function schema() {
  const scalar = scalarSchema();
  return z
    .object({
      name: nameSchema(CLUSTER_NAME),
      description: z.string().optional(),
      groups: z.array(nameSchema(CLUSTER_NAME)).min(1, "must name at least one cluster group (LXD keeps every member in one)").transform((g) => [...new Set(g)].sort()).optional(),
      failureDomain: nameSchema(CLUSTER_NAME).optional(),
      config: z.record(z.string().min(1), scalar).optional(),
      restoreOnDelete: z.boolean().default(true),
      connection: connectionSchema().optional(),
    })
    .strict();
}

function outputs(m: ClusterMember, inputs: ClusterMemberInputs, adoptedFrom: MemberBefore): ClusterMemberOutputs {
  const o: ClusterMemberOutputs = {
    ...inputs,
    name: m.server_name,
    adoptedFrom,
    status: m.status,
    roles: m.roles ?? [],
    url: m.url,
  };
  if (inputs.description !== undefined) o.description = m.description ?? "";
  if (inputs.groups !== undefined) o.groups = [...(m.groups ?? [])].sort();
  if (inputs.failureDomain !== undefined) o.failureDomain = m.failure_domain ?? "";
  if (inputs.config !== undefined) o.config = Object.fromEntries(Object.keys(inputs.config).filter((k) => m.config?.[k] !== undefined).map((k) => [k, m.config[k]]));
  return o;
}

/** The member's PUT with `want`'s managed fields laid over what LXD holds; config keys given "" are removed. */
function overlay(cur: ClusterMember, want: { description?: string; groups?: string[]; failureDomain?: string; config?: ConfigMap }): ClusterMemberPut {
  const put = memberPut(cur);
  if (want.description !== undefined) put.description = want.description;
  if (want.groups !== undefined) put.groups = want.groups;
  if (want.failureDomain !== undefined) put.failure_domain = want.failureDomain;
  if (want.config) {
    const config = { ...put.config, ...want.config };
    for (const [k, v] of Object.entries(want.config)) if (v === "") delete config[k];
    put.config = config;
  }
  return put;
}

async function write(lxd: LxdClient, name: string, want: Parameters<typeof overlay>[1]): Promise<ClusterMember> {
  for (let attempt = 0; ; attempt++) {
    const { value, etag } = await getClusterMember(lxd, name);
    try {
      await updateClusterMember(lxd, name, overlay(value, want), etag);
      return (await getClusterMember(lxd, name)).value;
    } catch (err) {
      if (attempt < 4 && (err as { status?: number }).status === 412) continue;
      throw err;
    }
  }
}

/** Missing groups are said before LXD's own error. */
async function requireGroups(lxd: LxdClient, groups: string[] | undefined): Promise<void> {
  if (!groups) return;
  const have = new Set(await listClusterGroups(lxd));
  const missing = groups.filter((g) => !have.has(g));
  if (missing.length) throw new Error(`cluster group(s) ${missing.map((g) => `"${g}"`).join(", ")} do not exist (create them with ClusterGroup first)`);
}

function before(m: ClusterMember, config: ConfigMap | undefined): MemberBefore {
  return {
    description: m.description ?? "", groups: [...(m.groups ?? [])].sort(), failureDomain: m.failure_domain ?? "default",
    config: Object.fromEntries(Object.keys(config ?? {}).map((k) => [k, m.config?.[k] ?? ""])),
  };
}

export const clusterMemberKind: Kind<ClusterMemberInputs, ClusterMemberOutputs> = {
  noun: "cluster member",
  inProject: false,
  outputKeys: ["adoptedFrom", "status", "roles", "url"],
  diffKeys: ["name", "description", "groups", "failureDomain", "config", "restoreOnDelete"],
  replaceKeys: ["name"],

  async check(news) {
    const { value, failures } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    return { inputs: { ...value, config: value.config && typeof value.config === "object" ? normalizeConfig(value.config) : value.config } as ClusterMemberInputs };
  },

  async create({ lxd }, inputs, accepted) {
    const cur = (await getClusterMember(lxd, inputs.name)).value;
    const adoptedFrom = before(cur, inputs.config);
    await requireGroups(lxd, inputs.groups);
    accepted({ adoptedFrom });
    return outputs(await write(lxd, inputs.name, inputs), inputs, adoptedFrom);
  },

  async read({ lxd }, props) {
    return outputs((await getClusterMember(lxd, props.name)).value, props, props.adoptedFrom);
  },

  async update({ lxd }, olds, news) {
    await requireGroups(lxd, news.groups);
    const cur = (await getClusterMember(lxd, news.name)).value;
    // Keys newly managed: remember what they were; keys no longer managed: put back.
    const adoptedFrom = { ...olds.adoptedFrom, config: { ...olds.adoptedFrom.config } };
    for (const k of Object.keys(news.config ?? {})) if (!(k in adoptedFrom.config)) adoptedFrom.config[k] = cur.config?.[k] ?? "";
    const want: Parameters<typeof overlay>[1] = { ...news, config: { ...(news.config ?? {}) } };
    for (const k of Object.keys(olds.config ?? {})) if (!(k in (news.config ?? {}))) want.config![k] = adoptedFrom.config[k] ?? "";
    if (olds.description !== undefined && news.description === undefined) want.description = adoptedFrom.description;
    if (olds.groups !== undefined && news.groups === undefined) want.groups = await existing(lxd, adoptedFrom.groups);
    if (olds.failureDomain !== undefined && news.failureDomain === undefined) want.failureDomain = adoptedFrom.failureDomain;
    return outputs(await write(lxd, news.name, want), news, adoptedFrom);
  },

  async delete({ lxd }, props) {
    if (!props.restoreOnDelete) return;
    const b = props.adoptedFrom;
    await write(lxd, props.name, {
      description: props.description !== undefined ? b.description : undefined,
      groups: props.groups !== undefined ? await existing(lxd, b.groups) : undefined,
      failureDomain: props.failureDomain !== undefined ? b.failureDomain : undefined,
      config: props.config !== undefined ? Object.fromEntries(Object.keys(props.config).map((k) => [k, b.config[k] ?? ""])) : undefined,
    });
  },
};

/** The groups of `groups` that still exist (`default` when none does). */
async function existing(lxd: LxdClient, groups: string[]): Promise<string[]> {
  const have = new Set(await listClusterGroups(lxd));
  const kept = groups.filter((g) => have.has(g));
  return kept.length ? kept : ["default"];
}
