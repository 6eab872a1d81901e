/**
 * An InstanceSnapshot create cut off by the LXD (or Incus) daemon being killed (SIGKILL) and restarted: the first run fails
 * saying what happened, keeps the snapshot in state as partially created (`createdAt: ""`), and the next run (a new
 * provider host, the engine's state carried over) converges to exactly one healthy snapshot. What LXD 5.0.2 leaves
 * when killed once the snapshot is listed: a record that answers GET, mostly without a storage volume, sometimes with
 * one (the kill came a moment later; the copy may be half-made); either way a refresh reads it as not converged
 * (`createdAt: ""`) and the next `up` replaces it (DELETE clears such a record); Incus 6.0.4 leaves the same. Runs against a private daemon of the run's backend (tests/support/private-lxd.ts: LXD, or
 * incusd on the Incus run), slowed to a few % of a CPU so the snapshot takes seconds; the shared daemon
 * is never touched. See faults.test.ts (case C16) for the instance kind.
 */
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { MiniEngine, randomName } from "../support/engine";
import { startPrivateLxd, type PrivateLxd } from "../support/private-lxd";
import { TEST_IMAGE } from "../support/lxd";
import { createInstance, getInstanceSnapshot, listInstanceSnapshots, type LxdClient } from "../../provider/lxd";

jest.setTimeout(180_000);

let daemon: PrivateLxd;
// The private daemon (tests/support/private-lxd.ts) is of the run's backend: LXD or incusd.

beforeAll(async () => {
  daemon = await startPrivateLxd();
});
afterAll(async () => {
  await daemon?.stop();
});

interface Op { description: string; status: string; resources: Record<string, string[]> | null }

async function until(what: string, cond: () => Promise<boolean>, limitSec = 90): Promise<void> {
  const deadline = Date.now() + limitSec * 1000;
  while (Date.now() < deadline) {
    if (await cond().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${limitSec} s waiting until ${what}`);
}

/** True while a "Snapshotting instance" operation on `instance` is listed (pending or running). */
async function snapshotting(lxd: LxdClient, instance: string): Promise<boolean> {
  const ops = (await lxd.get<Record<string, Op[]>>("/1.0/operations", { query: { recursion: "1" } })).metadata ?? {};
  return Object.values(ops).flat().some((op) =>
    op.description === "Snapshotting instance" && ["Pending", "Running"].includes(op.status) && JSON.stringify(op.resources ?? {}).includes(`/instances/${instance}`));
}

async function withHost<T>(fn: (host: ProviderHost) => Promise<T>): Promise<T> {
  const host = await startProviderHost();
  try {
    return await fn(host);
  } finally {
    await host.close();
  }
}

test("a snapshot create cut off by the daemon's death: the run fails saying so, the next run converges to one healthy snapshot", async () => {
  const lxd = daemon.client();
  const instance = randomName("snf");
  const name = randomName("s");
  await createInstance(lxd, { name: instance, source: { type: "image", alias: TEST_IMAGE } });
  const want = { instance, name, connection: { socketPath: daemon.socketPath } };
  const urnName = `snap-${name}`;
  let state: MiniEngine["state"];

  const err = await withHost(async (host) => {
    const e = new MiniEngine(host, "instance-snapshot", urnName, "InstanceSnapshot");
    daemon.slowDown(2);
    const run = e.up(want).then(() => undefined, (x: Error) => x);
    try {
      // Killed once LXD lists the snapshot (its record is written) while the operation still runs.
      await until("the snapshot record exists while the operation runs", async () => (await listInstanceSnapshots(lxd, instance)).includes(name) && snapshotting(lxd, instance));
      await daemon.kill("SIGKILL");
    } finally {
      daemon.fullSpeed();
    }
    const failed = await run;
    state = e.state;
    return failed;
  });
  await daemon.restart();
  if (!err) throw new Error("the snapshot was taken before the daemon was killed: the kill came too late");
  expect(err.message).toMatch(new RegExp(`Failed to create snapshot "${instance}/${name}" in project "default": .*(closed|ECONNRESET|ECONNREFUSED|socket|before LXD answered).*kept in state`, "s"));
  // Kept in state as partially created, not forgotten.
  expect(state).toMatchObject({ id: `default/${instance}/${name}`, outputs: { createdAt: "" } });

  const after = daemon.client(); // the restarted daemon
  // What the kill leaves (measured): the snapshot's record, listed and answering GET, usually without its storage
  // volume; when the kill lands a moment later, with it (its copy perhaps half-made). Both must converge.
  expect(await listInstanceSnapshots(after, instance)).toEqual([name]);
  const volume = `/1.0/storage-pools/default/volumes/container/${instance}/snapshots/${name}`;
  const leftVolume = await after.get(volume).then(() => true, (x: Error) => {
    if (!/404/.test(x.message)) throw x;
    return false;
  });
  console.log(`the kill left the snapshot's record ${leftVolume ? "with" : "without"} its storage volume`);
  await withHost(async (host) => {
    const e = new MiniEngine(host, "instance-snapshot", urnName, "InstanceSnapshot");
    e.state = state;
    // A refresh first (as `pulumi up --refresh` does): what the cut-off create left still reads as not converged.
    await e.refresh();
    expect(e.state!.outputs.createdAt).toBe("");
    await e.up(want);
    expect(e.lastAction).toBe("replace"); // whatever LXD held is deleted, the snapshot taken again
    expect(e.state!.outputs.createdAt).toMatch(/Z$/);
    expect((await e.diff(want)).changes).toBe("none");
    // Exactly one snapshot, with its storage (a record without a volume would fail here).
    expect(await listInstanceSnapshots(after, instance)).toEqual([name]);
    expect((await getInstanceSnapshot(after, instance, name)).value.name).toBe(name);
    await after.get(volume);
    await e.destroy();
    expect(await listInstanceSnapshots(after, instance)).toEqual([]);
  });
});
