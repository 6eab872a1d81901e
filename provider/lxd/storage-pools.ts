/** /1.0/storage-pools: list and get (read-only here: this package creates no storage pools). */
import type { LxdClient, RequestOptions } from "./client";
import type { ConfigMap } from "./types";

type Scope = Pick<RequestOptions, "target">;

/** GET /1.0/storage-pools/{name} */
export interface StoragePool {
  name: string;
  description: string;
  /** Storage driver: `dir`, `btrfs`, `lvm`, `zfs`, `ceph`, `cephfs`, … */
  driver: string;
  /** `Created`, `Pending`, `Errored`, `Unavailable`, … */
  status: string;
  config: ConfigMap;
  used_by: string[] | null;
  locations: string[] | null;
}

const path = (name: string) => `/1.0/storage-pools/${encodeURIComponent(name)}`;

/** Names of the storage pools (pools are server-wide, not per project). */
export async function listStoragePools(lxd: LxdClient, scope: Scope = {}): Promise<string[]> {
  return lxd.listNames("/1.0/storage-pools", scope);
}

/** GET a storage pool with its ETag. @throws LxdError 404 when it does not exist. */
export async function getStoragePool(lxd: LxdClient, name: string, scope: Scope = {}): Promise<{ value: StoragePool; etag: string }> {
  const r = await lxd.get<StoragePool>(path(name), scope);
  return { value: r.metadata, etag: r.etag };
}
