/**
 * Clusters, against a real 3-member LXD 5.0.2 cluster on this machine (scripts/cluster-setup.sh: one daemon per
 * member in network namespaces, joined over a bridge of their own; sockets /var/lib/lxd-cluster/nodeN/unix.socket),
 * through Pulumi's real dynamic-provider host with the connection on member 1's socket:
 * Instance placement (`target`, `location`, moves), ClusterGroup, ClusterMember, a member daemon killed while its
 * instance is read, and examples/cluster end to end.
 *
 * Runs only when the cluster is up (`bash scripts/cluster-setup.sh status`); `npm run test:cluster` brings it up
 * first. Needs `npm run build` (the shim loads `dist/`).
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  LxdClient, RawBody, listNetworks, listStoragePools, deleteClusterGroup, deleteInstance, getClusterMember, getInstance, listClusterGroups, listInstances, memberPut, stopInstance,
  updateClusterMember, createClusterGroup,
} from "../../provider/lxd";
import { CheckFailed, MiniEngine } from "../support/engine";
import { rejected, startProviderHost, type ProviderHost } from "../support/provider-host";
import { mockResourcesToHost } from "../support/provider-host-mocks";
import { localClient, TEST_IMAGE } from "../support/lxd";
import { BACKEND, BACKEND_NAME } from "../support/backend";

const ROOT = process.env.LXD_CLUSTER_ROOT ?? "/var/lib/lxd-cluster";
const SCRIPT = path.resolve(__dirname, "..", "..", "scripts", "cluster-setup.sh");
const socket = (n: number) => `${ROOT}/node${n}/unix.socket`;
const connection = { socketPath: socket(1) };

/**
 * The test cluster is LXD daemons (scripts/cluster-setup.sh): on the Incus run nothing here is asked or brought up,
 * and the suite is skipped with the reason printed.
 */
const clusterUp = (() => {
  if (BACKEND !== "lxd") {
    // eslint-disable-next-line no-console
    console.log(`[${BACKEND_NAME}] skipped: cluster tests run against the LXD test cluster (scripts/cluster-setup.sh starts LXD daemons only); nothing is brought up on the ${BACKEND_NAME} run`);
    return false;
  }
  const status = spawnSync("bash", [SCRIPT, "status"], { encoding: "utf8" });
  if (status.status === 0) return true;
  // eslint-disable-next-line no-console
  console.log(`cluster tests skipped: the test cluster is not up (${(status.stdout + status.stderr).trim()}). Run \`npm run test:cluster\` (or \`bash scripts/cluster-setup.sh up\`) first.`);
  return false;
})();
const describeCluster = clusterUp ? describe : describe.skip;

const rnd = (p = "ct") => `${p}-${randomBytes(4).toString("hex")}`;
/** Small, quick instances: the test image, a little memory. */
const base = (name: string, extra: Record<string, unknown> = {}) => ({ name, image: TEST_IMAGE, config: { "limits.memory": "128MiB" }, connection, ...extra });

let host: ProviderHost;
let lxd: LxdClient;
const made: string[] = [];
const groups: string[] = [];

/** Everything a failed test may leave: instances, groups, and groups on members. */
async function cleanupAll(): Promise<void> {
  for (const name of made) {
    await stopInstance(lxd, name, { graceSec: 0 }).catch(() => undefined);
    await deleteInstance(lxd, name).catch(() => undefined);
  }
  for (const n of [1, 2, 3]) {
    const { value, etag } = await getClusterMember(lxd, `node${n}`).catch(() => ({ value: undefined, etag: "" }));
    if (!value) continue;
    const kept = (value.groups ?? []).filter((g) => !groups.includes(g));
    if (kept.length !== (value.groups ?? []).length) await updateClusterMember(lxd, `node${n}`, { ...memberPut(value), groups: kept.length ? kept : ["default"] }, etag).catch(() => undefined);
  }
  const existing = await listClusterGroups(lxd).catch(() => [] as string[]);
  for (const g of groups) if (existing.includes(g)) await deleteClusterGroup(lxd, g).catch(() => undefined);
}

/** Writes a file into an instance through LXD's file API (works on a stopped container). */
async function pushFile(name: string, file: string, text: string): Promise<void> {
  const body = Buffer.from(text);
  await lxd.request("POST", `/1.0/instances/${name}/files`, { query: { path: file }, body: new RawBody(body, body.length), headers: { "x-lxd-type": "file", "x-lxd-mode": "0644" } });
}
/** Reads a file from an instance through LXD's file API. */
async function pullFile(name: string, file: string): Promise<string> {
  // The file API answers raw bytes, not LXD's JSON envelope.
  const out = execFileSync("lxc", ["file", "pull", `${name}${file}`, "-"], { env: { ...process.env, LXD_DIR: `${ROOT}/node1` }, encoding: "utf8" });
  return out;
}

const memberGroups = async (n: number) => (await getClusterMember(lxd, `node${n}`)).value.groups ?? [];

describeCluster("LXD cluster", () => {
  beforeAll(async () => {
    lxd = new LxdClient({ socketPath: socket(1) });
    host = await startProviderHost();
  });
  afterAll(async () => {
    await cleanupAll();
    // The daemons' memory after the tests (peak = sum of VmHWM since each daemon started).
    // eslint-disable-next-line no-console
    console.log(spawnSync("bash", [SCRIPT, "status"], { encoding: "utf8" }).stdout.trim());
    await host?.close();
    await lxd?.close();
  });

  test("instances created on each member and on a group: location is the member, refresh shows no diff", async () => {
    const group = rnd("g");
    groups.push(group);
    await createClusterGroup(lxd, { name: group, description: "", members: [] });
    const { value, etag } = await getClusterMember(lxd, "node3");
    await updateClusterMember(lxd, "node3", { ...memberPut(value), groups: [...value.groups, group] }, etag);

    const engines: Array<[MiniEngine, Record<string, unknown>, string]> = [];
    for (const [target, want] of [["node1", "node1"], ["node2", "node2"], ["node3", "node3"], [`@${group}`, "node3"]]) {
      const name = rnd();
      made.push(name);
      const inputs = base(name, { target, running: target === "node2" });
      const e = new MiniEngine(host, "instance", name, "Instance");
      await e.up(inputs);
      expect(e.state!.outputs.location).toBe(want);
      expect((await getInstance(lxd, name)).value.location).toBe(want);
      engines.push([e, inputs, want]);
    }
    for (const [e, inputs, want] of engines) {
      await e.refresh();
      expect(e.state!.outputs.location).toBe(want);
      expect((await e.diff(inputs)).changes).toBe("none");
    }
    // A group target the instance already satisfies is no change: node3's instance, now targeted at the group.
    const [e3, in3] = engines[2];
    expect((await e3.diff({ ...in3, target: `@${group}` })).changes).toBe("none");
    for (const [e] of engines) await e.destroy();
  });

  test("a target change moves a stopped instance to another member in place, keeping its data", async () => {
    const name = rnd();
    made.push(name);
    const e = new MiniEngine(host, "instance", name, "Instance");
    const inputs = base(name, { target: "node1", running: false });
    await e.up(inputs);
    await pushFile(name, "/root/marker", "kept across the move\n");
    const moved = { ...inputs, target: "node2" };
    const d = await e.diff(moved);
    expect(d.changes).toBe("some");
    expect(d.replaces).toEqual([]);
    await e.up(moved);
    expect(e.lastAction).toBe("update");
    expect(e.state!.outputs.location).toBe("node2");
    expect((await getInstance(lxd, name)).value.location).toBe("node2");
    expect(await pullFile(name, "/root/marker")).toBe("kept across the move\n");
    await e.refresh();
    expect((await e.diff(moved)).changes).toBe("none");
    await e.destroy();
  });

  test("rejects moving a running instance without allowRestartForMove, saying why; with it, the instance is moved and runs again", async () => {
    const name = rnd();
    made.push(name);
    const e = new MiniEngine(host, "instance", name, "Instance");
    const inputs = base(name, { target: "node2" });
    await e.up(inputs);
    const moved = { ...inputs, target: "node3" };
    const preview = await e.preview(moved);
    expect(preview.check.failures).toEqual([
      { property: "target", reason: expect.stringMatching(/runs on member "node2" and must move to node3.*allowRestartForMove: true/) },
    ]);
    await expect(e.up(moved)).rejects.toBeInstanceOf(CheckFailed);
    expect((await getInstance(lxd, name)).value).toMatchObject({ location: "node2", status: "Running" });

    await e.up({ ...moved, allowRestartForMove: true });
    expect(e.lastAction).toBe("update");
    expect(e.state!.outputs).toMatchObject({ location: "node3", status: "Running" });
    await e.destroy();
  });

  test("ClusterGroup: created, assigned (members keep their other groups), used as a move target, a member removed, deleted", async () => {
    const other = rnd("keep");
    const group = rnd("g");
    groups.push(other, group);
    await createClusterGroup(lxd, { name: other, description: "", members: [] });
    const { value, etag } = await getClusterMember(lxd, "node2");
    await updateClusterMember(lxd, "node2", { ...memberPut(value), groups: [...value.groups, other] }, etag);

    const g = new MiniEngine(host, "cluster-group", group, "ClusterGroup");
    const gin = { name: group, description: "test group", members: ["node3", "node2"], connection };
    await g.up(gin);
    expect(g.state!.outputs.members).toEqual(["node2", "node3"]);
    expect(await memberGroups(2)).toEqual(expect.arrayContaining(["default", other, group]));
    await g.refresh();
    expect((await g.diff(gin)).changes).toBe("none");

    const name = rnd();
    made.push(name);
    const e = new MiniEngine(host, "instance", name, "Instance");
    // A move to a group goes to one of its members (LXD itself cannot move to a group).
    const inputs = base(name, { target: "node1", running: false });
    await e.up(inputs);
    await e.up({ ...inputs, target: `@${group}` });
    expect(e.lastAction).toBe("update");
    expect(["node2", "node3"]).toContain(e.state!.outputs.location);
    expect((await getInstance(lxd, name)).value.location).toBe(e.state!.outputs.location);
    expect((await e.diff({ ...inputs, target: `@${group}` })).changes).toBe("none");
    await e.destroy();

    await g.up({ ...gin, members: ["node2"] });
    expect(await memberGroups(3)).not.toContain(group);
    expect(await memberGroups(3)).toContain("default");
    expect(await memberGroups(2)).toEqual(expect.arrayContaining([other, group]));

    await g.destroy();
    expect(await listClusterGroups(lxd)).not.toContain(group);
    expect(await memberGroups(2)).toEqual(expect.arrayContaining(["default", other]));
  });

  test("ClusterMember: description and config set with a whole-member PUT, put back on delete", async () => {
    const before = (await getClusterMember(lxd, "node3")).value;
    const m = new MiniEngine(host, "cluster-member", "node3", "ClusterMember");
    const inputs = { name: "node3", description: "set by the test", config: { "scheduler.instance": "manual" }, connection };
    try {
      await m.up(inputs);
      const now = (await getClusterMember(lxd, "node3")).value;
      expect(now).toMatchObject({ description: "set by the test", config: { "scheduler.instance": "manual" }, groups: before.groups, roles: before.roles });
      await m.refresh();
      expect((await m.diff(inputs)).changes).toBe("none");
      await m.destroy();
      const after = (await getClusterMember(lxd, "node3")).value;
      expect(after.description).toBe(before.description);
      expect(after.config?.["scheduler.instance"]).toBe(before.config?.["scheduler.instance"]);
    } finally {
      const { value, etag } = await getClusterMember(lxd, "node3");
      await updateClusterMember(lxd, "node3", { ...memberPut(value), description: before.description, config: before.config ?? {} }, etag).catch(() => undefined);
    }
  });

  test("fails when the member holding the instance is down: the read names the member and keeps the state; once it is back, the next run converges", async () => {
    const name = rnd();
    made.push(name);
    const e = new MiniEngine(host, "instance", name, "Instance");
    const inputs = base(name, { target: "node3", running: false });
    await e.up(inputs);
    const state = JSON.stringify(e.state);
    const pid = Number(/DAEMON3=(\d+)/.exec(execFileSync("cat", [`${ROOT}/state`], { encoding: "utf8" }))![1]);
    process.kill(pid, "SIGKILL");
    try {
      const err = await rejected(e.refresh());
      expect(err.message).toMatch(/Failed to read instance ".*" in project "default": its cluster member "node3"/);
      expect(JSON.stringify(e.state)).toBe(state);
    } finally {
      execFileSync("bash", [SCRIPT, "start-member", "3"], { stdio: "ignore", timeout: 180_000 });
    }
    // The member is back: wait until the cluster lists it online again, then refresh and plan.
    for (let i = 0; i < 60 && (await getClusterMember(lxd, "node3")).value.status !== "Online"; i++) await new Promise((r) => setTimeout(r, 1000));
    await e.refresh();
    expect(e.state!.outputs).toMatchObject({ location: "node3", status: "Stopped" });
    expect((await e.diff(inputs)).changes).toBe("none");
    await e.destroy();
  });

  test("examples/cluster: instances pinned to members and to a group, and replicas spread over the members", async () => {
    const prefix = rnd("ex");
    const project = "lxd-cluster-example";
    const mocks = mockResourcesToHost(host);
    const poolRoot = `${ROOT}/${prefix}-pools`;
    for (const m of ["node1", "node2", "node3"]) fs.mkdirSync(`${poolRoot}/${m}`, { recursive: true });
    pulumi.runtime.setAllConfig({ [`${project}:prefix`]: prefix, [`${project}:socketPath`]: socket(1), [`${project}:poolRoot`]: poolRoot });
    await pulumi.runtime.setMocks(mocks, project, "test", false);
    groups.push(`${prefix}-pool`);
    for (const i of [1, 2, 3]) made.push(`${prefix}-web-${i}`);
    made.push(`${prefix}-db`, `${prefix}-worker`);
    let mod: Record<string, pulumi.Output<unknown>> = {};
    jest.isolateModules(() => {
      mod = require(path.resolve(__dirname, "..", "..", "examples", "cluster", "index.ts"));
    });
    try {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(mod)) out[k] = await (pulumi.output(v) as unknown as { promise(): Promise<unknown> }).promise();
      expect(out.dbLocation).toBe("node1");
      expect(["node2", "node3"]).toContain(out.workerLocation);
      expect(out.webLocations).toEqual(["node1", "node2", "node3"]);
      expect(out.dataSources).toEqual({ node1: { source: `${poolRoot}/node1` }, node2: { source: `${poolRoot}/node2` }, node3: { source: `${poolRoot}/node3` } });
      expect(out.dataLocations).toEqual(["node1", "node2", "node3"]);
      expect(out.l2Locations).toEqual(["node1", "node2", "node3"]);
      for (const m of ["node1", "node2", "node3"]) {
        expect((await lxd.get<{ config: Record<string, string> }>(`/1.0/storage-pools/${prefix}-data`, { target: m })).metadata.config.source).toBe(`${poolRoot}/${m}`);
        expect((await lxd.get<{ config: Record<string, string> }>(`/1.0/networks/${prefix}-l2`, { target: m })).metadata.config).toEqual({ "ipv4.address": "none", "ipv6.address": "none" });
      }
      for (const [n, where] of [[`${prefix}-web-1`, "node1"], [`${prefix}-web-2`, "node2"], [`${prefix}-web-3`, "node3"], [`${prefix}-db`, "node1"]]) {
        expect((await getInstance(lxd, n)).value).toMatchObject({ location: where, status: "Running" });
      }
    } finally {
      await mocks.cleanup();
      fs.rmSync(poolRoot, { recursive: true, force: true });
    }
    const left = await listInstances(lxd);
    expect(left.filter((n) => n.startsWith(prefix))).toEqual([]);
    expect((await listStoragePools(lxd)).filter((n) => n.startsWith(prefix))).toEqual([]);
    expect((await listNetworks(lxd)).filter((n) => n.startsWith(prefix))).toEqual([]);
  });
});

test("rejects target on a server that is not clustered, before anything is created", async () => {
  const local = localClient();
  const h = await startProviderHost();
  try {
    const name = rnd();
    const e = new MiniEngine(h, "instance", name, "Instance");
    await expect(e.up({ name, image: TEST_IMAGE, target: "node1" })).rejects.toThrow(/target.*not clustered/);
    expect(await listInstances(local)).not.toContain(name);
  } finally {
    await h.close();
    await local.close();
  }
});
