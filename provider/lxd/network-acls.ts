/**
 * /1.0/network-acls (API extension `network_acl`): list, get with ETag, create, update (If-Match), delete.
 * ACLs live in a project (the `default` project's unless the project has `features.networks=true`).
 */
import type { LxdClient, RequestOptions } from "./client";
import type { ConfigMap } from "./types";

type Scope = Pick<RequestOptions, "project">;

/** One ACL rule as LXD names its fields (`api.NetworkACLRule`); absent fields are "". */
export interface NetworkAclRule {
  /** `allow`, `reject` or `drop`. */
  action: string;
  source?: string;
  destination?: string;
  /** "", `tcp`, `udp`, `icmp4`, `icmp6`. */
  protocol?: string;
  source_port?: string;
  destination_port?: string;
  icmp_type?: string;
  icmp_code?: string;
  description?: string;
  /** `enabled`, `disabled` or `logged`. */
  state: string;
}

/** PUT /1.0/network-acls/{name}. */
export interface NetworkAclPut {
  description: string;
  ingress: NetworkAclRule[];
  egress: NetworkAclRule[];
  config: ConfigMap;
}

/** GET /1.0/network-acls/{name}. */
export interface NetworkAcl extends NetworkAclPut {
  name: string;
  used_by: string[] | null;
  project?: string;
}

const path = (name: string) => `/1.0/network-acls/${encodeURIComponent(name)}`;

/** Names of the ACLs in a project. */
export async function listNetworkAcls(lxd: LxdClient, scope: Scope = {}): Promise<string[]> {
  return lxd.listNames("/1.0/network-acls", scope);
}

/** GET an ACL with its ETag. @throws LxdError 404 when it does not exist. */
export async function getNetworkAcl(lxd: LxdClient, name: string, scope: Scope = {}): Promise<{ value: NetworkAcl; etag: string }> {
  const r = await lxd.get<NetworkAcl>(path(name), scope);
  return { value: r.metadata, etag: r.etag };
}

/** POST /1.0/network-acls. @throws LxdError 409 when the name is taken. */
export async function createNetworkAcl(lxd: LxdClient, post: NetworkAclPut & { name: string }, scope: Scope = {}): Promise<void> {
  await lxd.request("POST", "/1.0/network-acls", { ...scope, body: post });
}

/** PUT the whole ACL; with `etag`, 412 if it changed since it was read. */
export async function updateNetworkAcl(lxd: LxdClient, name: string, put: NetworkAclPut, etag?: string, scope: Scope = {}): Promise<void> {
  await lxd.request("PUT", path(name), { ...scope, body: put, etag });
}

/** DELETE an ACL. LXD refuses while a network or NIC uses it. */
export async function deleteNetworkAcl(lxd: LxdClient, name: string, scope: Scope = {}): Promise<void> {
  await lxd.request("DELETE", path(name), scope);
}
