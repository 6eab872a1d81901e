/**
 * VolumeSnapshot against the real LXD through Pulumi's dynamic-provider host: the lifecycle (expiry and
 * description in place, rename in place, replace when the volume changes), adoption, a snapshot deleted outside
 * the stack, what check refuses, a restore through `restoreTrigger` (refused while a running container uses the
 * volume, then bringing the snapshot's file back), and StorageVolume copies with and without snapshots.
 * Everything is named `svs-…`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { MiniEngine, randomName } from "../support/engine";
import { gone, localClient, removeInstance, TEST_IMAGE } from "../support/lxd";
import {
  createInstance, createStorageVolume, createStorageVolumeSnapshot, deleteStorageVolume, deleteStorageVolumeSnapshot, execInstance, getStorageVolumeSnapshot,
  listStorageVolumeSnapshots, startInstance, stopInstance, type LxdClient,
} from "../../provider/lxd";

jest.setTimeout(180_000);

let host: ProviderHost;
let lxd: LxdClient;
const volumes: string[] = [];
const POOL = "default";

beforeAll(async () => {
  host = await startProviderHost();
  lxd = localClient();
});
afterAll(async () => {
  for (const v of volumes) await deleteStorageVolume(lxd, POOL, v).catch(() => undefined);
  await host?.close();
  await lxd?.close();
});

/** A fresh custom volume made with the REST client (removed in afterAll). */
async function volume(): Promise<string> {
  const n = randomName("svs-v");
  volumes.push(n);
  await createStorageVolume(lxd, POOL, { name: n, type: "custom" });
  return n;
}
const snapEngine = (n: string) => new MiniEngine(host, "volume-snapshot", n, "VolumeSnapshot");
const snapExists = async (v: string, s: string) => !(await gone(() => getStorageVolumeSnapshot(lxd, POOL, v, s)));

test("lifecycle: create → refresh → empty diff → description and expiry in place → rename in place → replace (volume) → delete leaves nothing", async () => {
  const [v1, v2] = [await volume(), await volume()];
  const e = snapEngine("svs-l");
  const inputs = { pool: POOL, volume: v1, name: "s1", description: "first", expiresAt: "2031-01-31T12:00:00+02:00" };
  const s = await e.up(inputs);
  expect(s.outputs).toMatchObject({ expiresAt: "2031-01-31T10:00:00Z", createdAt: expect.stringMatching(/^\d{4}-/), contentType: "filesystem" });
  expect((await getStorageVolumeSnapshot(lxd, POOL, v1, "s1")).value).toMatchObject({ description: "first", expires_at: expect.stringMatching(/^2031-01-31T10:00:00/) });
  await e.refresh();
  expect((await e.diff(inputs)).changes).toBe("none");

  const changed = { ...inputs, description: "second", expiresAt: "" };
  await e.up(changed);
  expect(e.lastAction).toBe("update");
  expect((await getStorageVolumeSnapshot(lxd, POOL, v1, "s1")).value).toMatchObject({ description: "second", expires_at: expect.stringMatching(/^0001-01-01/) });
  expect((await e.diff(changed)).changes).toBe("none");

  const renamed = { ...changed, name: "s2" };
  await e.up(renamed);
  expect(e.lastAction).toBe("update");
  expect(await snapExists(v1, "s1")).toBe(false);
  expect(await snapExists(v1, "s2")).toBe(true);
  expect((await e.diff(renamed)).changes).toBe("none");

  const moved = { ...renamed, volume: v2 };
  expect((await e.diff(moved)).replaces).toEqual(["volume"]);
  await e.up(moved);
  expect(e.lastAction).toBe("replace");
  expect(await snapExists(v1, "s2")).toBe(false);
  expect(await snapExists(v2, "s2")).toBe(true);

  await e.destroy();
  expect(await listStorageVolumeSnapshots(lxd, POOL, v2)).toEqual([]);
});

test("a snapshot deleted outside the stack reads as gone and is taken again; an existing one is adopted only with adopt and left on destroy", async () => {
  const v = await volume();
  const e = snapEngine("svs-g");
  await e.up({ pool: POOL, volume: v, name: "s" });
  await deleteStorageVolumeSnapshot(lxd, POOL, v, "s");
  expect(await e.refresh()).toBeUndefined();
  await e.up({ pool: POOL, volume: v, name: "s" });
  expect(e.lastAction).toBe("create");
  expect(await snapExists(v, "s")).toBe(true);
  await e.destroy();
  expect(await snapExists(v, "s")).toBe(false);

  await createStorageVolumeSnapshot(lxd, POOL, v, { name: "theirs" });
  const a = snapEngine("svs-a");
  await expect(a.up({ pool: POOL, volume: v, name: "theirs" })).rejects.toThrow(/Failed to create snapshot "theirs" of storage volume .*already (exists|in use).*set adopt: true/i);
  await a.up({ pool: POOL, volume: v, name: "theirs", adopt: true, description: "now ours" });
  expect((await getStorageVolumeSnapshot(lxd, POOL, v, "theirs")).value.description).toBe("now ours");
  await a.destroy();
  expect(await snapExists(v, "theirs")).toBe(true);
});

test("a create that was cut off is taken again on the next run, after a refresh too (what LXD held is not trusted); adopted with adopt", async () => {
  const v = await volume();
  const e = snapEngine("svs-cut");
  await e.up({ pool: POOL, volume: v, name: "s" });
  // A marker in the snapshot's directory on the host (a dir pool: <source>/custom-snapshots/<project>_<volume>/<name>)
  // tells the snapshot LXD held from one taken again (LXD 5.0.2 records no created_at for volume snapshots).
  const source = String((await lxd.get<{ config: Record<string, string> }>(`/1.0/storage-pools/${POOL}`)).metadata.config.source);
  const marker = path.join(source, "custom-snapshots", `default_${v}`, "s", "left-by-the-cut-off-run");
  const mark = () => fs.writeFileSync(marker, "x");
  // What a run cut off after LXD wrote the snapshot leaves in state (the faults test: storage-faults).
  const cut = (extra: Record<string, unknown> = {}) => ({ ...e.state!, initErrors: ["the daemon went away"], outputs: { ...e.state!.outputs, createdAt: "", ...extra } as never });
  mark();
  e.state = cut();
  await e.up({ pool: POOL, volume: v, name: "s" });
  expect(fs.existsSync(marker)).toBe(false); // deleted and taken again
  expect(fs.existsSync(path.dirname(marker))).toBe(true);
  expect(await listStorageVolumeSnapshots(lxd, POOL, v)).toEqual(["s"]);
  expect(e.state!.outputs.createdAt).not.toBe("");
  expect((await e.diff({ pool: POOL, volume: v, name: "s" })).changes).toBe("none");
  // A refresh in between (as `pulumi up --refresh` does; it drops the engine's record of the failure) changes nothing.
  mark();
  e.state = cut();
  await e.refresh();
  expect(e.state!.outputs.createdAt).toBe("");
  delete e.state!.initErrors;
  await e.up({ pool: POOL, volume: v, name: "s" });
  expect(e.lastAction).toBe("update");
  expect(fs.existsSync(marker)).toBe(false);
  // Adopted: what LXD holds may have been there before the stack; kept, and destroy leaves it. That holds on a run
  // that no longer says adopt, for a snapshot that was adopted when the create was cut off.
  mark();
  e.state = cut();
  await e.up({ pool: POOL, volume: v, name: "s", adopt: true });
  expect(fs.existsSync(marker)).toBe(true);
  expect(e.state!.outputs.adopted).toBe(true);
  e.state = cut({ adopted: true });
  await e.up({ pool: POOL, volume: v, name: "s" });
  expect(fs.existsSync(marker)).toBe(true);
  await e.destroy();
  expect(await listStorageVolumeSnapshots(lxd, POOL, v)).toEqual(["s"]);
  await deleteStorageVolumeSnapshot(lxd, POOL, v, "s");
});

describe("rejects at check, naming the field", () => {
  const base = { pool: POOL, volume: "svs-never", name: "s" };
  test.each([
    ["an expiry that is not RFC3339", { expiresAt: "tomorrow" }, "expiresAt"],
    ["a snapshot name with a slash", { name: "a/b" }, "name"],
    ["a restoreTrigger that is not a string", { restoreTrigger: 3 }, "restoreTrigger"],
    ["a target on a server that is not clustered", { target: "node1" }, "target"],
    ["a cluster group as target", { target: "@default" }, "target"],
  ])("rejects %s", async (_label, extra, property) => {
    const r = await snapEngine("chk").check({ ...base, ...extra });
    expect(r.failures.map((f) => f.property)).toEqual([property]);
    expect(r.failures[0].reason).toMatch(new RegExp(`^${property}`));
  });
});

test("restoreTrigger restores the volume from the snapshot: refused (with LXD's reason) while a running container uses it, then the snapshot's file is back", async () => {
  const v = await volume();
  const c = randomName("svs-c");
  const sh = (script: string) => execInstance(lxd, c, ["sh", "-c", script]);
  const dev = new MiniEngine(host, "instance-device", `${c}-d`, "InstanceDevice");
  const e = snapEngine("svs-r");
  try {
    await createInstance(lxd, { name: c, source: { type: "image", alias: TEST_IMAGE } });
    await startInstance(lxd, c);
    await dev.up({ instance: c, deviceName: "data", type: "disk", properties: { pool: POOL, source: v, path: "/data" } });
    expect(await sh("echo before > /data/f && sync")).toBe(0);
    const inputs = { pool: POOL, volume: v, name: "snap", restoreTrigger: "r0" };
    await e.up(inputs); // a trigger given at create restores nothing
    expect(e.state!.outputs.restoredFor).toBe("r0");
    expect(await sh("echo after > /data/f && sync")).toBe(0);
    await e.up({ ...inputs, description: "only a description" });
    expect(await sh("test \"$(cat /data/f)\" = after")).toBe(0);

    const diff = await e.diff({ ...inputs, restoreTrigger: "r1" });
    expect(diff).toMatchObject({ changes: "some", replaces: [] });
    await expect(e.up({ ...inputs, restoreTrigger: "r1" })).rejects.toThrow(/Failed to update snapshot "snap" of storage volume .*Cannot restore custom volume used by running instances.*restoring storage volume/);
    expect(await sh("test \"$(cat /data/f)\" = after")).toBe(0);

    await stopInstance(lxd, c, { graceSec: 0, force: true });
    await e.up({ ...inputs, restoreTrigger: "r1" });
    expect(e.state!.outputs.restoredFor).toBe("r1");
    await startInstance(lxd, c);
    expect(await sh("test \"$(cat /data/f)\" = before")).toBe(0);
    // Removing the trigger is no change and restores nothing.
    const { restoreTrigger: _t, ...without } = inputs;
    expect((await e.diff(without)).changes).toBe("none");
  } finally {
    await e.destroy().catch(() => undefined);
    await removeInstance(lxd, c);
  }
});

test("StorageVolume source: a copy with the source's snapshots, and one without (volumeOnly)", async () => {
  const v = await volume();
  await createStorageVolumeSnapshot(lxd, POOL, v, { name: "s0" });
  const withSnaps = randomName("svs-cp");
  const volOnly = randomName("svs-cp");
  volumes.push(withSnaps, volOnly);
  const a = new MiniEngine(host, "storage-volume", withSnaps, "StorageVolume");
  const b = new MiniEngine(host, "storage-volume", volOnly, "StorageVolume");
  const ia = { pool: POOL, name: withSnaps, source: { pool: POOL, name: v }, config: { "user.copy": "a" } };
  await a.up(ia);
  await b.up({ pool: POOL, name: volOnly, source: { pool: POOL, name: v, volumeOnly: true } });
  expect(await listStorageVolumeSnapshots(lxd, POOL, withSnaps)).toEqual(["s0"]);
  expect(await listStorageVolumeSnapshots(lxd, POOL, volOnly)).toEqual([]);
  await a.refresh();
  expect((await a.diff(ia)).changes).toBe("none");
  expect((await a.diff({ ...ia, source: { pool: POOL, name: v, volumeOnly: true } })).replaces).toEqual(["source"]);
  await a.destroy();
  await b.destroy();
  expect(await gone(() => lxd.get(`/1.0/storage-pools/${POOL}/volumes/custom/${withSnaps}`))).toBe(true);
});
