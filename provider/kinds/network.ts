/**
 * Network, host side: an LXD managed network (a bridge, or a macvlan/sriov/physical/ovn network).
 *
 * LXD endpoints: POST /1.0/networks, GET|PUT|DELETE /1.0/networks/{name}, GET /1.0/projects/{name}.
 *
 * Changing `type` or `project` (or the server) forces replacement; `name` too (LXD's network rename is not used:
 * it is not available for every type). `config` and `description` are updated in place with ETags. Keys LXD fills
 * itself at create (`ipv4.address`, `ipv4.nat`, `ipv6.address`, `ipv6.nat`) are kept by updates and never drift
 * unless the user writes them. A network in use (LXD's `used_by`) is never deleted: the delete fails first,
 * naming what uses it. An existing network is taken over only with `adopt: true` (its content is put back on destroy).
 *
 * On a cluster (GET /1.0 `environment.server_clustered`, GET /1.0/cluster/members): the member-specific keys
 * (`NETWORK_MEMBER_KEYS`: `bridge.external_interfaces`, `parent`, `bgp.ipv4.nexthop`, `bgp.ipv6.nexthop`) are given
 * per member in `members` and refused in `config`. Create: POST /1.0/networks?target=<member> for every member (with
 * its keys, or none), then one POST without target (LXD 5.0.2 drops that POST's description: a PUT sets it). Read:
 * GET ?target=<member> for every member. Update: PATCH ?target=<member> with that member's keys (a key dropped from the
 * program is unset), then the global PUT. Delete: one DELETE, as on one server.
 */
import { z } from "zod";
import {
  createNetwork, deleteNetwork, getNetwork, getProject, isConflict, isNotFound, patchNetwork, updateNetwork,
  type ConfigMap, type LxdClient, type Network as LxdNetwork, type NetworkPut,
} from "../lxd";
import { nameSchema, NETWORK_NAME, normalizeProject, projectSchema, configSchema, membersSchema } from "../rules/names";
import { isNetworkKey, NETWORK_AUTO_KEYS, NETWORK_MEMBER_KEYS, NETWORK_TYPES, type NetworkType } from "../rules/network-keys";
import { managedMembers, memberKeyFailures, type MemberConfigs } from "../rules/members";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { usersOf } from "../rules/used-by";
import { dropEmpty, normalizeConfig, UNKNOWN } from "../rules/values";
import { checkWith } from "../kit/check";
import type { Kind } from "../kit/contract";
import { amend, lxdSays } from "../kit/errors";
import { applyMembers, checkMembersOnServer, onCluster, readMemberConfig, requireMembersFit, type MemberCalls } from "../kit/members";

/** Inputs after check. */
export interface NetworkInputs {
  name: string;
  project: string;
  type: NetworkType;
  config: ConfigMap;
  description: string;
  adopt: boolean;
  /** On a cluster: member-specific keys by member (`{node1: {"bridge.external_interfaces": "eth1"}}`); absent when not given. */
  members?: MemberConfigs;
  connection?: ConnectionArgs;
}

/** What a network had before it was adopted: config, description and, on a cluster, each member's member-specific keys. */
export interface AdoptedNetwork extends NetworkPut {
  members?: MemberConfigs;
}

/** State. */
export interface NetworkOutputs extends NetworkInputs {
  /** True for a network LXD manages (always, for a network this resource holds). */
  managed: boolean;
  /** LXD's status: `Created`, `Pending` (cluster), `Errored`, `Unavailable`. */
  status: string;
  /** What uses the network (LXD's `used_by`: instance and profile URLs). */
  usedBy: string[];
  /** The whole config LXD holds, keys it filled itself included (`volatile.*` left out). */
  effectiveConfig: ConfigMap;
  /** Content the network had before it was adopted (put back on destroy); absent for networks this stack created. */
  adoptedFrom?: AdoptedNetwork;
  /** On a cluster: every member's member-specific keys as LXD has them; absent on one server. */
  memberConfig?: MemberConfigs;
}

function schema() {
  return z
    .object({
      name: nameSchema(NETWORK_NAME),
      project: projectSchema(),
      type: z.enum(NETWORK_TYPES).default("bridge"),
      config: configSchema().default({}),
      description: z.string().default(""),
      adopt: z.boolean().default(false),
      members: membersSchema().optional(),
      connection: connectionSchema().optional(),
    })
    .strict();
}

/** The member-specific keys of a network of `type` (`parent` is not a bridge's key). */
export function networkMemberKeys(type: NetworkType): string[] {
  return NETWORK_MEMBER_KEYS.filter((k) => isNetworkKey(type, k));
}

/** The calls that read and write one member's keys of network `name`. */
function memberCalls(lxd: LxdClient, name: string, project: string): MemberCalls {
  return {
    get: async (member) => {
      const { value, etag } = await getNetwork(lxd, name, { project, target: member });
      return { config: value.config ?? {}, etag };
    },
    patch: (member, config, description, etag) => patchNetwork(lxd, name, { config, description }, etag, { project, target: member }),
  };
}

/** Each member's member-specific keys, when the network is on a cluster. */
async function memberConfigOf(lxd: LxdClient, n: LxdNetwork, project: string): Promise<MemberConfigs | undefined> {
  if (!n.managed || !onCluster(n.locations)) return undefined;
  return readMemberConfig(memberCalls(lxd, n.name, project), n.locations ?? [], networkMemberKeys(n.type as NetworkType));
}

/** The user's part of a live config: every key but `volatile.*` and the keys LXD filled itself that the user did not write. */
export function ownNetworkConfig(live: ConfigMap | undefined, written: ConfigMap): ConfigMap {
  const out: ConfigMap = {};
  for (const [k, v] of Object.entries(live ?? {})) {
    if (k.startsWith("volatile.")) continue;
    if (NETWORK_AUTO_KEYS.includes(k) && !(k in written)) continue;
    out[k] = v;
  }
  return out;
}

/**
 * The config to PUT: the user's config, plus what LXD filled itself and the user never wrote (so an update does
 * not take a bridge's auto-picked address away), plus `volatile.*`.
 * @param before the config the user wrote before this change (a key written then and dropped now is removed)
 */
export function networkPutConfig(live: ConfigMap | undefined, before: ConfigMap, want: ConfigMap): ConfigMap {
  const keep = Object.entries(live ?? {}).filter(([k]) => k.startsWith("volatile.") || (NETWORK_AUTO_KEYS.includes(k) && !(k in before) && !(k in want)));
  return { ...Object.fromEntries(keep), ...want };
}

const withoutVolatile = (c: ConfigMap | undefined): ConfigMap => Object.fromEntries(Object.entries(c ?? {}).filter(([k]) => !k.startsWith("volatile.")));

function outputsFrom(n: LxdNetwork, inputs: NetworkInputs, adoptedFrom?: AdoptedNetwork, memberConfig?: MemberConfigs): NetworkOutputs {
  return {
    ...inputs,
    members: inputs.members ? managedMembers(memberConfig ?? {}, inputs.members) : undefined,
    memberConfig,
    name: n.name,
    type: n.type as NetworkType,
    config: ownNetworkConfig(n.config, inputs.config),
    description: n.description ?? "",
    managed: n.managed,
    status: n.status ?? "",
    usedBy: n.used_by ?? [],
    effectiveConfig: withoutVolatile(n.config),
    adoptedFrom,
  } satisfies NetworkOutputs;
}

/** Refuses a network in a project whose networks are the `default` project's (`features.networks` not true). */
async function ownNetworks(lxd: LxdClient, project: string): Promise<void> {
  if (project === "default") return;
  const p = (await getProject(lxd, project)).value;
  if (p.config?.["features.networks"] !== "true") {
    throw new Error(`project "${project}" has no networks of its own (features.networks is not true), so this would create the network in the "default" project. Give the project features.networks=true, or declare the network with project "default"`);
  }
}

export const networkKind: Kind<NetworkInputs, NetworkOutputs> = {
  noun: "network",
  outputKeys: ["managed", "status", "usedBy", "effectiveConfig", "adoptedFrom", "memberConfig"],
  diffKeys: ["name", "type", "config", "description", "project", "members"],
  replaceKeys: ["name", "type", "project"],

  async check(news, { open }) {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    const unknown = (k: string) => unknownKeys.includes(k);
    const config = unknown("config") ? (UNKNOWN as never as ConfigMap) : normalizeConfig(value.config);
    if (!unknown("config") && !unknown("type")) {
      for (const key of Object.keys(config)) {
        if (!isNetworkKey(value.type, key)) {
          failures.push({ property: `config.${key}`, reason: `config key "${key}" must be a config key of a ${value.type} network (LXD's network docs list them; user.* keys are free), but it is not one` });
        }
      }
    }
    // Member-specific keys, per member: the type's member keys only.
    let members: MemberConfigs | undefined;
    if (unknown("members")) members = UNKNOWN as never as MemberConfigs;
    else if (value.members && Object.keys(value.members).length) {
      members = Object.fromEntries(Object.entries(value.members).map(([m, c]) => [m, dropEmpty(normalizeConfig(c))]));
      if (!unknown("type")) failures.push(...memberKeyFailures(members, networkMemberKeys(value.type), `a ${value.type} network`));
    }
    if (!failures.length && !unknown("config") && !unknown("type")) {
      failures.push(...(await checkMembersOnServer(open, config, members, networkMemberKeys(value.type))));
    }
    if (failures.length) return { failures };
    const project = unknown("project") ? value.project! : normalizeProject(value.project);
    return { inputs: { ...value, project, members, config: unknown("config") ? config : dropEmpty(config) } };
  },

  async create({ lxd, project }, inputs, accepted) {
    await ownNetworks(lxd, project);
    const memberKeys = networkMemberKeys(inputs.type);
    const facts = await requireMembersFit(lxd, inputs.config, inputs.members, memberKeys);
    if (inputs.adopt) {
      try {
        let { value, etag } = await getNetwork(lxd, inputs.name, { project });
        if (!value.managed) throw new Error(`"${inputs.name}" is a host interface LXD does not manage: only a managed network can be adopted`);
        if (value.type !== inputs.type) throw new Error(`the existing network is of type ${value.type}, but type ${inputs.type} was provided`);
        const before = await memberConfigOf(lxd, value, project);
        const adoptedFrom: AdoptedNetwork = { config: withoutVolatile(value.config), description: value.description ?? "", ...(before ? { members: before } : {}) };
        if (before && (await applyMembers(memberCalls(lxd, inputs.name, project), undefined, inputs.members, inputs.description, memberKeys, true))) {
          ({ value, etag } = await getNetwork(lxd, inputs.name, { project }));
        }
        await updateNetwork(lxd, inputs.name, { config: networkPutConfig(value.config, {}, inputs.config), description: inputs.description }, etag, { project });
        accepted({ adoptedFrom });
        const now = (await getNetwork(lxd, inputs.name, { project })).value;
        return outputsFrom(now, inputs, adoptedFrom, await memberConfigOf(lxd, now, project));
      } catch (err) {
        if (!isNotFound(err)) throw new Error(`Failed to adopt network "${inputs.name}" in project "${project}": ${lxdSays(err)}`, { cause: err });
      }
    }
    const post = { name: inputs.name, type: inputs.type, config: inputs.config, description: inputs.description };
    let pending = false;
    try {
      if (facts.clustered) {
        // Pending on every member first (with its keys, or none), then once for the whole cluster.
        for (const m of facts.members) {
          await createNetwork(lxd, { name: inputs.name, type: inputs.type, config: inputs.members?.[m] ?? {}, description: inputs.description }, { project, target: m });
          pending = true;
        }
      }
      await createNetwork(lxd, post, { project });
    } catch (err) {
      // A network left pending on some members is removed again (when even that fails, it is reported as held).
      if (pending) await deleteNetwork(lxd, inputs.name, { project }).catch(() => accepted());
      if (isConflict(err)) throw amend(err, " (set adopt: true to bring the existing network under management)");
      throw err;
    }
    accepted();
    let { value: made, etag } = await getNetwork(lxd, inputs.name, { project });
    if (facts.clustered && (made.description ?? "") !== inputs.description) {
      // LXD 5.0.2 keeps no description from the global POST of a clustered network.
      await updateNetwork(lxd, inputs.name, { config: made.config ?? {}, description: inputs.description }, etag, { project });
      ({ value: made, etag } = await getNetwork(lxd, inputs.name, { project }));
    }
    return outputsFrom(made, inputs, undefined, await memberConfigOf(lxd, made, project));
  },

  async read({ lxd, project }, props) {
    const { value } = await getNetwork(lxd, props.name, { project });
    if (!value.managed) return undefined;
    return outputsFrom(value, props, props.adoptedFrom, await memberConfigOf(lxd, value, project));
  },

  async update({ lxd, project }, olds, news) {
    let { value: live, etag } = await getNetwork(lxd, news.name, { project });
    const onMembers = live.managed && onCluster(live.locations);
    if (news.members || onMembers) await requireMembersFit(lxd, news.config, news.members, networkMemberKeys(news.type));
    // Each member's keys first (a PATCH with ?target= also sets the description), then the global keys.
    if (onMembers && (await applyMembers(memberCalls(lxd, news.name, project), olds.members, news.members, news.description, networkMemberKeys(news.type), true))) {
      ({ value: live, etag } = await getNetwork(lxd, news.name, { project }));
    }
    await updateNetwork(lxd, news.name, { config: networkPutConfig(live.config, olds.config, news.config), description: news.description }, etag, { project });
    const now = (await getNetwork(lxd, news.name, { project })).value;
    return outputsFrom(now, news, olds.adoptedFrom, await memberConfigOf(lxd, now, project));
  },

  async delete({ lxd, project }, props) {
    let { value, etag } = await getNetwork(lxd, props.name, { project });
    if (props.adoptedFrom) {
      // Never delete what existed before this stack: put the adopted content back (each member's keys the program
      // managed first, then the global content).
      if (props.adoptedFrom.members && props.members) {
        const back = Object.fromEntries(Object.entries(props.members).map(([m, keys]) => [m, Object.fromEntries(Object.keys(keys).map((k) => [k, props.adoptedFrom!.members![m]?.[k] ?? ""]))]));
        const calls = memberCalls(lxd, props.name, project);
        for (const [m, keys] of Object.entries(back)) {
          const { config, etag: memberEtag } = await calls.get(m);
          const patch = Object.fromEntries(Object.entries(keys).filter(([k, v]) => (config[k] ?? "") !== v));
          if (Object.keys(patch).length) await calls.patch(m, patch, props.adoptedFrom.description, memberEtag);
        }
        ({ value, etag } = await getNetwork(lxd, props.name, { project }));
      }
      const volatile = Object.fromEntries(Object.entries(value.config ?? {}).filter(([k]) => k.startsWith("volatile.")));
      await updateNetwork(lxd, props.name, { config: { ...volatile, ...props.adoptedFrom.config }, description: props.adoptedFrom.description }, etag, { project });
      return;
    }
    const users = value.used_by ?? [];
    if (users.length) {
      throw new Error(`network "${props.name}" is in use by ${usersOf(users).join(", ")}; nothing was changed. Detach it from them (or delete them) first`);
    }
    await deleteNetwork(lxd, props.name, { project });
  },
};
