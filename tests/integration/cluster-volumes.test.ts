/**
 * StorageVolume `target` / `location` and VolumeSnapshot on a volume of one member, against the real 3-member LXD
 * 5.0.2 test cluster (scripts/cluster-setup.sh; connection on member 1's socket), through Pulumi's real
 * dynamic-provider host: a volume created on node2 in the cluster's `dir` pool `default` (a local pool: each
 * member holds its own volumes), read back with no diff, resized in place and snapshotted while node3 holds a
 * volume of the same name (LXD then answers "More than one cluster member has a volume named …" to any call
 * without `?target=`), a target change planned and run as a replacement, deleted with nothing left; an instance on
 * node2 with the volume attached as a disk device (and LXD's refusal for an instance on another member); and
 * `target` refused on the shared LXD, which is not clustered.
 *
 * Runs only when the cluster is up (`bash scripts/cluster-setup.sh status`); `npm run test:cluster` brings it up
 * first. Needs `npm run build` (the shim loads `dist/`).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { LxdClient, deleteInstance, getInstance, stopInstance, type StorageVolume } from "../../provider/lxd";
import { CheckFailed, MiniEngine } from "../support/engine";
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { TEST_IMAGE } from "../support/lxd";

const ROOT = process.env.LXD_CLUSTER_ROOT ?? "/var/lib/lxd-cluster";
const SCRIPT = path.resolve(__dirname, "..", "..", "scripts", "cluster-setup.sh");
const socket = (n: number) => `${ROOT}/node${n}/unix.socket`;
const connection = { socketPath: socket(1) };
const POOL = "default"; // the cluster's dir pool (scripts/cluster-setup.sh's preseed)

const status = spawnSync("bash", [SCRIPT, "status"], { encoding: "utf8" });
const clusterUp = status.status === 0;
if (!clusterUp) {
  // eslint-disable-next-line no-console
  console.log(`cluster volume tests skipped: the test cluster is not up (${(status.stdout + status.stderr).trim()}). Run \`npm run test:cluster\` (or \`bash scripts/cluster-setup.sh up\`) first.`);
}
const describeCluster = clusterUp ? describe : describe.skip;

const rnd = (p: string) => `${p}-${randomBytes(4).toString("hex")}`;

let host: ProviderHost;
let lxd: LxdClient;
const instances: string[] = [];
const volumes: Array<[string, string]> = []; // [name, member]

const volumesPath = `/1.0/storage-pools/${POOL}/volumes/custom`;
/** Every custom volume of the pool named `name` (or its snapshots `name/…`), with its member. */
async function where(name: string): Promise<Array<[string, string]>> {
  const all = (await lxd.get<StorageVolume[]>(volumesPath, { query: { recursion: "1" } })).metadata ?? [];
  return all.filter((v) => v.name === name || v.name.startsWith(`${name}/`)).map((v) => [v.name, v.location] as [string, string]).sort();
}
const onMember = async (name: string, member: string) => (await lxd.get<StorageVolume>(`${volumesPath}/${name}`, { target: member })).metadata;

describeCluster("StorageVolume target on an LXD cluster", () => {
  beforeAll(async () => {
    lxd = new LxdClient({ socketPath: socket(1) });
    host = await startProviderHost();
  });
  afterAll(async () => {
    for (const i of instances) {
      await stopInstance(lxd, i, { graceSec: 0 }).catch(() => undefined);
      await deleteInstance(lxd, i).catch(() => undefined);
    }
    for (const [v, m] of volumes) await lxd.request("DELETE", `${volumesPath}/${v}`, { target: m }).catch(() => undefined);
    await host?.close();
    await lxd?.close();
  });

  test("a volume on node2: location node2, no diff after refresh, resized in place and snapshotted beside a same-named volume on node3; a target change replaces; delete leaves nothing", async () => {
    const name = rnd("cvol");
    volumes.push([name, "node2"], [name, "node3"]);
    const e = new MiniEngine(host, "storage-volume", name, "StorageVolume");
    const inputs = { pool: POOL, name, size: "32MiB", target: "node2", connection };
    const s = await e.up(inputs);
    expect(s.outputs).toMatchObject({ target: "node2", location: "node2", size: "32MiB" });
    expect(await where(name)).toEqual([[name, "node2"]]);

    // A snapshot takes the member from the volume (read once, at create) and sends ?target= with every call.
    const sn = new MiniEngine(host, "volume-snapshot", `${name}-s1`, "VolumeSnapshot");
    const snap = { pool: POOL, volume: name, name: "s1", description: "first", connection };
    await sn.up(snap);
    expect(sn.state!.outputs).toMatchObject({ location: "node2", description: "first" });

    // node3 gets a volume of the same name, outside the stack: from now on a call without ?target= is ambiguous.
    await lxd.request("POST", volumesPath, { target: "node3", body: { name, type: "custom", config: {} } });
    await expect(lxd.get(`${volumesPath}/${name}`)).rejects.toThrow(/More than one cluster member has a volume named/);

    await e.refresh();
    expect(e.state!.outputs.location).toBe("node2");
    expect((await e.diff(inputs)).changes).toBe("none");
    // `target` places the create only: dropping it leaves the volume where it is (no change).
    const { target: _t, ...untargeted } = inputs;
    expect((await e.diff(untargeted)).changes).toBe("none");

    await e.up({ ...inputs, size: "64MiB", description: "grown" });
    expect(e.lastAction).toBe("update");
    expect((await onMember(name, "node2")).config.size).toBe("64MiB");
    expect((await onMember(name, "node3")).config.size).toBeUndefined(); // the twin is untouched

    // The snapshot's refresh, rename and delete with the twin there.
    expect(await where(name)).toEqual([[name, "node2"], [name, "node3"], [`${name}/s1`, "node2"]]);
    await sn.refresh();
    expect((await sn.diff(snap)).changes).toBe("none");
    await sn.up({ ...snap, name: "s2", description: "renamed" });
    expect(sn.lastAction).toBe("update");
    expect(await where(name)).toEqual([[name, "node2"], [name, "node3"], [`${name}/s2`, "node2"]]);
    await sn.destroy();
    expect(await where(name)).toEqual([[name, "node2"], [name, "node3"]]);
    // A new snapshot cannot tell which of the two volumes is meant: refused with LXD's message and what to do.
    const sn2 = new MiniEngine(host, "volume-snapshot", `${name}-s3`, "VolumeSnapshot");
    await expect(sn2.up({ ...snap, name: "s3" })).rejects.toThrow(/More than one cluster member has a volume named .*set target to the member whose volume is meant/);
    expect(await where(name)).toEqual([[name, "node2"], [name, "node3"]]);
    // With target, the snapshot is of that member's volume: node3's twin here, node2's volume untouched.
    await sn2.up({ ...snap, name: "s3", target: "node3" });
    expect(sn2.state!.outputs).toMatchObject({ location: "node3", target: "node3" });
    expect(await where(name)).toEqual([[name, "node2"], [name, "node3"], [`${name}/s3`, "node3"]]);
    await sn2.refresh();
    expect((await sn2.diff({ ...snap, name: "s3", target: "node3" })).changes).toBe("none");
    expect((await sn2.diff({ ...snap, name: "s3" })).changes).toBe("none"); // dropping target: no change
    expect((await sn2.diff({ ...snap, name: "s3", target: "node2" })).replaces).toEqual(["target"]);
    await sn2.up({ ...snap, name: "s3", target: "node3", description: "twin" });
    expect(sn2.lastAction).toBe("update");
    await sn2.destroy();
    expect(await where(name)).toEqual([[name, "node2"], [name, "node3"]]);

    await lxd.request("DELETE", `${volumesPath}/${name}`, { target: "node3" });

    // Another member is another volume: the preview plans a replacement; up deletes it on node2, creates it on node1.
    const moved = { ...inputs, size: "64MiB", description: "grown", target: "node1" };
    const preview = await e.preview(moved);
    expect(preview.diff).toMatchObject({ replaces: ["target"], deleteBeforeReplace: true });
    await e.up(moved);
    expect(e.lastAction).toBe("replace");
    expect(e.state!.outputs).toMatchObject({ location: "node1", size: "64MiB" });
    expect(await where(name)).toEqual([[name, "node1"]]);

    await e.destroy();
    expect(await where(name)).toEqual([]);
  });

  test("a volume created without target is on the connection's member, and naming that member is no change", async () => {
    const name = rnd("cvol");
    volumes.push([name, "node1"]);
    const e = new MiniEngine(host, "storage-volume", name, "StorageVolume");
    const inputs = { pool: POOL, name, connection };
    expect((await e.up(inputs)).outputs.location).toBe("node1");
    expect((await e.diff({ ...inputs, target: "node1" })).changes).toBe("none");
    expect((await e.diff({ ...inputs, target: "node2" })).replaces).toEqual(["target"]);
    await e.destroy();
    expect(await where(name)).toEqual([]);
  });

  test("rejects a cluster group as a volume's target, at check", async () => {
    const e = new MiniEngine(host, "storage-volume", "cvol-group", "StorageVolume");
    const r = await e.check({ pool: POOL, name: rnd("cvol"), target: "@default", connection });
    expect(r.failures).toEqual([{ property: "target", reason: expect.stringMatching(/must be one cluster member name: .*no cluster group.*"@default" was provided/) }]);
    const sn = new MiniEngine(host, "volume-snapshot", "cvol-group-s", "VolumeSnapshot");
    const rs = await sn.check({ pool: POOL, volume: rnd("cvol"), name: "s", target: "@default", connection });
    expect(rs.failures).toEqual([{ property: "target", reason: expect.stringMatching(/must be one cluster member name: LXD places a volume snapshot on one member/) }]);
  });

  test("an instance on node2 mounts the node2 volume; an instance on node3 cannot (LXD's message is surfaced)", async () => {
    const vol = rnd("cvol");
    volumes.push([vol, "node2"]);
    const v = new MiniEngine(host, "storage-volume", vol, "StorageVolume");
    await v.up({ pool: POOL, name: vol, size: "16MiB", target: "node2", connection });

    const name = rnd("cvi");
    instances.push(name);
    const devices = { data: { type: "disk", pool: POOL, source: vol, path: "/mnt/data" } };
    const i = new MiniEngine(host, "instance", name, "Instance");
    await i.up({ name, image: TEST_IMAGE, config: { "limits.memory": "128MiB" }, target: "node2", devices, connection });
    const inst = (await getInstance(lxd, name)).value;
    expect(inst).toMatchObject({ location: "node2", status: "Running" });
    expect(inst.devices.data).toEqual(devices.data);
    await v.refresh();
    expect(v.state!.outputs.usedBy).toEqual([`/1.0/instances/${name}`]);

    const other = rnd("cvi");
    instances.push(other);
    const o = new MiniEngine(host, "instance", other, "Instance");
    await expect(o.up({ name: other, image: TEST_IMAGE, config: { "limits.memory": "128MiB" }, target: "node3", devices, connection, running: false }))
      .rejects.toThrow(/Failed to create instance ".*" in project "default": .*Failed add validation for device "data": Failed loading custom volume: Storage volume not found/);

    // In use: the volume's delete refuses, naming the instance; after the instance is gone it goes.
    await expect(v.destroy()).rejects.toThrow(new RegExp(`still used by instance "${name}"`));
    await i.destroy();
    await v.destroy();
    expect(await where(vol)).toEqual([]);
  });
});

describe("StorageVolume target on a server that is not clustered", () => {
  let h: ProviderHost;
  beforeAll(async () => {
    h = await startProviderHost();
  });
  afterAll(async () => {
    await h?.close();
  });

  test("rejects target at check on the shared LXD", async () => {
    const e = new MiniEngine(h, "storage-volume", "cvol-single", "StorageVolume");
    const r = await e.check({ pool: "default", name: rnd("cvol"), target: "node1" });
    expect(r.failures).toEqual([{ property: "target", reason: 'target must be absent on a server that is not clustered (point connection at a cluster member, or remove target), but "node1" was provided' }]);
    await expect(e.up({ pool: "default", name: rnd("cvol"), target: "node1" })).rejects.toBeInstanceOf(CheckFailed);
  });
});
