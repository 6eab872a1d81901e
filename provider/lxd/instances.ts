/** /1.0/instances: create from an image, get (with state), update with ETag, rename, delete, start/stop. */
import { RequestOptions, type LxdClient } from "./client";
import { LxdError } from "./errors";
import type { Instance, InstancePut, InstancesPost, InstanceState, InstanceStatePut } from "./types";

type Scope = Pick<RequestOptions, "project" | "target">;
const path = (name: string) => `/1.0/instances/${encodeURIComponent(name)}`;

/** Names of the instances in a project. */
export async function listInstances(lxd: LxdClient, scope: Scope = {}): Promise<string[]> {
  return lxd.listNames("/1.0/instances", scope);
}

/** GET one instance with its ETag. @throws LxdError 404 when it does not exist. */
export async function getInstance(lxd: LxdClient, name: string, scope: Scope = {}): Promise<{ value: Instance; etag: string }> {
  const r = await lxd.get<Instance>(path(name), scope);
  return { value: r.metadata, etag: r.etag };
}

/** GET the runtime state (status, pid, processes). */
export async function getInstanceState(lxd: LxdClient, name: string, scope: Scope = {}): Promise<InstanceState> {
  return (await lxd.get<InstanceState>(`${path(name)}/state`, scope)).metadata;
}

/** POST /1.0/instances and wait for the creation operation (`timeoutSec`, default 600 s, -1 = none). */
export async function createInstance(lxd: LxdClient, post: InstancesPost, opts: Scope & { timeoutSec?: number } = {}): Promise<void> {
  await lxd.request("POST", "/1.0/instances", { ...opts, body: post });
}

/** PUT the writable fields; with `etag`, fails with 412 if the instance changed since it was read. */
export async function updateInstance(lxd: LxdClient, name: string, put: InstancePut, etag?: string, opts: Scope & { timeoutSec?: number } = {}): Promise<void> {
  await lxd.request("PUT", path(name), { ...opts, body: put, etag });
}

/** POST /1.0/instances/{name} {name: newName}. LXD refuses to rename a running instance. */
export async function renameInstance(lxd: LxdClient, name: string, newName: string, opts: Scope & { timeoutSec?: number } = {}): Promise<void> {
  await lxd.request("POST", path(name), { ...opts, body: { name: newName } });
}

/** DELETE the instance (it must be stopped) and wait for the operation. */
export async function deleteInstance(lxd: LxdClient, name: string, opts: Scope & { timeoutSec?: number } = {}): Promise<void> {
  await lxd.request("DELETE", path(name), opts);
}

/**
 * PUT /1.0/instances/{name}/state and wait for the operation.
 * `state.timeout` is LXD's own clean-shutdown grace (seconds); `opts.timeoutSec` bounds the wait here.
 */
export async function setInstanceState(lxd: LxdClient, name: string, state: InstanceStatePut, opts: Scope & { timeoutSec?: number } = {}): Promise<void> {
  await lxd.request("PUT", `${path(name)}/state`, { ...opts, body: state });
}

/** Starts the instance and waits; a no-op error-wise is not hidden (LXD says if it is already running). */
export function startInstance(lxd: LxdClient, name: string, opts: Scope & { timeoutSec?: number } = {}): Promise<void> {
  return setInstanceState(lxd, name, { action: "start" }, opts);
}

/**
 * Stops the instance: a clean shutdown for up to `graceSec` seconds (default 30), then forced when `force`
 * (default true) so that a hung init cannot block a delete forever.
 */
export async function stopInstance(lxd: LxdClient, name: string, opts: Scope & { timeoutSec?: number; graceSec?: number; force?: boolean } = {}): Promise<void> {
  const { graceSec = 30, force = true, ...rest } = opts;
  if (graceSec > 0) {
    try {
      await setInstanceState(lxd, name, { action: "stop", timeout: graceSec }, rest);
      return;
    } catch (err) {
      if (!force) throw err;
    }
  }
  await setInstanceState(lxd, name, { action: "stop", force: true, timeout: -1 }, rest);
}

/** True for the statuses in which the instance is up: `Running`, and `Ready` (the workload said so). */
export function isRunningStatus(status: string): boolean {
  return status === "Running" || status === "Ready";
}

/** Runs a command inside the instance without a terminal, waits, and returns its exit code (no output capture). */
export async function execInstance(lxd: LxdClient, name: string, command: string[], opts: Scope & { timeoutSec?: number } = {}): Promise<number> {
  const r = await lxd.request<{ return?: number }>("POST", `${path(name)}/exec`, {
    ...opts,
    body: { command, "wait-for-websocket": false, interactive: false, "record-output": false, environment: {} },
  });
  return r.metadata.return ?? -1;
}

/**
 * Whether LXD holds a record for the instance whose storage is unusable: what a daemon killed during a create
 * (or a delete) leaves behind. Such a record answers GET like a stopped instance, refuses a second create
 * (`This "instances" entry already exists`), fails a PUT (`Failed to write backup file`) and a start, and
 * only a DELETE clears it (measured on LXD 5.0.2).
 *
 * Signals, all over REST (so they hold for remote servers too):
 * - containers: `GET /1.0/instances/{name}/files?path=/` fails with 500 (`Instance storage pool not found`
 *   when the daemon died before the volume record was written; `open …/rootfs: no such file or directory`
 *   when it died before the volume was linked, or during a delete), while a healthy container, stopped or
 *   running, lists its root directory;
 * - any type: the root disk's volume `GET /1.0/storage-pools/{pool}/volumes/{container|virtual-machine}/{name}`
 *   answers 404.
 *
 * `known`: the instance as just read (saves a request). A running instance is healthy without further requests.
 * @returns false when the instance does not exist (404) or is healthy; true when it is a broken record.
 * @throws LxdError for anything else (transport errors included): the caller must not guess.
 */
export async function isBrokenInstance(lxd: LxdClient, name: string, scope: Scope = {}, known?: Instance): Promise<boolean> {
  let inst: Instance;
  try {
    inst = known ?? (await getInstance(lxd, name, scope)).value;
  } catch (err) {
    if (err instanceof LxdError && err.status === 404) return false;
    throw err;
  }
  // A running instance has its storage: nothing to ask.
  if (isRunningStatus(inst.status)) return false;
  const pool = inst.expanded_devices?.root?.pool;
  if (pool) {
    try {
      await lxd.get(`/1.0/storage-pools/${encodeURIComponent(pool)}/volumes/${inst.type}/${encodeURIComponent(name)}`, { project: scope.project });
    } catch (err) {
      if (err instanceof LxdError && err.status === 404) return true;
      throw err;
    }
  }
  // An empty container (source `none`, no `volatile.base_image`) has no rootfs to list: only the volume tells.
  if (inst.type !== "container" || !inst.config?.["volatile.base_image"]) return false;
  try {
    await lxd.get(`${path(name)}/files`, { ...scope, query: { path: "/" } });
    return false;
  } catch (err) {
    if (err instanceof LxdError && err.status === 500) return true;
    throw err;
  }
}
