/**
 * Member-specific configuration on an LXD cluster, host side, for the kinds that have it (StoragePool, Network):
 * what the server is (GET /1.0 `environment.server_clustered`, GET /1.0/cluster/members), the check-time
 * validation of `members`, and reading / writing each member's keys with `?target=<member>`.
 *
 * LXD 5.0.2 (measured on the test cluster): a GET without `target` leaves the member-specific keys out; a GET with
 * `?target=<m>` gives member m's keys and the global ones; a PATCH with `?target=<m>` takes member-specific keys only
 * and sets the description from its body; a PUT with `?target=<m>` wipes the global keys, so it is never used.
 */
import type * as pulumi from "@pulumi/pulumi";
import { isClustered, listClusterMembers, type ConfigMap, type LxdClient } from "../lxd";
import { clusterFailures, memberPart, memberPatch, type ClusterFacts, type MemberConfigs } from "../rules/members";
import { containsUnknown } from "../rules/values";
import type { Scope } from "./contract";

/** Whether the server is clustered, and its members' names (sorted). */
export async function clusterFacts(lxd: LxdClient): Promise<ClusterFacts> {
  if (!(await isClustered(lxd))) return { clustered: false };
  return { clustered: true, members: (await listClusterMembers(lxd)).map((m) => m.server_name).sort() };
}

/**
 * Check-time validation that needs the server (see {@link clusterFailures}); asks only when `members` is given or
 * `config` holds a member-specific key. Says nothing when the server cannot be read at check (the create asks again).
 */
export async function checkMembersOnServer(
  open: () => Scope, config: ConfigMap, members: MemberConfigs | undefined, memberKeys: readonly string[],
): Promise<pulumi.dynamic.CheckFailure[]> {
  if (containsUnknown(config) || containsUnknown(members)) return [];
  const needed = Object.keys(members ?? {}).length > 0 || Object.keys(config).some((k) => memberKeys.includes(k));
  if (!needed) return [];
  let facts: ClusterFacts;
  try {
    facts = await clusterFacts(open().lxd);
  } catch {
    return [];
  }
  return clusterFailures(facts, config, members, memberKeys);
}

/**
 * The same validation at create or update, as an error (`<field> must be …`), with the facts for the caller.
 * @throws Error joining the failures
 */
export async function requireMembersFit(lxd: LxdClient, config: ConfigMap, members: MemberConfigs | undefined, memberKeys: readonly string[]): Promise<ClusterFacts> {
  const facts = await clusterFacts(lxd);
  const failures = clusterFailures(facts, config, members, memberKeys);
  if (failures.length) throw new Error(failures.map((f) => f.reason).join("; "));
  return facts;
}

/** One object's reads and member writes, as the kind makes them (a pool's or a network's calls). */
export interface MemberCalls {
  /** GET with `?target=<member>`: that member's config (global and member-specific keys). */
  get(member: string): Promise<{ config: ConfigMap; etag: string }>;
  /** PATCH with `?target=<member>`: member-specific keys only, and the description to keep. */
  patch(member: string, config: ConfigMap, description: string, etag: string): Promise<void>;
}

/** The member-specific keys every member of `locations` has (LXD's filled-in values included), by member. */
export async function readMemberConfig(calls: MemberCalls, locations: readonly string[], memberKeys: readonly string[]): Promise<MemberConfigs> {
  const out: MemberConfigs = {};
  for (const m of [...locations].sort()) out[m] = memberPart((await calls.get(m)).config, memberKeys);
  return out;
}

/** True when an object's LXD `locations` are cluster members (a server that is not clustered answers `["none"]`). */
export function onCluster(locations: readonly string[] | null | undefined): boolean {
  return (locations ?? []).some((l) => l && l !== "none");
}

/**
 * Brings each member named before or now to its declared keys: one PATCH per member whose keys differ, with the
 * description the object is to have (a PATCH with `target` sets it). Members named before and no longer keep their
 * keys, except that with `unsetDropped` a key dropped from the program is unset.
 * @returns whether anything was written
 */
export async function applyMembers(
  calls: MemberCalls, before: MemberConfigs | undefined, want: MemberConfigs | undefined, description: string,
  memberKeys: readonly string[], unsetDropped: boolean,
): Promise<boolean> {
  let wrote = false;
  const names = [...new Set([...Object.keys(before ?? {}), ...Object.keys(want ?? {})])].sort();
  for (const m of names) {
    const { config, etag } = await calls.get(m);
    const patch = memberPatch(memberPart(config, memberKeys), before?.[m] ?? {}, want?.[m] ?? {}, unsetDropped);
    if (!Object.keys(patch).length) continue;
    await calls.patch(m, patch, description, etag);
    wrote = true;
  }
  return wrote;
}
