/**
 * The LXD (or Incus) daemon killed (SIGKILL) and restarted while a StorageVolume create or a VolumeSnapshot create is in
 * flight: the run fails, and the next run (a fresh provider host with the state the engine kept) converges to
 * the declared volume or snapshot, usable, with nothing left over. Runs against a private daemon
 * of the run's backend (tests/support/private-lxd.ts: LXD, or incusd on the Incus run) killed by PID, slowed through its cpu cgroup so the kill lands mid-operation;
 * the shared daemon is never touched. The pattern is tests/integration/faults.test.ts's.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { MiniEngine, randomName } from "../support/engine";
import { startPrivateLxd, type PrivateLxd } from "../support/private-lxd";
import { createStorageVolume, getStorageVolume, getStorageVolumeSnapshot, listStorageVolumeSnapshots, type LxdClient } from "../../provider/lxd";

jest.setTimeout(180_000);

let daemon: PrivateLxd;

// The private daemon (tests/support/private-lxd.ts) is of the run's backend: LXD or incusd.

beforeAll(async () => {
  daemon = await startPrivateLxd({ image: false });
});
afterAll(async () => {
  await daemon?.stop();
});

/** The engine stand-in carried over runs (a partial create is kept in state and updated on the next run). */
class Engine extends MiniEngine {
  constructor(host: ProviderHost, module: "storage-volume" | "volume-snapshot", name: string, readonly type: string) {
    super(host, module, name, type);
  }
  next(host: ProviderHost): Engine {
    const e = new Engine(host, this.module as "storage-volume" | "volume-snapshot", this.name, this.type);
    e.state = this.state;
    return e;
  }
}

interface Op { description: string; status: string; resources: Record<string, string[]> | null }

async function until(what: string, cond: () => Promise<boolean>, limitSec = 60): Promise<void> {
  const deadline = Date.now() + limitSec * 1000;
  while (Date.now() < deadline) {
    if (await cond().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out after ${limitSec} s waiting until ${what}`);
}

/** True while an operation whose description matches `re` runs, or once `probe` answers. */
async function inFlight(lxd: LxdClient, re: RegExp, probe: () => Promise<unknown>): Promise<boolean> {
  const ops = (await lxd.get<Record<string, Op[]>>("/1.0/operations", { query: { recursion: "1" } })).metadata ?? {};
  if (Object.values(ops).flat().some((op) => re.test(op.description) && op.status === "Running")) return true;
  await probe();
  return true;
}

/** Runs `first`, kills the daemon once `cond` holds, restarts it, and returns `first`'s error (or undefined if it finished first). */
async function killDuring(phase: string, cond: () => Promise<boolean>, first: () => Promise<unknown>): Promise<Error | undefined> {
  daemon.slowDown(2);
  const run = first().then(() => undefined, (err: Error) => err);
  try {
    await until(phase, cond);
    await daemon.kill("SIGKILL");
  } finally {
    daemon.fullSpeed();
  }
  const err = await run;
  await daemon.restart();
  return err;
}

async function withHost<T>(fn: (host: ProviderHost) => Promise<T>): Promise<T> {
  const host = await startProviderHost();
  try {
    return await fn(host);
  } finally {
    await host.close();
  }
}

const conn = () => ({ socketPath: daemon.socketPath });
/** The volume's directory on the private daemon's dir pool: the storage LXD really made. */
const volumeDir = (name: string) => path.join(daemon.dir, "storage-pools", "default", "custom", `default_${name}`);

test("a StorageVolume create cut off by a daemon kill: the run fails, the next run converges to the volume with its config, usable", async () => {
  const name = randomName("svf-v");
  const want = { pool: "default", name, config: { "user.fault": "create" }, description: "after the kill", connection: conn() };
  let e!: Engine;
  const err = await withHost(async (host) => {
    e = new Engine(host, "storage-volume", name, "StorageVolume");
    const lxd = daemon.client();
    return killDuring("the volume create runs", () => inFlight(lxd, /storage volume/i, () => getStorageVolume(lxd, "default", name)), () => e.up(want));
  });
  // LXD may hold the volume: the engine keeps it as partially created, and the next run updates it.
  expect(e.state?.initErrors).toBeDefined();
  expect(err?.message).toMatch(new RegExp(`Failed to create storage volume "${name}" in pool "default" in project "default"`));
  await withHost(async (host) => {
    const e2 = e.next(host);
    await e2.up(want);
    expect((await e2.diff(want)).changes).toBe("none");
    const lxd = daemon.client();
    expect((await getStorageVolume(lxd, "default", name)).value).toMatchObject({ config: { "user.fault": "create" }, description: "after the kill" });
    expect(fs.existsSync(volumeDir(name))).toBe(true);
    expect(await lxd.listNames("/1.0/storage-pools/default/volumes/custom")).toEqual([name]);
    await e2.destroy();
    expect(await lxd.listNames("/1.0/storage-pools/default/volumes/custom")).toEqual([]);
  });
});

test("a VolumeSnapshot create cut off by a daemon kill: the run fails, the next run converges to exactly that snapshot", async () => {
  const vol = randomName("svf-v");
  await createStorageVolume(daemon.client(), "default", { name: vol, type: "custom" });
  const want = { pool: "default", volume: vol, name: "s1", description: "after the kill", connection: conn() };
  let e!: Engine;
  const err = await withHost(async (host) => {
    e = new Engine(host, "volume-snapshot", `${vol}-s`, "VolumeSnapshot");
    const lxd = daemon.client();
    return killDuring("the snapshot create runs", () => inFlight(lxd, /snapshot/i, () => getStorageVolumeSnapshot(lxd, "default", vol, "s1")), () => e.up(want));
  });
  expect(e.state?.initErrors).toBeDefined();
  expect(err?.message).toMatch(new RegExp(`Failed to create snapshot "s1" of storage volume "${vol}" in pool "default" in project "default"`));
  await withHost(async (host) => {
    const e2 = e.next(host);
    await e2.up(want);
    expect((await e2.diff(want)).changes).toBe("none");
    const lxd = daemon.client();
    expect(await listStorageVolumeSnapshots(lxd, "default", vol)).toEqual(["s1"]);
    expect((await getStorageVolumeSnapshot(lxd, "default", vol, "s1")).value.description).toBe("after the kill");
    await e2.destroy();
    expect(await listStorageVolumeSnapshots(lxd, "default", vol)).toEqual([]);
  });
});
