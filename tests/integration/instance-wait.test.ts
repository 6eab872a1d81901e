/**
 * Instance `waitFor` against the real server (LXD or Incus) through the provider host: an exec condition met by a
 * background command, a timeout that names what was awaited, a wait after an update starts the instance, the
 * checks at preview, and (on a server with `instance_ready_state`, i.e. Incus) `ready` for real: a workload inside
 * sends `PATCH /1.0 {"state":"Ready"}` on the guest API socket with tests/support/guest-api/set-ready.c.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { MiniEngine, randomName } from "../support/engine";
import { execIn, localClient, removeInstance, TEST_IMAGE } from "../support/lxd";
import { BACKEND, onlyOn } from "../support/backend";
import { execRecorded, getInstance, getInstanceState, isNotFound, putInstanceFile, type LxdClient } from "../../provider/lxd";
import { GUEST_API_SOCKET } from "../../provider/rules/server-keys";

let host: ProviderHost;
let lxd: LxdClient;
const made: string[] = [];

beforeAll(async () => {
  host = await startProviderHost();
  lxd = localClient();
});
afterAll(async () => {
  for (const m of made) await removeInstance(lxd, m);
  await host?.close();
  await lxd?.close();
});

function engineFor(name: string): MiniEngine {
  made.push(name);
  return new MiniEngine(host, "instance", name, "Instance");
}

/** Resolves once the instance exists and runs (polls GET every 100 ms, up to 60 s). */
async function untilRunning(name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await getInstance(lxd, name)).value.status === "Running") return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (Date.now() > deadline) throw new Error(`instance ${name} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Once the instance runs, starts `sh -c 'sleep 3; touch /tmp/ready'` inside it in the background; resolves when it was started. */
async function readyInThreeSeconds(name: string): Promise<number> {
  await untilRunning(name);
  await lxd.request("POST", `/1.0/instances/${name}/exec`, {
    body: { command: ["sh", "-c", "sleep 3; touch /tmp/ready"], environment: {}, "wait-for-websocket": false, interactive: false, "record-output": false },
    noWait: true,
  });
  return Date.now();
}

test("waitFor exec: create returns only once a file a background command makes after 3 s exists", async () => {
  const name = randomName("pvw");
  const e = engineFor(name);
  const inputs = { name, image: TEST_IMAGE, waitFor: [{ type: "exec", command: ["test", "-e", "/tmp/ready"], timeoutSec: 60, intervalSec: 0.5 }] };
  const [created, bgStarted] = await Promise.all([e.up(inputs), readyInThreeSeconds(name)]);
  const waited = Date.now() - bgStarted;
  expect(created.outputs.status).toBe("Running");
  expect(waited).toBeGreaterThanOrEqual(2500);
  expect(execIn(name, "test -e /tmp/ready && echo yes").trim()).toBe("yes");
  // A change of waitFor alone is no diff.
  expect((await e.diff({ ...inputs, waitFor: [] })).changes).toBe("none");
  await e.destroy();
});

test("fails after the condition's timeoutSec naming what was awaited; the running instance is kept in state", async () => {
  const name = randomName("pvw");
  const e = engineFor(name);
  const started = Date.now();
  await expect(e.up({ name, image: TEST_IMAGE, waitFor: [{ type: "ipv4", nic: "eth0", timeoutSec: 2 }] })).rejects.toThrow(
    new RegExp(`Failed to create instance "${name}" in project "default": waitFor\\[0\\]: instance "${name}" did not reach an ipv4 address on NIC "eth0" within timeoutSec 2 \\(waited [0-9.]+ s; last seen: no NIC "eth0" in the instance's state\\)`),
  );
  expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
  expect(e.state?.initErrors?.length).toBe(1);
  expect((await getInstance(lxd, name)).value.status).toBe("Running");
  await e.destroy();
  await expect(getInstance(lxd, name)).rejects.toThrow(/not found/i);
});

test("an update that starts the instance waits too", async () => {
  const name = randomName("pvw");
  const e = engineFor(name);
  await e.up({ name, image: TEST_IMAGE, running: false });
  const t0 = Date.now();
  await e.up({ name, image: TEST_IMAGE, running: true, waitFor: [{ type: "delay", seconds: 2 }, { type: "exec", command: ["true"] }] });
  expect(e.lastAction).toBe("update");
  expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
  expect(e.state!.outputs.status).toBe("Running");
  await e.destroy();
});

test("rejects agent on a container, a bad NIC name, waitFor on a stopped instance, ready without guestApi, and ready on a server without instance_ready_state", async () => {
  const e = new MiniEngine(host, "instance", randomName("pvw"), "Instance");
  const reasons = async (inputs: Record<string, unknown>) => (await e.check({ name: "x", image: TEST_IMAGE, ...inputs })).failures.map((f) => `${f.property}: ${f.reason}`).join("\n");
  expect(await reasons({ waitFor: [{ type: "agent" }] })).toMatch(/^waitFor\.0: waitFor\.0 type "agent" needs type "virtual-machine".*but type "container" was provided/);
  expect(await reasons({ waitFor: [{ type: "ipv4", nic: "eth 0" }] })).toMatch(/^waitFor\.0\.nic: .*must be a NIC name/);
  expect(await reasons({ waitFor: [{ type: "exec", command: [] }] })).toMatch(/^waitFor\.0\.command: /);
  expect(await reasons({ waitFor: [{ type: "delay", seconds: 0 }] })).toMatch(/^waitFor\.0\.seconds: /);
  expect(await reasons({ waitFor: [{ type: "sleep" }] })).toMatch(/^waitFor\.0\.type: /);
  expect(await reasons({ running: false, waitFor: [{ type: "delay", seconds: 1 }] })).toMatch(/^waitFor: waitFor needs running: true/);
  // Without the guest API the workload cannot report Ready: refused on every server.
  expect(await reasons({ waitFor: [{ type: "ready", timeoutSec: 30 }] }))
    .toBe('waitFor: waitFor type "ready" needs guestApi: true (the workload reports Ready through /dev/lxd or /dev/incus), but guestApi false was provided');
  const ready = await reasons({ guestApi: true, waitFor: [{ type: "ready", timeoutSec: 30 }] });
  if (await lxd.hasExtension("instance_ready_state")) expect(ready).toBe("");
  else expect(ready).toMatch(/^waitFor: waitFor type "ready" needs the server's API extension "instance_ready_state", which this server \(version .*\) lacks/);
});

// LXD 5.0.2 lacks the API extension instance_ready_state (the refusal at check is tested above); Incus has it.
const onReadyServer = onlyOn("incus", "waitFor type \"ready\" needs API extension instance_ready_state, which LXD 5.0.2 lacks (its refusal at check is tested above)");

onReadyServer.describe("waitFor ready (status Ready from the guest API)", () => {
  let setReady: Buffer;
  beforeAll(() => {
    setReady = readFileSync(execFileSync("bash", ["tests/support/guest-api/build-set-ready.sh"], { encoding: "utf8" }).trim());
  });

  test("nobody says Ready: create fails after timeoutSec naming status Ready, the instance is kept running", async () => {
    expect(await lxd.hasExtension("instance_ready_state")).toBe(true);
    const name = randomName("pvw");
    const e = engineFor(name);
    const started = Date.now();
    await expect(e.up({ name, image: TEST_IMAGE, guestApi: true, waitFor: [{ type: "ready", timeoutSec: 3 }] })).rejects.toThrow(
      new RegExp(`Failed to create instance "${name}" in project "default": waitFor\\[0\\]: instance "${name}" did not reach status Ready within timeoutSec 3 \\(waited [0-9.]+ s; last seen: status Running\\)`),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    expect((await getInstance(lxd, name)).value.status).toBe("Running");
    await e.destroy();
  });

  test("create returns only once a workload inside says Ready through the guest API socket", async () => {
    const name = randomName("pvw");
    const e = engineFor(name);
    let saidReadyAt = 0;
    /** As soon as the instance runs: push set-ready, wait 2 s, run it (its answer must be HTTP 2xx). */
    const workload = async () => {
      await untilRunning(name);
      await putInstanceFile(lxd, name, "/set-ready", setReady, { uid: 0, gid: 0, mode: 0o755 });
      await new Promise((r) => setTimeout(r, 2000));
      expect((await getInstanceState(lxd, name)).status).toBe("Running"); // not Ready before it is said
      const r = await execRecorded(lxd, name, { command: ["/set-ready", GUEST_API_SOCKET[BACKEND]] }, { timeoutSec: 30 });
      saidReadyAt = Date.now();
      expect({ exitCode: r.exitCode, out: r.stdout.toString() + r.stderr.toString() }).toMatchObject({ exitCode: 0, out: expect.stringMatching(/^HTTP\/1\.\d 2\d\d/) });
    };
    const [created] = await Promise.all([e.up({ name, image: TEST_IMAGE, guestApi: true, waitFor: [{ type: "ready", timeoutSec: 60 }] }), workload()]);
    expect(saidReadyAt).toBeGreaterThan(0);
    expect(Date.now()).toBeGreaterThanOrEqual(saidReadyAt);
    expect((await getInstanceState(lxd, name)).status).toBe("Ready");
    expect(["Running", "Ready"]).toContain(created.outputs.status);
    // Ready counts as running: no diff.
    expect((await e.diff({ name, image: TEST_IMAGE, guestApi: true, waitFor: [{ type: "ready", timeoutSec: 60 }] })).changes).toBe("none");
    await e.destroy();
  });
});
