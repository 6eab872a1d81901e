/** /1.0/networks: list and get (read-only here: this package creates no networks). */
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
