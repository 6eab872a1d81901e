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
 */
import { z } from "zod";
import {
  createNetwork, deleteNetwork, getNetwork, getProject, isConflict, isNotFound, updateNetwork,
  type ConfigMap, type LxdClient, type Network as LxdNetwork, type NetworkPut,
} from "../lxd";
import { CONFIG_KEY, nameSchema, NETWORK_NAME, normalizeProject, projectSchema } from "../rules/names";
import { isNetworkKey, NETWORK_AUTO_KEYS, NETWORK_TYPES, type NetworkType } from "../rules/network-keys";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { usersOf } from "../rules/used-by";
import { dropEmpty, normalizeConfig, UNKNOWN } from "../rules/values";
import { checkWith } from "../kit/check";
import type { Kind } from "../kit/contract";
import { amend, lxdSays } from "../kit/errors";

/** Inputs after check. */
export interface NetworkInputs {
  name: string;
  project: string;
  type: NetworkType;
  config: ConfigMap;
  description: string;
  adopt: boolean;
  connection?: ConnectionArgs;
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
  adoptedFrom?: NetworkPut;
}

function schema() {
  const scalar = z.union([z.string(), z.number(), z.boolean()]);
  return z
    .object({
      name: nameSchema(NETWORK_NAME),
      project: projectSchema(),
      type: z.enum(NETWORK_TYPES).default("bridge"),
      config: z.record(nameSchema(CONFIG_KEY), scalar).default({}),
      description: z.string().default(""),
      adopt: z.boolean().default(false),
      connection: connectionSchema().optional(),
    })
    .strict();
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

function outputsFrom(n: LxdNetwork, inputs: NetworkInputs, adoptedFrom?: NetworkPut): NetworkOutputs {
  return {
    ...inputs,
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
  outputKeys: ["managed", "status", "usedBy", "effectiveConfig", "adoptedFrom"],
  diffKeys: ["name", "type", "config", "description", "project"],
  replaceKeys: ["name", "type", "project"],

  async check(news) {
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
    if (failures.length) return { failures };
    const project = unknown("project") ? value.project! : normalizeProject(value.project);
    return { inputs: { ...value, project, config: unknown("config") ? config : dropEmpty(config) } };
  },

  async create({ lxd, project }, inputs, accepted) {
    await ownNetworks(lxd, project);
    if (inputs.adopt) {
      try {
        const { value, etag } = await getNetwork(lxd, inputs.name, { project });
        if (!value.managed) throw new Error(`"${inputs.name}" is a host interface LXD does not manage: only a managed network can be adopted`);
        if (value.type !== inputs.type) throw new Error(`the existing network is of type ${value.type}, but type ${inputs.type} was provided`);
        const adoptedFrom: NetworkPut = { config: withoutVolatile(value.config), description: value.description ?? "" };
        await updateNetwork(lxd, inputs.name, { config: networkPutConfig(value.config, {}, inputs.config), description: inputs.description }, etag, { project });
        accepted({ adoptedFrom });
        return outputsFrom((await getNetwork(lxd, inputs.name, { project })).value, inputs, adoptedFrom);
      } catch (err) {
        if (!isNotFound(err)) throw new Error(`Failed to adopt network "${inputs.name}" in project "${project}": ${lxdSays(err)}`, { cause: err });
      }
    }
    try {
      await createNetwork(lxd, { name: inputs.name, type: inputs.type, config: inputs.config, description: inputs.description }, { project });
    } catch (err) {
      if (isConflict(err)) throw amend(err, " (set adopt: true to bring the existing network under management)");
      throw err;
    }
    accepted();
    return outputsFrom((await getNetwork(lxd, inputs.name, { project })).value, inputs);
  },

  async read({ lxd, project }, props) {
    const { value } = await getNetwork(lxd, props.name, { project });
    if (!value.managed) return undefined;
    return outputsFrom(value, props, props.adoptedFrom);
  },

  async update({ lxd, project }, olds, news) {
    const { value: live, etag } = await getNetwork(lxd, news.name, { project });
    await updateNetwork(lxd, news.name, { config: networkPutConfig(live.config, olds.config, news.config), description: news.description }, etag, { project });
    return outputsFrom((await getNetwork(lxd, news.name, { project })).value, news, olds.adoptedFrom);
  },

  async delete({ lxd, project }, props) {
    const { value, etag } = await getNetwork(lxd, props.name, { project });
    if (props.adoptedFrom) {
      // Never delete what existed before this stack: put the adopted content back.
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
