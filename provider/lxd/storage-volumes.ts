/**
 * /1.0/storage-pools/{pool}/volumes/custom: custom storage volumes and their snapshots — get with ETag, create
 * (empty or a copy), update (If-Match), rename, restore from a snapshot, delete. Every call takes `?project=`.
 */
import type { LxdClient, RequestOptions } from "./client";
import type { ConfigMap } from "./types";

type Scope = Pick<RequestOptions, "project" | "target" | "timeoutSec">;

/** GET /1.0/storage-pools/{pool}/volumes/custom/{name} (LXD `api.StorageVolume`). */
export interface StorageVolume {
  name: string;
  description: string;
  /** `custom` here (`container`, `virtual-machine`, `image` are LXD's own volumes). */
  type: string;
  /** `filesystem` or `block` (`iso` on newer LXD). */
  content_type: string;
  config: ConfigMap;
  /** URLs of what uses the volume: `/1.0/instances/<name>[?project=<p>]`, `/1.0/profiles/<name>…`. */
  used_by: string[] | null;
  /** Cluster member holding it; `none` on a standalone server. */
  location: string;
  project?: string;
  created_at?: string;
}

/** PUT body of a custom volume; `restore` restores the volume from the snapshot of that name instead. */
export interface StorageVolumePut {
  config?: ConfigMap;
  description?: string;
  restore?: string;
}

/** POST body of a custom volume. */
export interface StorageVolumesPost {
  name: string;
  type: "custom";
  content_type?: string;
  config?: ConfigMap;
  description?: string;
  /** A copy of another volume (`type: "copy"`); `volume_only` leaves its snapshots behind. */
  source?: { type: "copy"; pool: string; name: string; volume_only?: boolean };
}

/** GET …/snapshots/{name} (LXD `api.StorageVolumeSnapshot`). */
export interface StorageVolumeSnapshot {
  name: string;
  description: string;
  config: ConfigMap;
  content_type: string;
  /** RFC3339; `0001-01-01T00:00:00Z` = never expires. */
  expires_at?: string;
  created_at?: string;
}

const volumes = (pool: string) => `/1.0/storage-pools/${encodeURIComponent(pool)}/volumes/custom`;
const volumePath = (pool: string, name: string) => `${volumes(pool)}/${encodeURIComponent(name)}`;
const snapshotPath = (pool: string, volume: string, name: string) => `${volumePath(pool, volume)}/snapshots/${encodeURIComponent(name)}`;

/** GET a custom volume with its ETag. @throws LxdError 404 when the pool or the volume does not exist. */
export async function getStorageVolume(lxd: LxdClient, pool: string, name: string, scope: Scope = {}): Promise<{ value: StorageVolume; etag: string }> {
  const r = await lxd.get<StorageVolume>(volumePath(pool, name), scope);
  return { value: r.metadata, etag: r.etag };
}

/** POST a custom volume (empty, or a copy of `post.source`). @throws LxdError 409 when the name is taken. */
export async function createStorageVolume(lxd: LxdClient, pool: string, post: StorageVolumesPost, scope: Scope = {}): Promise<void> {
  await lxd.request("POST", volumes(pool), { ...scope, body: post });
}

/** PUT a custom volume (config and description); with `etag`, 412 if it changed since it was read. */
export async function updateStorageVolume(lxd: LxdClient, pool: string, name: string, put: StorageVolumePut, etag?: string, scope: Scope = {}): Promise<void> {
  await lxd.request("PUT", volumePath(pool, name), { ...scope, body: put, etag });
}

/** PUT `{restore: <snapshot>}`: the volume's content becomes the snapshot's. LXD refuses while a running instance uses it. */
export async function restoreStorageVolume(lxd: LxdClient, pool: string, name: string, snapshot: string, scope: Scope = {}): Promise<void> {
  await lxd.request("PUT", volumePath(pool, name), { ...scope, body: { restore: snapshot } });
}

/** POST {name}: renames a custom volume (LXD updates the disk devices of stopped instances; refused while running ones use it). */
export async function renameStorageVolume(lxd: LxdClient, pool: string, name: string, newName: string, scope: Scope = {}): Promise<void> {
  await lxd.request("POST", volumePath(pool, name), { ...scope, body: { name: newName } });
}

/** DELETE a custom volume and its snapshots. LXD refuses while anything uses it ("The storage volume is still in use"). */
export async function deleteStorageVolume(lxd: LxdClient, pool: string, name: string, scope: Scope = {}): Promise<void> {
  await lxd.request("DELETE", volumePath(pool, name), scope);
}

/** GET a volume snapshot with its ETag. @throws LxdError 404 when it (or its volume) does not exist. */
export async function getStorageVolumeSnapshot(lxd: LxdClient, pool: string, volume: string, name: string, scope: Scope = {}): Promise<{ value: StorageVolumeSnapshot; etag: string }> {
  const r = await lxd.get<StorageVolumeSnapshot>(snapshotPath(pool, volume, name), scope);
  return { value: r.metadata, etag: r.etag };
}

/** Names of a volume's snapshots. */
export async function listStorageVolumeSnapshots(lxd: LxdClient, pool: string, volume: string, scope: Scope = {}): Promise<string[]> {
  return lxd.listNames(`${volumePath(pool, volume)}/snapshots`, scope);
}

/** POST …/snapshots {name, expires_at?}: takes a snapshot (an operation). @throws LxdError 409 when the name is taken. */
export async function createStorageVolumeSnapshot(lxd: LxdClient, pool: string, volume: string, post: { name: string; expires_at?: string }, scope: Scope = {}): Promise<void> {
  await lxd.request("POST", `${volumePath(pool, volume)}/snapshots`, { ...scope, body: post });
}

/** PUT a snapshot's description and `expires_at` (RFC3339). */
export async function updateStorageVolumeSnapshot(lxd: LxdClient, pool: string, volume: string, name: string, put: { description: string; expires_at: string }, etag?: string, scope: Scope = {}): Promise<void> {
  await lxd.request("PUT", snapshotPath(pool, volume, name), { ...scope, body: put, etag });
}

/** POST {name}: renames a snapshot (an operation). */
export async function renameStorageVolumeSnapshot(lxd: LxdClient, pool: string, volume: string, name: string, newName: string, scope: Scope = {}): Promise<void> {
  await lxd.request("POST", snapshotPath(pool, volume, name), { ...scope, body: { name: newName } });
}

/** DELETE a snapshot (an operation). */
export async function deleteStorageVolumeSnapshot(lxd: LxdClient, pool: string, volume: string, name: string, scope: Scope = {}): Promise<void> {
  await lxd.request("DELETE", snapshotPath(pool, volume, name), scope);
}
