/**
 * /1.0/storage-pools: list, get with ETag, create, update (PUT with If-Match), delete. Pools are server-wide
 * (not in a project). Every mutating call goes through {@link LxdClient.request}, which waits on the operation
 * when LXD answers `async` (newer LXD makes storage calls asynchronous).
 */
import type { LxdClient, RequestOptions } from "./client";
import type { ConfigMap } from "./types";

type Scope = Pick<RequestOptions, "target">;

/** Writable part of a storage pool (PUT /1.0/storage-pools/{name}). */
export interface StoragePoolPut {
  config: ConfigMap;
  description: string;
}

/** Body of POST /1.0/storage-pools. */
export interface StoragePoolsPost extends StoragePoolPut {
  name: string;
  /** Storage driver: `dir`, `btrfs`, `lvm`, `zfs`, `ceph`, `cephfs`, … */
  driver: string;
}

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

/**
 * POST /1.0/storage-pools (waits for the operation if LXD answers `async`). LXD rolls a failed create back itself.
 * @throws LxdError when the name is taken (LXD 5.0 answers 400/500 "already exists"), or LXD's own reason
 *   (unknown key, missing tool, source in use, …).
 */
export async function createStoragePool(lxd: LxdClient, post: StoragePoolsPost, scope: Scope = {}): Promise<void> {
  await lxd.request("POST", "/1.0/storage-pools", { body: post, target: scope.target });
}

/**
 * PUT the whole writable part of a pool; with `etag`, 412 if it changed since it was read. Keys left out of
 * `config` are unset, so the caller keeps the keys LXD filled (`source`, `size`, `volatile.*`): LXD refuses a
 * `source` change ("Pool source cannot be changed when not in pending state").
 */
export async function updateStoragePool(lxd: LxdClient, name: string, put: StoragePoolPut, etag?: string, scope: Scope = {}): Promise<void> {
  await lxd.request("PUT", path(name), { body: put, etag, target: scope.target });
}

/**
 * PATCH a pool: the keys given are set, the others kept. With `target` (a cluster member) only member-specific keys
 * (`source`, `size`, `zfs.pool_name`, `lvm.vg_name`, `lvm.thinpool_name`) may be given (LXD: `Config key "x" may not
 * be used as cluster member specific key`). LXD 5.0.2 (checked) sets the pool's description from the body on a PATCH
 * with `target` (absent = ""): give it. A PUT with `target` is worse: it wipes the pool's global keys.
 */
export async function patchStoragePool(lxd: LxdClient, name: string, patch: Partial<StoragePoolPut>, etag?: string, scope: Scope = {}): Promise<void> {
  await lxd.request("PATCH", path(name), { body: patch, etag, target: scope.target });
}

/** DELETE a storage pool. LXD refuses while anything uses it (400 "The storage pool is currently in use"). */
export async function deleteStoragePool(lxd: LxdClient, name: string, scope: Scope = {}): Promise<void> {
  await lxd.request("DELETE", path(name), { target: scope.target });
}
