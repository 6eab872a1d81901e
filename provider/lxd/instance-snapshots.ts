/**
 * /1.0/instances/{name}/snapshots: create, get (with ETag), update (expiry), rename, delete; and restoring an
 * instance from one of its snapshots (PUT /1.0/instances/{name} with `restore`).
 *
 * LXD API extensions: `snapshot_expiry` (expires_at on PUT), `snapshot_expiry_creation` (expires_at on POST),
 * `snapshot_disk_usage` (size). LXD 5.0 snapshots have no description.
 */
import type { LxdClient, RequestOptions } from "./client";
import type { ConfigMap, DeviceMap } from "./types";

type Scope = Pick<RequestOptions, "project">;

/** LXD's "no expiry": the zero time Go sends for an unset `expires_at`. */
export const NO_EXPIRY = "0001-01-01T00:00:00Z";

/** GET /1.0/instances/{name}/snapshots/{snapshot} (LXD's `InstanceSnapshot`). */
export interface InstanceSnapshot {
  name: string;
  /** RFC3339; the zero time {@link NO_EXPIRY} when it never expires. */
  expires_at: string;
  created_at: string;
  last_used_at?: string;
  stateful: boolean;
  /** Disk usage in bytes; -1 when the storage driver cannot tell (`dir`). */
  size?: number;
  architecture?: string;
  config?: ConfigMap;
  devices?: DeviceMap;
  /** Devices with the profiles' laid over (the root disk's `pool` among them). */
  expanded_devices?: DeviceMap;
  ephemeral?: boolean;
  profiles?: string[];
}

/** Body of POST /1.0/instances/{name}/snapshots. An empty `name` makes LXD pick `snap<N>`. */
export interface InstanceSnapshotsPost {
  name: string;
  /** Save the running state too (needs CRIU on the LXD server, and a running instance). */
  stateful?: boolean;
  /** RFC3339 (extension `snapshot_expiry_creation`). */
  expires_at?: string;
}

/** Body of PUT /1.0/instances/{name}/snapshots/{snapshot}. */
export interface InstanceSnapshotPut {
  /** RFC3339; {@link NO_EXPIRY} clears the expiry (an absent field leaves it as it is). */
  expires_at: string;
}

const base = (instance: string) => `/1.0/instances/${encodeURIComponent(instance)}/snapshots`;
const path = (instance: string, snapshot: string) => `${base(instance)}/${encodeURIComponent(snapshot)}`;

/** Names of an instance's snapshots. @throws LxdError 404 when the instance does not exist. */
export async function listInstanceSnapshots(lxd: LxdClient, instance: string, scope: Scope = {}): Promise<string[]> {
  return lxd.listNames(base(instance), scope);
}

/** GET one snapshot with its ETag. @throws LxdError 404 when it (or its instance) does not exist. */
export async function getInstanceSnapshot(lxd: LxdClient, instance: string, snapshot: string, scope: Scope = {}): Promise<{ value: InstanceSnapshot; etag: string }> {
  const r = await lxd.get<InstanceSnapshot>(path(instance, snapshot), scope);
  return { value: r.metadata, etag: r.etag };
}

/**
 * POST a snapshot and wait for the operation. LXD fails the operation when the name is taken (`… already
 * exists`), and a stateful snapshot of a stopped instance or without CRIU (`Unable to create a stateful
 * snapshot. CRIU isn't installed`).
 */
export async function createInstanceSnapshot(lxd: LxdClient, instance: string, post: InstanceSnapshotsPost, opts: Scope & { timeoutSec?: number } = {}): Promise<void> {
  await lxd.request("POST", base(instance), { ...opts, body: post });
}

/** PUT the writable fields (the expiry); with `etag`, fails with 412 if the snapshot changed since it was read. */
export async function updateInstanceSnapshot(lxd: LxdClient, instance: string, snapshot: string, put: InstanceSnapshotPut, etag?: string, opts: Scope & { timeoutSec?: number } = {}): Promise<void> {
  await lxd.request("PUT", path(instance, snapshot), { ...opts, body: put, etag });
}

/** POST /1.0/instances/{name}/snapshots/{snapshot} {name: newName}: rename in place. */
export async function renameInstanceSnapshot(lxd: LxdClient, instance: string, snapshot: string, newName: string, opts: Scope & { timeoutSec?: number } = {}): Promise<void> {
  await lxd.request("POST", path(instance, snapshot), { ...opts, body: { name: newName } });
}

/** DELETE a snapshot and wait. */
export async function deleteInstanceSnapshot(lxd: LxdClient, instance: string, snapshot: string, opts: Scope & { timeoutSec?: number } = {}): Promise<void> {
  await lxd.request("DELETE", path(instance, snapshot), opts);
}

/**
 * PUT /1.0/instances/{name} {restore: snapshot}: brings the instance's filesystem (and config) back to the
 * snapshot. Measured on LXD 5.0.2: a running container is stopped, restored and started again by LXD itself
 * (its init process changes); a stopped one stays stopped.
 */
export async function restoreInstanceSnapshot(lxd: LxdClient, instance: string, snapshot: string, opts: Scope & { timeoutSec?: number } = {}): Promise<void> {
  await lxd.request("PUT", `/1.0/instances/${encodeURIComponent(instance)}`, { ...opts, body: { restore: snapshot } });
}
