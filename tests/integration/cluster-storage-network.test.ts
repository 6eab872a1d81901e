/**
 * Member-specific configuration of StoragePool and Network (`members`) against the real 3-member LXD 5.0.2 test
 * cluster (scripts/cluster-setup.sh; connection on member 1's socket), through Pulumi's real dynamic-provider host:
 * a `dir` pool with a `source` per member, a loop-backed `btrfs` pool with a `size` per member, a bridge without
 * addresses with `bridge.external_interfaces` per member (veth pairs made inside the members' own network
 * namespaces: nothing leaves them), each created, read back with no diff, changed on one member, adopted after being
 * made by REST outside the stack, and deleted; and what check refuses on a cluster and on a single server.
 *
 * Runs only when the cluster is up (`bash scripts/cluster-setup.sh status`); `npm run test:cluster` brings it up
 * first. Needs `npm run build` (the shim loads `dist/`).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  LxdClient, createNetwork, createStoragePool, deleteNetwork, deleteStoragePool, getNetwork, getStoragePool, patchNetwork, listStoragePools, listNetworks,
} from "../../provider/lxd";
import { CheckFailed, MiniEngine } from "../support/engine";
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { localClient } from "../support/lxd";

const ROOT = process.env.LXD_CLUSTER_ROOT ?? "/var/lib/lxd-cluster";
const SCRIPT = path.resolve(__dirname, "..", "..", "scripts", "cluster-setup.sh");
const socket = (n: number) => `${ROOT}/node${n}/unix.socket`;
const connection = { socketPath: socket(1) };
const MEMBERS = ["node1", "node2", "node3"];

const status = spawnSync("bash", [SCRIPT, "status"], { encoding: "utf8" });
const clusterUp = status.status === 0;
if (!clusterUp) {
  // eslint-disable-next-line no-console
  console.log(`cluster storage/network tests skipped: the test cluster is not up (${(status.stdout + status.stderr).trim()}). Run \`npm run test:cluster\` (or \`bash scripts/cluster-setup.sh up\`) first.`);
}
const describeCluster = clusterUp ? describe : describe.skip;

const hex = (n = 3) => randomBytes(n).toString("hex");

let host: ProviderHost;
let lxd: LxdClient;
const pools: string[] = [];
const networks: string[] = [];
const veths: Array<[number, string]> = [];
const dirs: string[] = [];

/** The PID of member n's namespace holder (scripts/cluster-setup.sh's state file). */
function holder(n: number): number {
  const state = fs.readFileSync(`${ROOT}/state`, "utf8");
  return Number(new RegExp(`^HOLDER${n}=(\\d+)`, "m").exec(state)![1]);
}
/** A veth pair inside member n's own network namespace (unconnected: nothing can leave it). Returns one end's name. */
function vethIn(n: number): string {
  const name = `cmv${hex(3)}`;
  execFileSync("nsenter", ["-t", String(holder(n)), "-n", "ip", "link", "add", name, "type", "veth", "peer", "name", `${name}p`]);
  veths.push([n, name]);
  return name;
}
/** The interfaces enslaved to bridge `bridge` in member n's namespace. */
function portsOf(n: number, bridge: string): string[] {
  const out = execFileSync("nsenter", ["-t", String(holder(n)), "-n", "ip", "-o", "link", "show", "master", bridge], { encoding: "utf8" });
  return out.split("\n").filter(Boolean).map((l) => l.split(":")[1].trim().split("@")[0]).sort();
}
const memberPool = async (name: string, m: string) => (await getStoragePool(lxd, name, { target: m })).value;
const memberNet = async (name: string, m: string) => (await getNetwork(lxd, name, { target: m })).value;

describeCluster("StoragePool and Network members on an LXD cluster", () => {
  beforeAll(async () => {
    lxd = new LxdClient({ socketPath: socket(1) });
    host = await startProviderHost();
  });
  afterAll(async () => {
    for (const p of pools) await deleteStoragePool(lxd, p).catch(() => undefined);
    for (const n of networks) await deleteNetwork(lxd, n).catch(() => undefined);
    for (const [n, v] of veths) spawnSync("nsenter", ["-t", String(holder(n)), "-n", "ip", "link", "del", v]);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    await host?.close();
    await lxd?.close();
  });

  test("dir pool with a source per member: created on every member, read back with no diff, updated, a member's new source replaces, deleted", async () => {
    const name = `cmp-${hex()}`;
    pools.push(name);
    const base = `${ROOT}/pools-${name}`;
    dirs.push(base);
    const e = new MiniEngine(host, "storage-pool", name, "StoragePool");
    // node3 is left out: LXD gives it its own source (inside its LXD_DIR), which is LXD's and never drift.
    const inputs = { name, driver: "dir", description: "per member", config: { "volume.size": "64MiB" }, members: { node1: { source: `${base}/node1` }, node2: { source: `${base}/node2` } }, connection };
    // LXD's dir driver wants its source to exist: the global create fails after the members accepted it pending, and
    // the pending pool is removed again (nothing left, nothing in state).
    await expect(e.up(inputs)).rejects.toThrow(/Failed to create storage pool ".*": Source path '.*\/node1' doesn't exist/);
    expect(e.state).toBeUndefined();
    expect(await listStoragePools(lxd)).not.toContain(name);
    for (const m of ["node1", "node2"]) fs.mkdirSync(`${base}/${m}`, { recursive: true });
    const s = await e.up(inputs);
    expect(s.outputs).toMatchObject({ status: "Created", locations: MEMBERS, members: inputs.members, config: { "volume.size": "64MiB" } });
    expect(s.outputs.memberConfig).toEqual({ node1: { source: `${base}/node1` }, node2: { source: `${base}/node2` }, node3: { source: `${ROOT}/node3/storage-pools/${name}` } });
    expect((await memberPool(name, "node1")).config).toEqual({ source: `${base}/node1`, "volume.size": "64MiB" });
    expect((await memberPool(name, "node2")).config.source).toBe(`${base}/node2`);
    expect(fs.existsSync(`${base}/node1/custom`)).toBe(true);

    await e.refresh();
    expect(e.state!.inputs.members).toEqual(inputs.members);
    expect((await e.diff(inputs)).changes).toBe("none");

    // Global keys change globally; each member keeps its source.
    const changed = { ...inputs, description: "changed", config: { "volume.size": "32MiB", "user.tier": "bulk" } };
    await e.up(changed);
    expect(e.lastAction).toBe("update");
    for (const m of MEMBERS) expect((await memberPool(name, m)).config).toMatchObject({ "volume.size": "32MiB", "user.tier": "bulk" });
    expect((await memberPool(name, "node2")).config.source).toBe(`${base}/node2`);
    expect((await getStoragePool(lxd, name)).value.description).toBe("changed");
    await e.refresh();
    expect((await e.diff(changed)).changes).toBe("none");
    // Writing down the source LXD chose for node3 is no change; another source on one member is another pool.
    expect((await e.diff({ ...changed, members: { ...changed.members, node3: { source: `${ROOT}/node3/storage-pools/${name}` } } })).replaces).toEqual([]);
    expect((await e.diff({ ...changed, members: { ...changed.members, node2: { source: `${base}/other` } } })).replaces).toEqual(["members"]);

    // In use (a profile's disk on it): the delete fails first, as on one server.
    const profile = `cmp-${hex()}`;
    await lxd.request("POST", "/1.0/profiles", { body: { name: profile, config: {}, description: "", devices: { data: { type: "disk", pool: name, source: "v1", path: "/mnt" } } } });
    try {
      await expect(e.destroy()).rejects.toThrow(/Failed to delete storage pool ".*": it is in use by profile ".*"/);
    } finally {
      await lxd.request("DELETE", `/1.0/profiles/${profile}`);
    }
    await e.destroy();
    expect(await listStoragePools(lxd)).not.toContain(name);
  });

  test("btrfs loop pool with a size per member; a size change on one member is refused where LXD cannot resize (5.0)", async () => {
    const name = `cmb-${hex()}`;
    pools.push(name);
    const e = new MiniEngine(host, "storage-pool", name, "StoragePool");
    const inputs = { name, driver: "btrfs", members: { node1: { size: "300MiB" }, node2: { size: "400MiB" }, node3: { size: "300MiB" } }, connection };
    await e.up(inputs);
    expect((await memberPool(name, "node1")).config).toMatchObject({ size: "300MiB", source: `${ROOT}/node1/disks/${name}.img` });
    expect((await memberPool(name, "node2")).config.size).toBe("400MiB");
    expect(fs.statSync(`${ROOT}/node2/disks/${name}.img`).size).toBe(400 * 1024 * 1024);
    await e.refresh();
    expect(e.state!.outputs.members).toEqual(inputs.members);
    expect((await e.diff(inputs)).changes).toBe("none");
    const grown = { ...inputs, members: { ...inputs.members, node1: { size: "500MiB" } } };
    if (await lxd.hasExtension("storage_pool_loop_resize")) {
      await e.up(grown);
      expect((await memberPool(name, "node1")).config.size).toBe("500MiB");
    } else {
      await expect(e.diff(grown)).rejects.toThrow(/members\.node1\.size cannot change from "300MiB" to "500MiB".*storage_pool_loop_resize/);
    }
    await e.destroy();
    expect(await listStoragePools(lxd)).not.toContain(name);
  });

  test("rejects member-specific keys in config, other keys under members and unknown members on a cluster, at preview", async () => {
    const name = `cmx-${hex()}`;
    const e = new MiniEngine(host, "storage-pool", name, "StoragePool");
    const p1 = await e.preview({ name, driver: "btrfs", config: { size: "1GiB" }, connection });
    expect(p1.check.failures).toEqual([{ property: "config.size", reason: expect.stringMatching(/^config\.size must be given per cluster member on a clustered server \(members: \{<member>: \{"size": …\}\}/) }]);
    const p2 = await e.preview({ name, driver: "dir", members: { node9: { source: "/srv/x" } }, connection });
    expect(p2.check.failures).toEqual([{ property: "members.node9", reason: 'members must name members of the cluster (node1, node2, node3), but "node9" was provided' }]);
    const n = new MiniEngine(host, "network", name.slice(0, 15), "Network");
    const p3 = await n.preview({ name: name.slice(0, 15), config: { "ipv4.address": "none", "ipv6.address": "none", "bridge.external_interfaces": "eth9" }, connection });
    expect(p3.check.failures).toEqual([{ property: "config.bridge.external_interfaces", reason: expect.stringMatching(/must be given per cluster member/) }]);
    await expect(n.up({ name: name.slice(0, 15), members: { node1: { "ipv4.address": "none" } }, connection })).rejects.toBeInstanceOf(CheckFailed);
    expect(await listStoragePools(lxd)).not.toContain(name);
    expect(await listNetworks(lxd)).not.toContain(name.slice(0, 15));
  });

  test("adopts a dir pool made outside the stack with a source per member; destroy keeps it with its former description", async () => {
    const name = `cma-${hex()}`;
    pools.push(name);
    const base = `${ROOT}/pools-${name}`;
    dirs.push(base);
    for (const m of ["node1", "node2"]) fs.mkdirSync(`${base}/${m}`, { recursive: true });
    for (const m of MEMBERS) await createStoragePool(lxd, { name, driver: "dir", config: m === "node3" ? {} : { source: `${base}/${m}` }, description: "" }, { target: m });
    await createStoragePool(lxd, { name, driver: "dir", config: {}, description: "made by hand" });

    const e = new MiniEngine(host, "storage-pool", name, "StoragePool");
    await expect(e.up({ name, driver: "dir", connection })).rejects.toThrow(/not in pending state.*set adopt: true/);
    expect(e.state).toBeUndefined();
    const wrong = { name, driver: "dir", adopt: true, members: { node2: { source: `${base}/elsewhere` } }, connection };
    await expect(e.up(wrong)).rejects.toThrow(/member "node2" of the existing pool has source ".*\/node2", but members\.node2\.source ".*elsewhere" was declared/);
    e.state = undefined;

    const inputs = { name, driver: "dir", adopt: true, description: "managed", members: { node1: { source: `${base}/node1` }, node2: { source: `${base}/node2` } }, connection };
    const s = await e.up(inputs);
    expect(s.outputs.adoptedFrom).toMatchObject({ description: "made by hand", members: { node1: { source: `${base}/node1` }, node2: { source: `${base}/node2` }, node3: { source: `${ROOT}/node3/storage-pools/${name}` } } });
    expect((await getStoragePool(lxd, name)).value.description).toBe("managed");
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");
    await e.destroy();
    expect((await getStoragePool(lxd, name)).value.description).toBe("made by hand");
    expect((await memberPool(name, "node1")).config.source).toBe(`${base}/node1`);
    await deleteStoragePool(lxd, name);
  });

  test("bridge without addresses with external interfaces per member: created, no diff, changed on one member, drift put back, deleted", async () => {
    const name = `cmn${hex()}`;
    networks.push(name);
    const v1 = vethIn(1);
    const v2 = vethIn(2);
    const e = new MiniEngine(host, "network", name, "Network");
    const inputs = {
      name, description: "L2 only", config: { "ipv4.address": "none", "ipv6.address": "none" },
      members: { node1: { "bridge.external_interfaces": v1 } }, connection,
    };
    const s = await e.up(inputs);
    expect(s.outputs).toMatchObject({ status: "Created", members: inputs.members, config: inputs.config, description: "L2 only" });
    expect(s.outputs.memberConfig).toEqual({ node1: { "bridge.external_interfaces": v1 }, node2: {}, node3: {} });
    expect((await getNetwork(lxd, name)).value).toMatchObject({ description: "L2 only", config: { "ipv4.address": "none", "ipv6.address": "none" } });
    expect(portsOf(1, name)).toEqual([v1]);
    expect(portsOf(2, name)).toEqual([]);
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");

    // node2 gets its own interface; node1 keeps its; the global keys and description stay.
    const both = { ...inputs, description: "two members", members: { node1: { "bridge.external_interfaces": v1 }, node2: { "bridge.external_interfaces": v2 } } };
    await e.up(both);
    expect(e.lastAction).toBe("update");
    expect(portsOf(2, name)).toEqual([v2]);
    expect((await memberNet(name, "node2")).config).toEqual({ "bridge.external_interfaces": v2, "ipv4.address": "none", "ipv6.address": "none" });
    expect((await memberNet(name, "node1")).config["bridge.external_interfaces"]).toBe(v1);
    expect((await getNetwork(lxd, name)).value.description).toBe("two members");
    await e.refresh();
    expect((await e.diff(both)).changes).toBe("none");

    // Changed by hand on node2: drift after refresh, put back by the next up.
    await patchNetwork(lxd, name, { config: { "bridge.external_interfaces": "" }, description: "two members" }, undefined, { target: "node2" });
    await e.refresh();
    expect(e.state!.outputs.members).toEqual({ node1: { "bridge.external_interfaces": v1 }, node2: {} });
    expect((await e.diff(both)).changes).toBe("some");
    await e.up(both);
    expect(portsOf(2, name)).toEqual([v2]);

    // node1 dropped from members: its key is unset, its interface detached.
    const one = { ...both, members: { node2: { "bridge.external_interfaces": v2 } } };
    await e.up(one);
    expect((await memberNet(name, "node1")).config["bridge.external_interfaces"]).toBeUndefined();
    expect(portsOf(1, name)).toEqual([]);
    expect((await getNetwork(lxd, name)).value.config).toEqual({ "ipv4.address": "none", "ipv6.address": "none" });
    await e.refresh();
    expect((await e.diff(one)).changes).toBe("none");

    await e.destroy();
    expect(await listNetworks(lxd)).not.toContain(name);
  });

  test("adopts a bridge made outside the stack, sets one member's interface, and puts it back on destroy", async () => {
    const name = `cmn${hex()}`;
    networks.push(name);
    const v3 = vethIn(3);
    for (const m of MEMBERS) await createNetwork(lxd, { name, type: "bridge", config: {}, description: "" }, { target: m });
    await createNetwork(lxd, { name, type: "bridge", config: { "ipv4.address": "none", "ipv6.address": "none" }, description: "" });
    const e = new MiniEngine(host, "network", name, "Network");
    // Without adopt, an existing name is refused (LXD: `Network is not in pending state`), with the hint, and nothing is held.
    await expect(e.up({ name, config: { "ipv4.address": "none", "ipv6.address": "none" }, connection })).rejects.toThrow(/not in pending state.*set adopt: true/);
    expect(e.state).toBeUndefined();
    const inputs = { name, adopt: true, description: "adopted", config: { "ipv4.address": "none", "ipv6.address": "none" }, members: { node3: { "bridge.external_interfaces": v3 } }, connection };
    const s = await e.up(inputs);
    expect(s.outputs.adoptedFrom).toEqual({ config: { "ipv4.address": "none", "ipv6.address": "none" }, description: "", members: { node1: {}, node2: {}, node3: {} } });
    expect(portsOf(3, name)).toEqual([v3]);
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");
    await e.destroy();
    expect((await memberNet(name, "node3")).config).toEqual({ "ipv4.address": "none", "ipv6.address": "none" });
    expect(portsOf(3, name)).toEqual([]);
    await deleteNetwork(lxd, name);
  });
});

test("rejects members on a server that is not clustered, before anything is created", async () => {
  const local = localClient();
  const h = await startProviderHost();
  try {
    const name = `cmz-${hex()}`;
    const e = new MiniEngine(h, "storage-pool", name, "StoragePool");
    const p = await e.preview({ name, driver: "dir", members: { node1: { source: "/srv/x" } } });
    expect(p.check.failures).toEqual([{ property: "members", reason: expect.stringMatching(/^members must be absent on a server that is not clustered/) }]);
    expect(await listStoragePools(local)).not.toContain(name);
  } finally {
    await h.close();
    await local.close();
  }
});
