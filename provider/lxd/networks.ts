/**
 * /1.0/networks: list, get with ETag, create, update (If-Match), delete. Every mutating call may answer
 * `async` on newer servers: the client waits for the operation.
 */
import type { LxdClient, RequestOptions } from "./client";
import type { ConfigMap } from "./types";

type Scope = Pick<RequestOptions, "project" | "target">;

/** GET /1.0/networks/{name}: a managed network, or a host interface LXD lists unmanaged. */
export interface Network {
  name: string;
  description: string;
  /** `bridge`, `macvlan`, `sriov`, `ovn`, `physical` for managed networks; `physical`, `loopback`, `bridge`, … for host interfaces. */
  type: string;
  /** True for networks LXD created and manages; false for host interfaces it only lists. */
  managed: boolean;
  /** `Created`, `Pending`, `Errored`, …; "" for unmanaged interfaces. */
  status: string;
  config: ConfigMap;
  used_by: string[] | null;
  locations: string[] | null;
  /** Project the network belongs to (API extension `network_project` and later servers); absent on older ones. */
  project?: string;
}

/** PUT /1.0/networks/{name}: the writable part of a network (the whole config is replaced). */
export interface NetworkPut {
  config: ConfigMap;
  description: string;
}

/** POST /1.0/networks. */
export interface NetworksPost extends NetworkPut {
  name: string;
  /** `bridge` (default), `macvlan`, `sriov`, `ovn`, `physical`. */
  type: string;
}

const path = (name: string) => `/1.0/networks/${encodeURIComponent(name)}`;

/** Names of the networks visible in a project (the `default` project's unless the project has `features.networks=true`). */
export async function listNetworks(lxd: LxdClient, scope: Scope = {}): Promise<string[]> {
  return lxd.listNames("/1.0/networks", scope);
}

/** GET a network with its ETag. @throws LxdError 404 when it does not exist (or its project does not). */
export async function getNetwork(lxd: LxdClient, name: string, scope: Scope = {}): Promise<{ value: Network; etag: string }> {
  const r = await lxd.get<Network>(path(name), scope);
  return { value: r.metadata, etag: r.etag };
}

/** POST /1.0/networks. @throws LxdError 409 when the name is taken; LXD's validation error (400) for bad config. */
export async function createNetwork(lxd: LxdClient, post: NetworksPost, scope: Scope = {}): Promise<void> {
  await lxd.request("POST", "/1.0/networks", { ...scope, body: post });
}

/** PUT the whole network (config replaced); with `etag`, 412 if it changed since it was read. */
export async function updateNetwork(lxd: LxdClient, name: string, put: NetworkPut, etag?: string, scope: Scope = {}): Promise<void> {
  await lxd.request("PUT", path(name), { ...scope, body: put, etag });
}

/**
 * PATCH a network: the keys given are set (`""` unsets), the others kept. With `target` (a cluster member) only
 * member-specific keys (`bridge.external_interfaces`, `parent`, `bgp.ipv4.nexthop`, `bgp.ipv6.nexthop`) may be given.
 * LXD 5.0.2 (checked) sets the description from the body on a PATCH with `target` (absent = ""): give it. A PUT with
 * `target` is worse: it wipes the network's global keys (a bridge's `ipv4.address: none` included).
 */
export async function patchNetwork(lxd: LxdClient, name: string, patch: Partial<NetworkPut>, etag?: string, scope: Scope = {}): Promise<void> {
  await lxd.request("PATCH", path(name), { ...scope, body: patch, etag });
}

/** DELETE a network. LXD refuses while instances or profiles use it. */
export async function deleteNetwork(lxd: LxdClient, name: string, scope: Scope = {}): Promise<void> {
  await lxd.request("DELETE", path(name), scope);
}
