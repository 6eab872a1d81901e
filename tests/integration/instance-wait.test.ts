/**
 * Instance `waitFor` against the real LXD through the provider host: an exec condition met by a background command,
 * a timeout that names what was awaited, a wait after an update starts the instance, and the checks at preview.
 */
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { MiniEngine, randomName } from "../support/engine";
import { execIn, localClient, removeInstance, TEST_IMAGE } from "../support/lxd";
import { getInstance, isNotFound, type LxdClient } from "../../provider/lxd";

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

/** Once the instance runs, starts `sh -c 'sleep 3; touch /tmp/ready'` inside it in the background; resolves when it was started. */
async function readyInThreeSeconds(name: string): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await getInstance(lxd, name)).value.status === "Running") break;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (Date.now() > deadline) throw new Error(`instance ${name} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
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

test("rejects agent on a container, a bad NIC name, waitFor on a stopped instance, and ready on a server without instance_ready_state", async () => {
  const e = new MiniEngine(host, "instance", randomName("pvw"), "Instance");
  const reasons = async (inputs: Record<string, unknown>) => (await e.check({ name: "x", image: TEST_IMAGE, ...inputs })).failures.map((f) => `${f.property}: ${f.reason}`).join("\n");
  expect(await reasons({ waitFor: [{ type: "agent" }] })).toMatch(/^waitFor\.0: waitFor\.0 type "agent" needs type "virtual-machine".*but type "container" was provided/);
  expect(await reasons({ waitFor: [{ type: "ipv4", nic: "eth 0" }] })).toMatch(/^waitFor\.0\.nic: .*must be a NIC name/);
  expect(await reasons({ waitFor: [{ type: "exec", command: [] }] })).toMatch(/^waitFor\.0\.command: /);
  expect(await reasons({ waitFor: [{ type: "delay", seconds: 0 }] })).toMatch(/^waitFor\.0\.seconds: /);
  expect(await reasons({ waitFor: [{ type: "sleep" }] })).toMatch(/^waitFor\.0\.type: /);
  expect(await reasons({ running: false, waitFor: [{ type: "delay", seconds: 1 }] })).toMatch(/^waitFor: waitFor needs running: true/);
  const ready = await reasons({ waitFor: [{ type: "ready", timeoutSec: 30 }] });
  if (await lxd.hasExtension("instance_ready_state")) expect(ready).toBe("");
  else expect(ready).toMatch(/^waitFor: waitFor type "ready" needs the server's API extension "instance_ready_state", which this server \(version .*\) lacks/);
});
