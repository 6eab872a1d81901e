/**
 * StoragePool, host side: an LXD storage pool (server-wide, not in a project).
 *
 * LXD endpoints: POST /1.0/storage-pools, GET|PUT|DELETE /1.0/storage-pools/{name} (every write waited on when LXD
 * answers `async`).
 *
 * Changing `driver` or the pool's `config.source` (or the LXD server) forces replacement; `description` and the
 * rest of `config` are updated in place with ETags (LXD refuses some changes itself, e.g. a `size` it cannot
 * apply: its message is passed on). Keys LXD fills in (`source`, `size`, the volume group or dataset name, …)
 * while the program leaves them out, and `volatile.*`, are LXD's: never drift, kept on every update.
 *
 * An existing pool is adopted with `adopt: true` (its former config and description kept in state and put back on
 * destroy, never deleted); the pool named `default` is always adopted when it exists and never deleted. A delete of
 * a pool that anything uses (LXD's `used_by`: profiles, instances, volumes) fails before anything changes, naming
 * the users; a replacement of such a pool fails at preview the same way. Cached images do not count: LXD drops their
 * volumes with the pool and keeps the images.
 *
 * On a cluster (GET /1.0 `environment.server_clustered`, GET /1.0/cluster/members): the member-specific keys
 * (`MEMBER_SPECIFIC_POOL_KEYS`: `source`, `size`, `zfs.pool_name`, `lvm.vg_name`, `lvm.thinpool_name`) are given per
 * member in `members` and refused in `config`. Create: POST /1.0/storage-pools?target=<member> for every member of
 * the cluster (with its keys, or none), then one POST without target and without them. Read: GET ?target=<member> for
 * every member the pool is on. Update: PATCH ?target=<member> with that member's keys, then the global PUT. A member's
 * different `source` forces replacement. Delete: one DELETE, as on one server.
 */
import { z } from "zod";
import {
  createStoragePool, deleteStoragePool, getStoragePool, isConflict, isNotFound, patchStoragePool, updateStoragePool,
  type ConfigMap, type LxdClient, type StoragePool as LxdStoragePool, type StoragePoolPut,
} from "../lxd";
import { nameSchema, POOL_NAME, configSchema, membersSchema } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { dropEmpty, normalizeConfig, sameJson, UNKNOWN } from "../rules/values";
import { memberKeyFailures, managedMembers, type ClusterFacts, type MemberConfigs } from "../rules/members";
import {
  isVolatilePoolKey, MEMBER_SPECIFIC_POOL_KEYS, POOL_DRIVERS, poolKeyProblem, protectedSourceReason, SERVER_FILLED_POOL_KEYS, type PoolDriver,
} from "../rules/storage-pool";
import { describeUsedByInProject } from "../rules/used-by";
import { POOL_KEY_EXTENSIONS, serverName } from "../rules/server-keys";
import { checkWith } from "../kit/check";
import { amend, lxdSays } from "../kit/errors";
import type { Kind } from "../kit/contract";
import { applyMembers, checkMembersOnServer, onCluster, readMemberConfig, requireMembersFit, type MemberCalls } from "../kit/members";

/** Inputs after check. */
export interface StoragePoolInputs {
  name: string;
  driver: PoolDriver;
  config: ConfigMap;
  description: string;
  adopt: boolean;
  /** On a cluster: member-specific keys by member (`{node1: {source: "/srv/a"}}`); absent when not given. */
  members?: MemberConfigs;
  connection?: ConnectionArgs;
}

/** What a pool had before it was adopted: config, description and, on a cluster, each member's member-specific keys. */
export interface AdoptedPool extends StoragePoolPut {
  members?: MemberConfigs;
}

/** State. */
export interface StoragePoolOutputs extends StoragePoolInputs {
  /** Config and description the pool had before it was adopted (put back on destroy); absent for pools this stack created. */
  adoptedFrom?: AdoptedPool;
  /** On a cluster: every member's member-specific keys as LXD has them (the `source` and `size` LXD filled in included); absent on one server. */
  memberConfig?: MemberConfigs;
  /** The pool's whole config as LXD has it (the keys LXD filled in and `volatile.*` included). */
  effectiveConfig: ConfigMap;
  /** LXD's status of the pool: `Created`, `Pending`, `Errored`, `Unavailable`. */
  status: string;
  /** What LXD lists as using the pool (profiles, instances, volumes, images), as API paths. */
  usedBy: string[];
  /** Cluster members the pool is on (`none` on a server that is not clustered). */
  locations: string[];
}

function schema() {
  return z
    .object({
      name: nameSchema(POOL_NAME),
      driver: z.enum(POOL_DRIVERS, { message: `must be one of ${POOL_DRIVERS.join(", ")}` }),
      config: configSchema().default({}),
      description: z.string().default(""),
      adopt: z.boolean().default(false),
      members: membersSchema().optional(),
      connection: connectionSchema().optional(),
    })
    .strict();
}

/** The calls that read and write one member's keys of pool `name`. */
function memberCalls(lxd: LxdClient, name: string): MemberCalls {
  return {
    get: async (member) => {
      const { value, etag } = await getStoragePool(lxd, name, { target: member });
      return { config: value.config ?? {}, etag };
    },
    patch: (member, config, description, etag) => patchStoragePool(lxd, name, { config, description }, etag, { target: member }),
  };
}

/** Each member's member-specific keys, when the pool is on a cluster. */
async function memberConfigOf(lxd: LxdClient, p: LxdStoragePool): Promise<MemberConfigs | undefined> {
  if (!onCluster(p.locations)) return undefined;
  return readMemberConfig(memberCalls(lxd, p.name), p.locations ?? [], MEMBER_SPECIFIC_POOL_KEYS[p.driver as PoolDriver] ?? []);
}

/** Whether LXD owns `key` on a pool whose program config is `own`: `volatile.*`, and the keys LXD fills in that the program leaves out. */
function lxdOwns(key: string, own: ConfigMap): boolean {
  return isVolatilePoolKey(key) || (SERVER_FILLED_POOL_KEYS.includes(key) && !(key in own));
}

/** The keys of LXD's config that LXD owns (see {@link lxdOwns}): kept in every PUT. */
function lxdKept(live: ConfigMap, own: ConfigMap): ConfigMap {
  return Object.fromEntries(Object.entries(live).filter(([k]) => lxdOwns(k, own)));
}

/** The part of LXD's config the program owns. */
function ownedConfig(live: ConfigMap, own: ConfigMap): ConfigMap {
  return Object.fromEntries(Object.entries(live).filter(([k]) => !lxdOwns(k, own)));
}

function outputsFrom(p: LxdStoragePool, inputs: StoragePoolInputs, adoptedFrom?: AdoptedPool, memberConfig?: MemberConfigs): StoragePoolOutputs {
  const live = p.config ?? {};
  return {
    ...inputs,
    members: inputs.members ? managedMembers(memberConfig ?? {}, inputs.members) : undefined,
    memberConfig,
    name: p.name,
    driver: p.driver as PoolDriver,
    config: ownedConfig(live, inputs.config),
    description: p.description ?? "",
    adoptedFrom,
    effectiveConfig: live,
    status: p.status ?? "",
    usedBy: p.used_by ?? [],
    // LXD lists the members in no fixed order.
    locations: [...(p.locations ?? [])].sort(),
  } satisfies StoragePoolOutputs;
}

/**
 * The users that keep LXD from deleting a pool: all of `used_by` but cached images (`/1.0/images/…`), whose volumes
 * LXD removes with the pool (the images stay in the image store; LXD 5.0.2 checked).
 */
function blocking(usedBy: string[] | null | undefined): string[] {
  return (usedBy ?? []).filter((u) => !/^\/1\.0\/images\//.test(u));
}

/** The users of a pool in words: `profile "default", instance "c1" in project "p", storage volume "custom/v1" in pool "x"`. */
function users(usedBy: string[]): string {
  return usedBy.map(describeUsedByInProject).join(", ");
}

/**
 * Refuses an existing pool that cannot be the declared one: another driver, or another `source` the program sets.
 * @throws Error naming what differs
 */
function sameIdentity(live: LxdStoragePool, inputs: StoragePoolInputs): void {
  if (live.driver !== inputs.driver) {
    throw new Error(`the existing pool has driver "${live.driver}", but driver "${inputs.driver}" was declared (a pool's driver cannot change: declare "${live.driver}", or use another name)`);
  }
  const src = inputs.config.source;
  if (src !== undefined && src !== (live.config?.source ?? "")) {
    throw new Error(`the existing pool has source ${JSON.stringify(live.config?.source ?? "")}, but source ${JSON.stringify(src)} was declared (a pool's source cannot change)`);
  }
}

/**
 * On a cluster: refuses a member whose `source` is not the declared one, and a `size` change LXD cannot apply.
 * @throws Error naming the member and what differs
 */
async function sameMembers(lxd: LxdClient, name: string, memberConfig: MemberConfigs, members: MemberConfigs | undefined): Promise<void> {
  for (const [m, keys] of Object.entries(members ?? {})) {
    const has = memberConfig[m] ?? {};
    if (keys.source !== undefined && keys.source !== (has.source ?? "")) {
      throw new Error(`member "${m}" of the existing pool has source ${JSON.stringify(has.source ?? "")}, but members.${m}.source ${JSON.stringify(keys.source)} was declared (a pool's source cannot change)`);
    }
    await sizeChangeApplies(lxd, name, has.size, keys.size, `members.${m}.size`);
  }
}

/**
 * Creates a pool on a cluster as LXD requires: pending on every member (`?target=<member>`, with the member's keys
 * from `members` or none, so LXD fills them in), then once globally without member-specific keys. A failure after a
 * member accepted it removes the pending pool again; when even that fails, the pool is reported as held.
 */
async function createOnCluster(lxd: LxdClient, inputs: StoragePoolInputs, members: string[], accepted: (p?: false) => void): Promise<void> {
  let pending = false;
  try {
    for (const m of members) {
      await createStoragePool(lxd, { name: inputs.name, driver: inputs.driver, config: inputs.members?.[m] ?? {}, description: inputs.description }, { target: m });
      pending = true;
    }
    await createStoragePool(lxd, { name: inputs.name, driver: inputs.driver, config: inputs.config, description: inputs.description });
  } catch (err) {
    if (pending) {
      await deleteStoragePool(lxd, inputs.name).catch(() => accepted());
    }
    throw isConflict(err) ? amend(err, " (set adopt: true to bring the existing pool under management)") : err;
  }
}

/** Takes over an existing pool: records its config and description, then PUTs ours (keeping what LXD owns). */
async function adopt(lxd: LxdClient, inputs: StoragePoolInputs, accepted: (p: Partial<StoragePoolOutputs>) => void): Promise<StoragePoolOutputs> {
  let { value, etag } = await getStoragePool(lxd, inputs.name);
  sameIdentity(value, inputs);
  await sizeChangeApplies(lxd, inputs.name, value.config?.size, inputs.config.size);
  const before = await memberConfigOf(lxd, value);
  if (before) await sameMembers(lxd, inputs.name, before, inputs.members);
  const adoptedFrom: AdoptedPool = { config: value.config ?? {}, description: value.description ?? "", ...(before ? { members: before } : {}) };
  if (before && (await applyMembers(memberCalls(lxd, inputs.name), undefined, inputs.members, inputs.description, MEMBER_SPECIFIC_POOL_KEYS[inputs.driver], false))) {
    ({ value, etag } = await getStoragePool(lxd, inputs.name));
  }
  const want: StoragePoolPut = { config: { ...lxdKept(adoptedFrom.config, inputs.config), ...inputs.config }, description: inputs.description };
  if (!sameJson(want, { config: value.config ?? {}, description: value.description ?? "" })) await updateStoragePool(lxd, inputs.name, want, etag);
  accepted({ adoptedFrom });
  const now = (await getStoragePool(lxd, inputs.name)).value;
  return outputsFrom(now, inputs, adoptedFrom, await memberConfigOf(lxd, now));
}

/** API extension with which LXD resizes a loop-backed pool when its `size` changes (LXD 5.0 lacks it). */
export const LOOP_RESIZE_EXTENSION = "storage_pool_loop_resize";

/**
 * Refuses a `size` change on a server that cannot apply it: without {@link LOOP_RESIZE_EXTENSION}, LXD (5.0.2
 * checked) stores the new `size` and leaves the pool as it was, so the config would claim a size the pool has not.
 * @throws Error naming the key, the values and the missing extension
 */
async function sizeChangeApplies(lxd: LxdClient, name: string, before: string | undefined, after: string | undefined, field = "config.size"): Promise<void> {
  if (after === undefined || after === UNKNOWN || before === undefined || before === after) return;
  if (await lxd.hasExtension(LOOP_RESIZE_EXTENSION)) return;
  throw new Error(
    `Failed to update storage pool "${name}": ${field} cannot change from ${JSON.stringify(before)} to ${JSON.stringify(after)} on this LXD server: ` +
      `it lacks API extension ${LOOP_RESIZE_EXTENSION}, and without it LXD records the new size without resizing the pool. ` +
      `Keep the size, or resize the pool outside LXD`,
  );
}

/**
 * Refuses config keys the server cannot take (see `POOL_KEY_EXTENSIONS`: `source.wipe`, `lvm.metadata_size`), before
 * any write, naming the key and the missing API extension.
 * @throws Error `config.<key> needs API extension <ext>, which this server lacks …`
 */
async function keysSupported(lxd: LxdClient, verb: string, name: string, config: ConfigMap): Promise<void> {
  for (const key of Object.keys(config)) {
    const ext = POOL_KEY_EXTENSIONS[key];
    if (ext === undefined || (await lxd.hasExtension(ext))) continue;
    throw new Error(
      `Failed to ${verb} storage pool "${name}": config.${key} needs API extension ${ext}, which this ${serverName(await lxd.serverKind())} server lacks ` +
        `(LXD 5.0 has no ${key}; Incus 6.0 has it). Leave ${key} out`,
    );
  }
}

/** The `source` a pool has: the program's, else the one LXD filled in (from the state's effective config). */
const sourceOf = (p: StoragePoolOutputs) => p.config?.source ?? p.effectiveConfig?.source;

export const storagePoolKind: Kind<StoragePoolInputs, StoragePoolOutputs> = {
  noun: "storage pool",
  inProject: false,
  outputKeys: ["adoptedFrom", "memberConfig", "effectiveConfig", "status", "usedBy", "locations"],
  diffKeys: ["name", "driver", "config", "description", "members"],
  replaceKeys: ["name", "driver"],

  async check(news, { open }) {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    const unknown = (k: string) => unknownKeys.includes(k);
    const config = unknown("config") ? (UNKNOWN as never as ConfigMap) : normalizeConfig(value.config);
    if (!unknown("config")) {
      for (const [k, v] of Object.entries(config)) {
        if (v === UNKNOWN) continue;
        const problem = unknown("driver") ? undefined : poolKeyProblem(value.driver, k, v);
        if (problem) failures.push({ property: `config.${k}`, reason: problem });
        if (k === "source" && v !== "") {
          const why = protectedSourceReason(v, process.env.LXD_DIR, process.env.INCUS_DIR);
          if (why) failures.push({ property: "config.source", reason: why });
        }
      }
    }
    // Member-specific keys, per member: the driver's member keys only, each judged like a config key.
    let members: MemberConfigs | undefined;
    if (unknown("members")) members = UNKNOWN as never as MemberConfigs;
    else if (value.members && Object.keys(value.members).length) {
      members = Object.fromEntries(Object.entries(value.members).map(([m, c]) => [m, dropEmpty(normalizeConfig(c))]));
      if (!unknown("driver")) {
        failures.push(...memberKeyFailures(members, MEMBER_SPECIFIC_POOL_KEYS[value.driver], `driver "${value.driver}"`));
        for (const [m, c] of Object.entries(members)) {
          for (const [k, v] of Object.entries(c)) {
            if (v === UNKNOWN || !MEMBER_SPECIFIC_POOL_KEYS[value.driver].includes(k)) continue;
            const problem = poolKeyProblem(value.driver, k, v);
            if (problem) failures.push({ property: `members.${m}.${k}`, reason: problem.replace(`config.${k} `, `members.${m}.${k} `) });
            const why = k === "source" ? protectedSourceReason(v, process.env.LXD_DIR, process.env.INCUS_DIR) : undefined;
            if (why) failures.push({ property: `members.${m}.source`, reason: why.replace("config.source", `members.${m}.source`) });
          }
        }
      }
    }
    if (!failures.length && !unknown("config") && !unknown("driver")) {
      failures.push(...(await checkMembersOnServer(open, config, members, MEMBER_SPECIFIC_POOL_KEYS[value.driver])));
    }
    if (failures.length) return { failures };
    return { inputs: { ...value, members, config: unknown("config") ? config : dropEmpty(config) } };
  },

  async diff(olds, news, base, open) {
    const replaces = [...(base.replaces ?? [])];
    // `source` is the pool's place on the host: LXD cannot move a pool. A source the program writes down as LXD has
    // it is no change; a config that is not known yet (preview) plans no replacement.
    const newSource = news.config === (UNKNOWN as never) ? undefined : news.config?.source;
    if (newSource !== undefined && newSource !== sourceOf(olds)) replaces.push("config");
    // On a cluster, each member's source the same way.
    const newMembers = news.members === (UNKNOWN as never) ? undefined : news.members;
    const movedMembers = Object.entries(newMembers ?? {})
      .filter(([m, c]) => c.source !== undefined && c.source !== (olds.members?.[m]?.source ?? olds.memberConfig?.[m]?.source))
      .map(([m, c]) => `members.${m}.source ${JSON.stringify(olds.members?.[m]?.source ?? olds.memberConfig?.[m]?.source ?? "")} → ${JSON.stringify(c.source)}`);
    if (movedMembers.length) replaces.push("members");
    if (!replaces.length) {
      if (base.changes && news.config !== (UNKNOWN as never)) {
        await sizeChangeApplies(open().lxd, olds.name, olds.config?.size ?? olds.effectiveConfig?.size, news.config?.size);
      }
      if (base.changes) {
        for (const [m, c] of Object.entries(newMembers ?? {})) {
          await sizeChangeApplies(open().lxd, olds.name, olds.members?.[m]?.size ?? olds.memberConfig?.[m]?.size, c.size, `members.${m}.size`);
        }
      }
      return base;
    }
    const result = { ...base, changes: true, replaces, deleteBeforeReplace: true };
    const why = [
      replaces.includes("driver") ? `driver "${olds.driver}" → "${news.driver}"` : "",
      replaces.includes("config") ? `source ${JSON.stringify(sourceOf(olds) ?? "")} → ${JSON.stringify(newSource)}` : "",
      ...movedMembers,
      replaces.includes("name") ? `name "${olds.name}" → "${news.name}"` : "",
      replaces.includes("connection") ? "another LXD server" : "",
    ].filter(Boolean).join(", ");
    // A pool that existed before the stack is never deleted: under the same name, on the same server, it cannot be
    // replaced (a new name or server is fine: the adopted pool gets its former content back and stays).
    const adopted = Boolean(olds.adoptedFrom) || olds.name === "default";
    if (adopted && !replaces.includes("name") && !replaces.includes("connection")) {
      throw new Error(`Failed to replace storage pool "${olds.name}" (${why}): it existed before this stack (adopted), and an adopted pool is never deleted. Keep its driver and source, or declare a pool of another name`);
    }
    // Replacing deletes first: a pool in use cannot be deleted, so say so now (LXD's used_by, read now). On another
    // server the old pool is not where `open` reaches: the delete itself refuses then.
    if (adopted || replaces.includes("connection")) return result;
    try {
      const live = (await getStoragePool(open().lxd, olds.name)).value;
      const inUse = blocking(live.used_by);
      if (inUse.length) {
        throw new Error(`Failed to replace storage pool "${olds.name}" (${why}): replacing deletes it first, and it is in use by ${users(inUse)}. Move or remove those first`);
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return result;
  },

  async create({ lxd }, inputs, accepted) {
    const facts: ClusterFacts = await requireMembersFit(lxd, inputs.config, inputs.members, MEMBER_SPECIFIC_POOL_KEYS[inputs.driver]);
    if (inputs.name === "default" || inputs.adopt) {
      try {
        return await adopt(lxd, inputs, accepted);
      } catch (err) {
        // No pool of that name: create it (a server without a `default` pool gets one).
        if (!isNotFound(err)) throw new Error(`Failed to adopt storage pool "${inputs.name}": ${lxdSays(err)}`, { cause: err });
      }
    }
    await keysSupported(lxd, "create", inputs.name, inputs.config);
    if (facts.clustered) {
      await createOnCluster(lxd, inputs, facts.members, accepted);
    } else {
      try {
        await createStoragePool(lxd, { name: inputs.name, driver: inputs.driver, config: inputs.config, description: inputs.description });
      } catch (err) {
        throw isConflict(err) ? amend(err, " (set adopt: true to bring the existing pool under management)") : err;
      }
    }
    accepted();
    const p = (await getStoragePool(lxd, inputs.name)).value;
    return outputsFrom(p, inputs, undefined, await memberConfigOf(lxd, p));
  },

  async read({ lxd }, props) {
    const p = (await getStoragePool(lxd, props.name)).value;
    return outputsFrom(p, props, props.adoptedFrom, await memberConfigOf(lxd, p));
  },

  async update({ lxd }, olds, news) {
    let { value, etag } = await getStoragePool(lxd, news.name);
    sameIdentity(value, news);
    const before = await memberConfigOf(lxd, value);
    if (news.members || before) await requireMembersFit(lxd, news.config, news.members, MEMBER_SPECIFIC_POOL_KEYS[news.driver]);
    if (before) {
      await sameMembers(lxd, news.name, before, news.members);
      // Each member's keys first (a PATCH with ?target= also sets the description), then the global keys.
      if (await applyMembers(memberCalls(lxd, news.name), olds.members, news.members, news.description, MEMBER_SPECIFIC_POOL_KEYS[news.driver], false)) {
        ({ value, etag } = await getStoragePool(lxd, news.name));
      }
    }
    const live = value.config ?? {};
    await sizeChangeApplies(lxd, news.name, live.size, news.config.size);
    await keysSupported(lxd, "update", news.name, Object.fromEntries(Object.entries(news.config).filter(([k, v]) => live[k] !== v)));
    const want: StoragePoolPut = { config: { ...lxdKept(live, news.config), ...news.config }, description: news.description };
    if (!sameJson(want, { config: live, description: value.description ?? "" })) await updateStoragePool(lxd, news.name, want, etag);
    const now = (await getStoragePool(lxd, news.name)).value;
    return outputsFrom(now, news, olds.adoptedFrom, await memberConfigOf(lxd, now));
  },

  async delete({ lxd }, props) {
    const { value, etag } = await getStoragePool(lxd, props.name);
    if (props.name === "default" || props.adoptedFrom) {
      // Never delete what existed before this stack: put its former config and description back. What LXD owns now
      // (the source, a size grown while managed) stays.
      if (!props.adoptedFrom) return;
      const live = value.config ?? {};
      const former = Object.fromEntries(Object.entries(props.adoptedFrom.config).filter(([k]) => !isVolatilePoolKey(k) && !SERVER_FILLED_POOL_KEYS.includes(k)));
      const kept = Object.fromEntries(Object.entries(live).filter(([k]) => isVolatilePoolKey(k) || SERVER_FILLED_POOL_KEYS.includes(k)));
      const back: StoragePoolPut = { config: { ...kept, ...former }, description: props.adoptedFrom.description };
      if (!sameJson(back, { config: live, description: value.description ?? "" })) await updateStoragePool(lxd, props.name, back, etag);
      return;
    }
    const inUse = blocking(value.used_by);
    if (inUse.length) {
      throw new Error(`it is in use by ${users(inUse)}. Move or remove those first (LXD deletes only unused pools); nothing was changed`);
    }
    try {
      await deleteStoragePool(lxd, props.name);
    } catch (err) {
      if (isNotFound(err)) throw err;
      // Something started using it since the read: name it.
      const now = await getStoragePool(lxd, props.name).then((r) => blocking(r.value.used_by), () => [] as string[]);
      throw now.length ? amend(err, ` (in use by ${users(now)})`) : err;
    }
  },
};
