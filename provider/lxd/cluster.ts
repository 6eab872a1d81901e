/**
 * /1.0/cluster: members (get with ETag, whole-member PUT), cluster groups (create, get, update, delete), and
 * moving an instance between members (POST /1.0/instances/{name}?target=<member> with `migration: true`).
 * API extensions: `clustering` (members), `clustering_groups` (groups, `?target=@<group>`).
 */
import type { LxdClient } from "./client";
import type { ClusterGroup, ClusterGroupPut, ClusterMember, ClusterMemberPut } from "./types";

const memberPath = (name: string) => `/1.0/cluster/members/${encodeURIComponent(name)}`;
const groupPath = (name: string) => `/1.0/cluster/groups/${encodeURIComponent(name)}`;

/** True when the server is a member of a cluster (`environment.server_clustered` of GET /1.0). */
export async function isClustered(lxd: LxdClient): Promise<boolean> {
  return (await lxd.server()).environment?.server_clustered === true;
}

/** All cluster members with their status, roles and groups (GET /1.0/cluster/members?recursion=1). */
export async function listClusterMembers(lxd: LxdClient): Promise<ClusterMember[]> {
  return (await lxd.get<ClusterMember[]>("/1.0/cluster/members", { query: { recursion: "1" } })).metadata ?? [];
}

/** GET one member with its ETag. @throws LxdError 404 when there is no such member. */
export async function getClusterMember(lxd: LxdClient, name: string): Promise<{ value: ClusterMember; etag: string }> {
  const r = await lxd.get<ClusterMember>(memberPath(name));
  return { value: r.metadata, etag: r.etag };
}

/**
 * PUT the whole member (description, failure domain, groups, roles, config). LXD takes no partial update here:
 * a PATCH of `config` alone fails with `The "database" role cannot be dropped`. `groups` REPLACES the member's
 * groups: read, change, write back.
 */
export async function updateClusterMember(lxd: LxdClient, name: string, put: ClusterMemberPut, etag?: string): Promise<void> {
  await lxd.request("PUT", memberPath(name), { body: put, etag });
}

/** The writable part of a member as read, ready for {@link updateClusterMember}. */
export function memberPut(m: ClusterMember): ClusterMemberPut {
  return {
    config: m.config ?? {}, description: m.description ?? "", failure_domain: m.failure_domain ?? "default",
    groups: m.groups ?? [], roles: m.roles ?? [],
  };
}

/** Names of the cluster groups. */
export async function listClusterGroups(lxd: LxdClient): Promise<string[]> {
  return lxd.listNames("/1.0/cluster/groups");
}

/** GET a cluster group with its ETag. @throws LxdError 404 when it does not exist. */
export async function getClusterGroup(lxd: LxdClient, name: string): Promise<{ value: ClusterGroup; etag: string }> {
  const r = await lxd.get<ClusterGroup>(groupPath(name));
  return { value: r.metadata, etag: r.etag };
}

/** POST /1.0/cluster/groups. @throws LxdError 409 when the name is taken. */
export async function createClusterGroup(lxd: LxdClient, post: ClusterGroupPut & { name: string }): Promise<void> {
  await lxd.request("POST", "/1.0/cluster/groups", { body: post });
}

/** PUT a cluster group (description and its whole member list). */
export async function updateClusterGroup(lxd: LxdClient, name: string, put: ClusterGroupPut, etag?: string): Promise<void> {
  await lxd.request("PUT", groupPath(name), { body: put, etag });
}

/** DELETE a cluster group (LXD refuses while it has members). */
export async function deleteClusterGroup(lxd: LxdClient, name: string): Promise<void> {
  await lxd.request("DELETE", groupPath(name));
}

/**
 * Moves a stopped instance to another member, in place (same name, data kept): POST /1.0/instances/{name}
 * ?target=<member> with `{migration: true}`, and waits. A running container fails without CRIU; a group as the
 * target fails (`Failed to get target node`): give a member.
 */
export async function moveInstance(lxd: LxdClient, name: string, member: string, opts: { project?: string; timeoutSec?: number } = {}): Promise<void> {
  await lxd.request("POST", `/1.0/instances/${encodeURIComponent(name)}`, { ...opts, target: member, body: { name, migration: true, live: false } });
}
