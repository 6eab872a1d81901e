/**
 * The InstanceSnapshot resource against the real LXD through Pulumi's dynamic-provider host: lifecycle (create →
 * refresh → empty diff → expiry updated in place → rename in place → replace on instance change → delete → nothing
 * left), adoption, a snapshot deleted outside the stack, bad inputs refused at check (and a stateful snapshot on
 * this host, which has no CRIU), and restore as an explicit action (the file is back; the instance's running state
 * is as promised). Containers are made with the REST client from the test image. Needs `npm run build`.
 */
import { startProviderHost, UNKNOWN, type ProviderHost } from "../support/provider-host";
import { MiniEngine, randomName } from "../support/engine";
import { BACKEND } from "../support/backend";
import { localClient, removeInstance, TEST_IMAGE } from "../support/lxd";
import {
  createInstance, createInstanceSnapshot, deleteInstanceSnapshot, getInstanceSnapshot, getInstanceState, listInstanceSnapshots,
  RawBody, startInstance, stopInstance, type LxdClient,
} from "../../provider/lxd";

let host: ProviderHost;
let lxd: LxdClient;
/** Two containers for the whole file: `stopped` stays stopped, `running` runs (the restore test stops it once). */
let stopped: string;
let running: string;

beforeAll(async () => {
  host = await startProviderHost();
  lxd = localClient();
  stopped = randomName("snp-a");
  running = randomName("snp-b");
  await createInstance(lxd, { name: stopped, source: { type: "image", alias: TEST_IMAGE } });
  await createInstance(lxd, { name: running, source: { type: "image", alias: TEST_IMAGE } });
  await startInstance(lxd, running);
});
afterAll(async () => {
  await removeInstance(lxd, stopped);
  await removeInstance(lxd, running);
  await host?.close();
  await lxd?.close();
});

const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");

async function snapshots(instance: string): Promise<string[]> {
  return (await listInstanceSnapshots(lxd, instance)).sort();
}
async function status(instance: string): Promise<string> {
  return (await getInstanceState(lxd, instance)).status;
}
/** Writes /root/<file> through LXD's files API (works on stopped and running containers). */
async function writeFile(instance: string, file: string, content: string): Promise<void> {
  const data = Buffer.from(content);
  await lxd.request("POST", `/1.0/instances/${instance}/files`, {
    query: { path: `/root/${file}` }, body: new RawBody(data, data.length), headers: { "x-lxd-type": "file", "x-lxd-uid": "0", "x-lxd-gid": "0", "x-lxd-mode": "0644" },
  });
}
async function deleteFile(instance: string, file: string): Promise<void> {
  await lxd.request("DELETE", `/1.0/instances/${instance}/files`, { query: { path: `/root/${file}` } });
}
/** The names in /root (a directory listing is JSON). */
async function rootFiles(instance: string): Promise<string[]> {
  return (await lxd.get<string[]>(`/1.0/instances/${instance}/files`, { query: { path: "/root" } })).metadata ?? [];
}

test("lifecycle: create → refresh → empty diff → expiry in place → rename in place → replace on instance change → delete leaves nothing", async () => {
  const name = randomName("s");
  const e = new MiniEngine(host, "instance-snapshot", name, "InstanceSnapshot");
  try {
    // Any offset is accepted; it is stored and compared in UTC.
    const local = inDays(1).replace("Z", "+00:00");
    const inputs = { instance: stopped, name, expiresAt: local };
    const s = await e.up(inputs);
    expect(e.state!.id).toBe(`default/${stopped}/${name}`);
    const live = (await getInstanceSnapshot(lxd, stopped, name)).value;
    expect(new Date(live.expires_at).toISOString()).toBe(new Date(local).toISOString());
    expect(s.outputs).toMatchObject({ expiresAt: local.replace("+00:00", "Z"), stateful: false, createdAt: expect.stringMatching(/^\d{4}-.*Z$/), adopted: false });
    expect(s.outputs.size).toBeUndefined(); // the `dir` pool cannot tell (LXD says -1)
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");

    const later = { ...inputs, expiresAt: inDays(2) };
    await e.up(later);
    expect(e.lastAction).toBe("update");
    expect(new Date((await getInstanceSnapshot(lxd, stopped, name)).value.expires_at).toISOString()).toBe(new Date(later.expiresAt).toISOString());
    expect((await e.diff(later)).changes).toBe("none");

    // No expiry any more: LXD's zero time, reported as absent.
    const never = { instance: stopped, name };
    await e.up(never);
    expect((await getInstanceSnapshot(lxd, stopped, name)).value.expires_at).toMatch(/^0001-01-01/);
    expect(e.state!.outputs.expiresAt).toBeUndefined();
    expect((await e.diff(never)).changes).toBe("none");

    const renamed = { ...never, name: `${name}-r` };
    const created = e.state!.outputs.createdAt;
    await e.up(renamed);
    expect(e.lastAction).toBe("update");
    expect(await snapshots(stopped)).toEqual([`${name}-r`]);
    expect(e.state!.outputs.createdAt).toBe(created); // the same snapshot, renamed
    await e.refresh();
    expect(e.state!.id).toBe(`default/${stopped}/${name}-r`);
    expect((await e.diff(renamed)).changes).toBe("none");

    const moved = { ...renamed, instance: running };
    expect((await e.diff(moved)).replaces).toEqual(["instance"]);
    await e.up(moved);
    expect(e.lastAction).toBe("replace");
    expect(await snapshots(stopped)).toEqual([]);
    expect(await snapshots(running)).toEqual([`${name}-r`]);

    await e.destroy();
    expect(await snapshots(running)).toEqual([]);
  } finally {
    for (const i of [stopped, running]) for (const n of [name, `${name}-r`]) await deleteInstanceSnapshot(lxd, i, n).catch(() => undefined);
  }
});

test("a snapshot deleted outside the stack reads as gone, and the next up takes it again", async () => {
  const name = randomName("s");
  const e = new MiniEngine(host, "instance-snapshot", name, "InstanceSnapshot");
  try {
    await e.up({ instance: stopped, name });
    await deleteInstanceSnapshot(lxd, stopped, name);
    // Without a refresh, an update says what happened and what to do.
    await expect(e.up({ instance: stopped, name, expiresAt: inDays(1) })).rejects.toThrow(/Failed to update snapshot ".*" in project "default": it no longer exists in LXD.*pulumi refresh/);
    expect(await e.refresh()).toBeUndefined();
    await e.up({ instance: stopped, name });
    expect(e.lastAction).toBe("create");
    expect(await snapshots(stopped)).toContain(name);
    await e.destroy();
    expect(await snapshots(stopped)).not.toContain(name);
  } finally {
    await deleteInstanceSnapshot(lxd, stopped, name).catch(() => undefined);
  }
});

test("a create that was cut off stays not converged on refresh even when LXD holds the snapshot with its storage; the next up takes it again", async () => {
  const name = randomName("s");
  const e = new MiniEngine(host, "instance-snapshot", name, "InstanceSnapshot");
  try {
    await e.up({ instance: stopped, name });
    const first = e.state!.outputs.createdAt;
    expect(first).toMatch(/Z$/);
    // What a run cut off after LXD wrote the snapshot leaves in state (faults test: instance-snapshot-faults).
    e.state = { ...e.state!, outputs: { ...e.state!.outputs, createdAt: "" } };
    await e.refresh();
    expect(e.state!.outputs.createdAt).toBe("");
    await new Promise((r) => setTimeout(r, 1100)); // LXD's created_at has one-second steps
    await e.up({ instance: stopped, name });
    expect(e.lastAction).toBe("replace");
    expect(e.state!.outputs.createdAt).toMatch(/Z$/);
    expect(e.state!.outputs.createdAt).not.toBe(first);
    expect((await e.diff({ instance: stopped, name })).changes).toBe("none");
    await e.refresh(); // a converged snapshot reads as such
    expect(e.state!.outputs.createdAt).not.toBe("");
    await e.destroy();
    expect(await snapshots(stopped)).not.toContain(name);
  } finally {
    await deleteInstanceSnapshot(lxd, stopped, name).catch(() => undefined);
  }
});

test("fails when the snapshot exists and suggests adopt; with adopt it is managed (expiry applied, destroy deletes it)", async () => {
  const name = randomName("s");
  await createInstanceSnapshot(lxd, stopped, { name });
  try {
    const e = new MiniEngine(host, "instance-snapshot", name, "InstanceSnapshot");
    await expect(e.up({ instance: stopped, name })).rejects.toThrow(/Failed to create snapshot ".*\/.*" in project "default": .*already exists.*adopt: true/);
    expect(e.state).toBeUndefined();
    const when = inDays(3);
    const s = await e.up({ instance: stopped, name, expiresAt: when, adopt: true });
    expect(s.outputs.adopted).toBe(true);
    expect(new Date((await getInstanceSnapshot(lxd, stopped, name)).value.expires_at).toISOString()).toBe(new Date(when).toISOString());
    expect((await e.diff({ instance: stopped, name, expiresAt: when, adopt: true })).changes).toBe("none");
    await e.destroy();
    expect(await snapshots(stopped)).not.toContain(name);
  } finally {
    await deleteInstanceSnapshot(lxd, stopped, name).catch(() => undefined);
  }
});

test("rejects bad inputs at check, naming the field: a name with '/', a bad or past expiresAt, stateful for a stopped instance", async () => {
  const e = new MiniEngine(host, "instance-snapshot", "bad", "InstanceSnapshot");
  const reasons = async (inputs: Record<string, unknown>) => (await e.check(inputs)).failures;
  expect(await reasons({ instance: stopped, name: "a/b" })).toEqual([
    { property: "name", reason: expect.stringMatching(/^name must be 1–255 characters without spaces or slashes/) },
  ]);
  expect(await reasons({ instance: stopped, name: "ok", expiresAt: "tomorrow" })).toEqual([
    { property: "expiresAt", reason: 'expiresAt must be an RFC3339 timestamp such as 2030-01-31T12:00:00Z, but "tomorrow" was provided' },
  ]);
  expect(await reasons({ instance: stopped, name: "ok", expiresAt: "2001-01-01T00:00:00Z" })).toEqual([
    { property: "expiresAt", reason: 'expiresAt must be in the future, but "2001-01-01T00:00:00Z" was provided' },
  ]);
  expect(await reasons({ instance: "no_such", name: "ok" })).toEqual([expect.objectContaining({ property: "instance" })]);
  expect(await reasons({ instance: stopped, name: "ok", stateful: true })).toEqual([
    { property: "stateful", reason: expect.stringMatching(/^stateful must be false for a snapshot of instance ".*", which is stopped .*The instance isn't running.*but true was provided/) },
  ]);
  expect(await snapshots(stopped)).not.toContain("ok");
});

test("fails when a stateful snapshot is asked of a running instance on a server without CRIU: LXD's reason, naming stateful; nothing left", async () => {
  const name = randomName("s");
  const e = new MiniEngine(host, "instance-snapshot", name, "InstanceSnapshot");
  try {
    expect((await e.check({ instance: running, name, stateful: true })).failures).toEqual([]); // CRIU cannot be asked for by a read
    // LXD 5.0 asks for CRIU at once; Incus first wants migration.stateful=true on the instance (the hint names it).
    await expect(e.up({ instance: running, name, stateful: true })).rejects.toThrow(
      BACKEND === "incus"
        ? /Failed to create snapshot ".*" in project "default": Stateful snapshots require that the instance has migration\.stateful be set to true \(stateful: true saves the running state with CRIU: it needs CRIU installed on the Incus server, migration\.stateful=true on the instance/
        : /Failed to create snapshot ".*" in project "default": Unable to create a stateful snapshot\. CRIU isn't installed \(stateful: true saves the running state with CRIU: it needs CRIU installed on the LXD server/,
    );
    expect(e.state).toBeUndefined();
    expect(await snapshots(running)).not.toContain(name);
  } finally {
    await deleteInstanceSnapshot(lxd, running, name).catch(() => undefined);
  }
});

test("restore only on a new restoreTrigger: the file is back; a running instance only with restartForRestore (and runs after), a stopped one stays stopped", async () => {
  const name = randomName("s");
  const e = new MiniEngine(host, "instance-snapshot", name, "InstanceSnapshot");
  try {
    await writeFile(running, "marker", "from before the snapshot\n");
    // The trigger given at create is only recorded: nothing is restored.
    const base = { instance: running, name, restoreTrigger: "t0" };
    await e.up(base);
    expect(e.state!.outputs.lastRestoredTrigger).toBeUndefined();
    await deleteFile(running, "marker");
    expect(await rootFiles(running)).not.toContain("marker");

    // Another change (the expiry) never restores.
    await e.up({ ...base, expiresAt: inDays(1) });
    expect(e.lastAction).toBe("update");
    expect(await rootFiles(running)).not.toContain("marker");

    // A new trigger on a running instance without leave to restart it: refused at preview, naming the input.
    const ask = { ...base, expiresAt: inDays(1), restoreTrigger: "t1" };
    const preview = e.diff(ask);
    await expect(preview).rejects.toThrow(/would restart it: it is running.*Set restartForRestore: true/);
    await expect(e.up(ask)).rejects.toThrow(/restartForRestore/);
    expect(await rootFiles(running)).not.toContain("marker");
    expect(e.state!.inputs.restoreTrigger).toBe("t0");

    const before = (await getInstanceState(lxd, running)).pid;
    await e.up({ ...ask, restartForRestore: true });
    expect(e.lastAction).toBe("update");
    expect(await rootFiles(running)).toContain("marker");
    const after = await getInstanceState(lxd, running);
    expect(after.status).toBe("Running");
    expect(after.pid).not.toBe(before); // LXD restarted it for the restore
    expect(e.state!.outputs).toMatchObject({ lastRestoredTrigger: "t1", lastRestoredAt: expect.stringMatching(/Z$/) });
    expect((await e.diff({ ...ask, restartForRestore: true })).changes).toBe("none");

    // A stopped instance: restored, and left stopped.
    await stopInstance(lxd, running, { graceSec: 0 });
    await deleteFile(running, "marker");
    await e.up({ ...ask, restoreTrigger: "t2" });
    expect(await rootFiles(running)).toContain("marker");
    expect(await status(running)).toBe("Stopped");
    expect(e.state!.outputs.lastRestoredTrigger).toBe("t2");

    // Setting the trigger to "" restores nothing.
    await deleteFile(running, "marker");
    await e.up({ ...ask, restoreTrigger: "" });
    expect(await rootFiles(running)).not.toContain("marker");
    expect(e.state!.outputs.lastRestoredTrigger).toBe("t2");
    await e.destroy();
    expect(await snapshots(running)).not.toContain(name);
  } finally {
    await deleteInstanceSnapshot(lxd, running, name).catch(() => undefined);
    if ((await status(running).catch(() => "")) !== "Running") await startInstance(lxd, running).catch(() => undefined);
  }
});

test("preview tolerates unknowns and refuses nothing it cannot know", async () => {
  const e = new MiniEngine(host, "instance-snapshot", "unk", "InstanceSnapshot");
  expect((await e.check({ instance: UNKNOWN, name: "x", stateful: true }, { preview: true })).failures).toEqual([]);
  expect((await e.check({ instance: stopped, name: "x", expiresAt: UNKNOWN }, { preview: true })).failures).toEqual([]);
});
