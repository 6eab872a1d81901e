/**
 * Case C16: the LXD (or Incus) daemon is killed (SIGKILL) and restarted while the provider has an instance create,
 * update or delete in flight. Runs against a private daemon of the run's backend (tests/support/private-lxd.ts: a
 * private LXD, or a private incusd on the Incus run) that the test kills by PID; the shared daemons are never touched. Each "run" uses a fresh provider host, as each `pulumi up` does,
 * and the state the engine would have kept: a create rejected with `{id, properties}`
 * (ErrorResourceInitFailed) is kept as a partially created resource, which the engine updates on the next run
 * even without a diff; a plain rejection keeps nothing; a failed update or delete keeps the old state.
 *
 * Timing: the daemon is slowed to a few % of a CPU (cpu cgroup) so that a create takes seconds, and the kill
 * is sent when the private daemon shows the phase asked for (instance record / storage volume visible, or an
 * operation of the asked kind running), polled over REST from the test.
 *
 * What LXD 5.0.2 does (measured): a create killed after the instance record is
 * written keeps the record; the next POST fails `Failed creating instance record: Add instance info to the
 * database: This "instances" entry already exists`; a PUT on it fails `Failed to write backup file` and a start
 * fails (`Failed to handle idmapped storage: … lstat <LXD_DIR>/containers/<name>: no such file or directory`);
 * a DELETE removes it. Incus 6.0.4 leaves the same (measured by these tests): a record that reads as Stopped and
 * that `isBrokenInstance` recognises, removed by a DELETE; every case converges the same way.
 */
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { MiniEngine, randomName } from "../support/engine";
import { startPrivateLxd, type PrivateLxd } from "../support/private-lxd";
import { TEST_IMAGE } from "../support/lxd";
import { isBrokenInstance, type LxdClient } from "../../provider/lxd";

jest.setTimeout(120_000);

// The private daemon (tests/support/private-lxd.ts) is of the run's backend: a private LXD in the LXD run, a private
// incusd in the Incus run.

let daemon: PrivateLxd;

beforeAll(async () => {
  daemon = await startPrivateLxd();
});
afterAll(async () => {
  await daemon?.stop();
});
afterEach(async () => {
  if (!daemon) return;
  daemon.fullSpeed();
  await removeAll(daemon.client());
});

/** The engine stand-in (which keeps a partial create in state and updates it on the next run, as Pulumi does), carried over runs. */
class Engine extends MiniEngine {
  /** The same stack on a new provider host (the next `pulumi up`). */
  next(host: ProviderHost): Engine {
    const e = new Engine(host, this.module, this.name, "Instance");
    e.state = this.state;
    return e;
  }
}

interface Op { id: string; description: string; status: string; resources: Record<string, string[]> | null }

/** Polls `cond` every 50 ms for up to `limitSec`. */
async function until(what: string, cond: () => Promise<boolean>, limitSec = 60): Promise<void> {
  const deadline = Date.now() + limitSec * 1000;
  while (Date.now() < deadline) {
    if (await cond().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${limitSec} s waiting until ${what}`);
}

async function exists(lxd: LxdClient, p: string): Promise<boolean> {
  try {
    await lxd.get(p);
    return true;
  } catch {
    return false;
  }
}

/** True while an operation `description` (e.g. "Creating instance") on instance `name` is running. */
async function opRunning(lxd: LxdClient, description: string, name: string, statuses = ["Running"]): Promise<boolean> {
  const ops = (await lxd.get<Record<string, Op[]>>("/1.0/operations", { query: { recursion: "1" } })).metadata ?? {};
  return Object.values(ops).flat().some((op) =>
    op.description === description && statuses.includes(op.status) && JSON.stringify(op.resources ?? {}).includes(`/instances/${name}`));
}

/** Names at the end of a collection's URLs. */
async function names(lxd: LxdClient, collection: string): Promise<string[]> {
  return lxd.listNames(collection);
}

/** Every instance on the private daemon, force-stopped and deleted (test isolation; records broken by a kill included). */
async function removeAll(lxd: LxdClient): Promise<void> {
  for (const n of await names(lxd, "/1.0/instances")) {
    await lxd.request("PUT", `/1.0/instances/${n}/state`, { body: { action: "stop", force: true } }).catch(() => undefined);
    await lxd.request("DELETE", `/1.0/instances/${n}`).catch(() => undefined);
  }
}

/** Exactly one instance, running, with `config` among its own config; its volume and no other instance or volume. */
async function expectConverged(lxd: LxdClient, name: string, config: Record<string, string>, description?: string): Promise<void> {
  expect(await names(lxd, "/1.0/instances")).toEqual([name]);
  expect(await names(lxd, "/1.0/storage-pools/default/volumes/container")).toEqual([name]);
  const inst = (await lxd.get<{ status: string; config: Record<string, string>; description: string }>(`/1.0/instances/${name}`)).metadata;
  expect(inst.status).toBe("Running");
  expect(inst.config).toMatchObject(config);
  if (description !== undefined) expect(inst.description).toBe(description);
  // A healthy record: its root filesystem is reachable through LXD (a record left by a killed create is not).
  expect((await lxd.get<string[]>(`/1.0/instances/${name}/files`, { query: { path: "/" } })).metadata).toEqual(expect.arrayContaining(["bin", "etc"]));
  expect(await isBrokenInstance(lxd, name)).toBe(false);
}

/** Nothing left on the private daemon. */
async function expectEmpty(lxd: LxdClient): Promise<void> {
  expect(await names(lxd, "/1.0/instances")).toEqual([]);
  expect(await names(lxd, "/1.0/storage-pools/default/volumes/container")).toEqual([]);
}

/** Runs `first` (a run that will be cut off), kills the daemon once `phase` holds, restarts it, and returns `first`'s error. */
async function killDuring(phase: string, cond: () => Promise<boolean>, first: () => Promise<unknown>, cpuPercent = 3, limitSec = 60): Promise<Error> {
  daemon.slowDown(cpuPercent);
  const run = first().then(() => undefined, (err: Error) => err);
  try {
    await until(phase, cond, limitSec);
  } catch (timedOut) {
    // Leave a running daemon behind for the next test either way.
    daemon.fullSpeed();
    await run;
    throw timedOut;
  }
  try {
    await daemon.kill("SIGKILL");
  } finally {
    daemon.fullSpeed();
  }
  const err = await run;
  await daemon.restart();
  if (!err) throw new Error(`the run completed before the daemon was killed (${phase}): the kill came too late`);
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

function args(name: string, config: Record<string, string>, description = "") {
  return { name, image: TEST_IMAGE, config, description, connection: { socketPath: daemon.socketPath } };
}

test("C16 create cut off after LXD wrote the instance record: the run fails saying so, the next run converges to one running instance", async () => {
  const name = randomName("c16");
  const want = args(name, { "user.c16": "create" });
  let e!: Engine;
  const err = await withHost(async (host) => {
    e = new Engine(host, "instance", name, "Instance");
    const lxd = daemon.client();
    return killDuring("the instance record and its volume exist", () => exists(lxd, `/1.0/storage-pools/default/volumes/container/${name}`), () => e.up(want));
  });
  expect(err.message).toMatch(new RegExp(`Failed to create instance "${name}" in project "default": .*(closed|ECONNRESET|ECONNREFUSED|socket|before LXD answered)`, "s"));
  await withHost(async (host) => {
    await e.next(host).up(want);
  });
  await expectConverged(daemon.client(), name, want.config);
});

test("C16 create cut off after the create operation finished, during the start: the next run converges to one running instance", async () => {
  const name = randomName("c16");
  const want = args(name, { "user.c16": "start" });
  let e!: Engine;
  const err = await withHost(async (host) => {
    e = new Engine(host, "instance", name, "Instance");
    const lxd = daemon.client();
    return killDuring("the start operation runs", () => opRunning(lxd, "Starting instance", name), () => e.up(want));
  });
  expect(err.message).toMatch(new RegExp(`Failed to start instance "${name}" in project "default"`));
  await withHost(async (host) => {
    await e.next(host).up(want);
  });
  await expectConverged(daemon.client(), name, want.config);
});

test("C16 update cut off while LXD runs it: the next run converges to one running instance with the new config", async () => {
  const name = randomName("c16");
  const before = args(name, { "user.c16": "before" });
  const after = args(name, { "user.c16": "after", "limits.processes": "900" }, "updated");
  let e!: Engine;
  const err = await withHost(async (host) => {
    e = new Engine(host, "instance", name, "Instance");
    await e.up(before);
    const lxd = daemon.client();
    return killDuring("the update operation runs", () => opRunning(lxd, "Updating instance", name), () => e.up(after), 1);
  });
  expect(err.message).toMatch(new RegExp(`Failed to update instance "${name}" in project "default"`));
  await withHost(async (host) => {
    const e2 = e.next(host);
    await e2.up(after);
    expect((await e2.diff(after)).changes).toBe("none");
  });
  await expectConverged(daemon.client(), name, after.config, "updated");
});

test("C16 delete cut off while LXD runs it: the next destroy leaves nothing, and a new create converges", async () => {
  const name = randomName("c16");
  // A forced stop (no clean-shutdown grace) before the delete, so that the slowed daemon reaches the delete soon.
  const want = { ...args(name, { "user.c16": "delete" }), timeouts: { stopGraceSec: 0 } };
  let e!: Engine;
  const err = await withHost(async (host) => {
    e = new Engine(host, "instance", name, "Instance");
    await e.up(want);
    const lxd = daemon.client();
    // The slowed daemon's stop and delete can take a minute on a loaded machine: a longer watch, and a delete
    // operation counts as soon as LXD lists it (Pending or Running).
    return killDuring("the delete operation runs", () => opRunning(lxd, "Deleting instance", name, ["Pending", "Running"]), () => e.destroy(), 1, 180);
  });
  expect(err.message).toMatch(new RegExp(`Failed to delete instance "${name}" in project "default"`));
  expect(e.state).toBeDefined(); // a failed delete keeps the resource in state
  await withHost(async (host) => {
    await e.next(host).destroy();
  });
  await expectEmpty(daemon.client());
  // And the name is free again: the same program creates it afresh.
  await withHost(async (host) => {
    await new Engine(host, "instance", name, "Instance").up(want);
  });
  await expectConverged(daemon.client(), name, want.config);
}, 300_000);

test("C16 create cut off after LXD wrote the instance record: the record is recognisably broken, and adopt: true converges too", async () => {
  const name = randomName("c16");
  const want = { ...args(name, { "user.c16": "adopt" }), adopt: true };
  let e!: Engine;
  await withHost(async (host) => {
    e = new Engine(host, "instance", name, "Instance");
    const lxd = daemon.client();
    return killDuring("the instance record and its volume exist", () => exists(lxd, `/1.0/storage-pools/default/volumes/container/${name}`), () => e.up(want));
  });
  const lxd = daemon.client();
  // What LXD keeps: a record that reads like a stopped instance, but whose storage is not usable.
  expect((await lxd.get<{ status: string }>(`/1.0/instances/${name}`)).metadata.status).toBe("Stopped");
  expect(await isBrokenInstance(lxd, name)).toBe(true);
  await withHost(async (host) => {
    await e.next(host).up(want);
  });
  await expectConverged(daemon.client(), name, { "user.c16": "adopt" });
});
