/**
 * Member-specific configuration, defined once for the kinds that have it in an LXD cluster (StoragePool, Network):
 * the `members` input (`{<member>: {<key>: value}}`) holds the keys LXD keeps per cluster member (a pool's `source`,
 * `size`, …; a network's `parent`, `bridge.external_interfaces`, …) and nothing else; on a clustered server those
 * keys are refused in the global `config`, and `members` is refused on a server that is not clustered. Pure
 * functions (no client, no Pulumi): the kinds ask the server whether it is clustered and pass the answer in.
 */
import type { ConfigMap } from "../lxd/types";

/** Member-specific config by member name: `{node1: {source: "/srv/a"}, node2: {source: "/srv/b"}}`. */
export type MemberConfigs = Record<string, ConfigMap>;

/** A check failure: the property (`members.node1.source`, `config.size`) and why. */
export interface MemberFailure {
  property: string;
  reason: string;
}

/** What the server is, as far as `members` goes: not clustered, or clustered with these member names. */
export type ClusterFacts = { clustered: false } | { clustered: true; members: string[] };

/**
 * Failures of `members` that need no server: a key that is not member-specific for this pool driver or network type.
 * @param memberKeys the member-specific keys of the driver or type (e.g. `["source", "size"]` for btrfs)
 * @param kindLabel `driver "btrfs"`, `a bridge network`: what the keys belong to, for the message
 */
export function memberKeyFailures(members: MemberConfigs, memberKeys: readonly string[], kindLabel: string): MemberFailure[] {
  const out: MemberFailure[] = [];
  for (const [member, config] of Object.entries(members)) {
    for (const key of Object.keys(config)) {
      if (memberKeys.includes(key)) continue;
      const allowed = memberKeys.length ? memberKeys.join(", ") : "none: it is one for the whole cluster";
      out.push({
        property: `members.${member}.${key}`,
        reason: `members.${member} must hold only the member-specific keys of ${kindLabel} (${allowed}); other keys go in config, but "${key}" was provided`,
      });
    }
  }
  return out;
}

/**
 * Failures that depend on the server: `members` on a server that is not clustered; on a cluster, a member-specific
 * key in the global `config` (LXD: `Config key "source" is cluster member specific`), and a member name the cluster
 * does not have.
 */
export function clusterFailures(facts: ClusterFacts, config: ConfigMap, members: MemberConfigs | undefined, memberKeys: readonly string[]): MemberFailure[] {
  const named = Object.keys(members ?? {});
  if (!facts.clustered) {
    return named.length
      ? [{ property: "members", reason: `members must be absent on a server that is not clustered (give those keys in config, or point connection at a cluster member), but ${JSON.stringify(members)} was provided` }]
      : [];
  }
  const out: MemberFailure[] = [];
  for (const key of Object.keys(config)) {
    if (!memberKeys.includes(key)) continue;
    out.push({
      property: `config.${key}`,
      reason: `config.${key} must be given per cluster member on a clustered server (members: {<member>: {"${key}": …}}; LXD keeps it per member), but ${JSON.stringify(config[key])} was provided in config`,
    });
  }
  for (const member of named) {
    if (facts.members.includes(member)) continue;
    out.push({ property: `members.${member}`, reason: `members must name members of the cluster (${facts.members.join(", ")}), but "${member}" was provided` });
  }
  return out;
}

/** The member-specific keys of a member's config (a GET with `?target=` answers the global keys too). */
export function memberPart(config: ConfigMap | undefined, memberKeys: readonly string[]): ConfigMap {
  return Object.fromEntries(Object.entries(config ?? {}).filter(([k]) => memberKeys.includes(k)));
}

/**
 * The `members` output: for each member the program names, the keys it declares there, as that member has them (a
 * key the member lacks is left out, so it shows as drift). Keys LXD filled in that the program does not declare are
 * in `memberConfig`, not here.
 */
export function managedMembers(live: MemberConfigs, declared: MemberConfigs): MemberConfigs {
  const out: MemberConfigs = {};
  for (const [member, keys] of Object.entries(declared)) {
    const has = live[member] ?? {};
    out[member] = Object.fromEntries(Object.keys(keys).filter((k) => k in has).map((k) => [k, has[k]]));
  }
  return out;
}

/**
 * The PATCH of one member's keys that brings `live` to `want`: keys that differ, and with `unsetDropped`, `""` for a
 * key the program declared before (`before`) and no longer does (a pool's member keys are never unset: once left
 * out they are LXD's, as on one server).
 */
export function memberPatch(live: ConfigMap, before: ConfigMap, want: ConfigMap, unsetDropped: boolean): ConfigMap {
  const patch: ConfigMap = {};
  for (const [k, v] of Object.entries(want)) if (live[k] !== v) patch[k] = v;
  if (unsetDropped) for (const k of Object.keys(before)) if (!(k in want) && (live[k] ?? "") !== "") patch[k] = "";
  return patch;
}
