/**
 * The InstanceExec resource against the real LXD through the provider host: output recorded and its logs removed,
 * when it runs again (triggers, onChange, onStart), failOnError, timeouts, and a stopped instance never started.
 */
import * as pulumi from "@pulumi/pulumi";
import { SECRET_SIG, SIG_KEY } from "../support/provider-wire";
import { mockResourcesToHost } from "../support/provider-host-mocks";
import { TEST_SOCKET } from "../support/backend";
import { InstanceExec } from "../../resources/instance-exec";
import { startProviderHost, UNKNOWN, type ProviderHost } from "../support/provider-host";
import { MiniEngine, randomName } from "../support/engine";
import { localClient, removeInstance, TEST_IMAGE, testContainer } from "../support/lxd";
import { createInstance, getInstance, isNotFound, LxdError, startInstance, stopInstance, type LxdClient } from "../../provider/lxd";

let host: ProviderHost;
let lxd: LxdClient;
let running: string;
const made: string[] = [];

const container = (start: boolean): Promise<string> => testContainer(lxd, randomName("pvx"), start, made);

/**
 * The exec logs the server holds for the instance: LXD 5.0.2 lists them under GET …/logs (`exec_<op>.stdout`),
 * Incus under GET …/logs/exec-output (which LXD 5.0.2 does not serve).
 */
async function execLogs(name: string): Promise<string[]> {
  const all = (await lxd.get<string[]>(`/1.0/instances/${name}/logs`)).metadata ?? [];
  const output = await lxd.get<string[]>(`/1.0/instances/${name}/logs/exec-output`).then((r) => r.metadata ?? [], (err: unknown) => {
    if (isNotFound(err) || (err instanceof LxdError && err.status === 400)) return [] as string[];
    throw err;
  });
  return [...all, ...output].filter((l) => /exec/.test(l));
}

beforeAll(async () => {
  host = await startProviderHost();
  lxd = localClient();
  running = await container(true);
});
afterAll(async () => {
  for (const m of made) await removeInstance(lxd, m);
  await host?.close();
  await lxd?.close();
});

/** The value inside a wire secret. */
const plain = (v: unknown): unknown => (v && typeof v === "object" && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG ? (v as { value: unknown }).value : v);

test("records stdout, stderr and the exit code, removes LXD's exec logs, and runs again only when triggers change (once)", async () => {
  const e = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  const count = ["sh", "-c", "echo run >> /root/count; wc -l < /root/count; echo \"$GREETING\" >&2"];
  const base = { instance: running, command: count, environment: { GREETING: "hi" }, cwd: "/tmp", triggers: { v: 1 } };
  // The listing sees a recorded exec's logs on this server (so the "none left" checks below can fail).
  const probe = await lxd.request<{ output?: Record<string, string> }>("POST", `/1.0/instances/${running}/exec`, {
    body: { command: ["true"], environment: {}, "wait-for-websocket": false, interactive: false, "record-output": true },
  });
  const probeLogs = Object.values(probe.metadata.output ?? {});
  expect(probeLogs).toHaveLength(2);
  expect((await execLogs(running)).sort()).toEqual(probeLogs.sort());
  for (const l of probeLogs) await lxd.request("DELETE", l);
  expect(await execLogs(running)).toEqual([]);
  const created = await e.up(base);
  // stdout and stderr leave the provider in the wire form of a secret (and the class lists them as secret outputs).
  expect(created.outputs).toMatchObject({ stdout: { [SIG_KEY]: SECRET_SIG, value: "1\n" }, stderr: { [SIG_KEY]: SECRET_SIG, value: "hi\n" }, exitCode: 0, ranAt: expect.any(String) });
  expect(created.id).toBe(`default/${running}/exec`);
  expect(await execLogs(running)).toEqual([]);
  await e.refresh();
  expect((await e.diff(base)).changes).toBe("none");

  // `once`: another environment is recorded, not run.
  await e.up({ ...base, environment: { GREETING: "hello" } });
  expect(e.lastAction).toBe("update");
  expect(plain(e.state!.outputs.stdout)).toBe("1\n");
  // A trigger change runs it again.
  await e.up({ ...base, environment: { GREETING: "hello" }, triggers: { v: 2 } });
  expect([plain(e.state!.outputs.stdout), plain(e.state!.outputs.stderr)]).toEqual(["2\n", "hello\n"]);
  expect(await execLogs(running)).toEqual([]);
  await e.destroy();
});

test("onChange runs again on an input change; onStart runs again after the instance was started again", async () => {
  const e = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  const base = { instance: running, command: ["sh", "-c", "echo $X"], environment: { X: "a" }, when: "onChange" };
  await e.up(base);
  await e.up({ ...base, environment: { X: "b" } });
  expect(plain(e.state!.outputs.stdout)).toBe("b\n");

  const s = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  const other = await container(true);
  const onStart = { instance: other, command: ["sh", "-c", "echo $$"], when: "onStart" };
  await s.up(onStart);
  const first = s.state!.outputs.ranAt;
  expect((await s.diff(onStart)).changes).toBe("none");
  await stopInstance(lxd, other, { graceSec: 0 });
  await startInstance(lxd, other);
  expect((await s.diff(onStart)).changes).toBe("some");
  await s.up(onStart);
  expect(s.lastAction).toBe("update");
  expect(s.state!.outputs.ranAt).not.toBe(first);
  expect((await s.diff(onStart)).changes).toBe("none");
  await e.destroy();
  await s.destroy();
});

test("fails when the command exits non-zero, with its stderr; failOnError: false records the failing run", async () => {
  const e = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  const failing = { instance: running, command: ["sh", "-c", "echo partial; echo 'config is broken' >&2; exit 3"] };
  await expect(e.up(failing)).rejects.toThrow(
    new RegExp(`Failed to run command \\["sh","-c",.*\\] in instance "${running}" in project "default": command .* exited with code 3; stderr: config is broken`),
  );
  expect(e.state).toBeUndefined();
  await e.up({ ...failing, failOnError: false });
  expect(e.state!.outputs.exitCode).toBe(3);
  expect([plain(e.state!.outputs.stdout), plain(e.state!.outputs.stderr)]).toEqual(["partial\n", "config is broken\n"]);
  await e.destroy();
});

test("fails, without running the command, when cwd is not a directory (LXD would run it in /); a symlink to a directory is followed", async () => {
  const e = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  const marker = randomName("cwd");
  const touch = (cwd: string) => ({ instance: running, command: ["touch", marker], cwd });
  // What the guard stands in front of (measured): the server itself runs the command in / when cwd is missing.
  const raw = await lxd.request<{ output?: Record<string, string> }>("POST", `/1.0/instances/${running}/exec`, {
    body: { command: ["pwd"], cwd: "/no/such/dir", environment: {}, "wait-for-websocket": false, interactive: false, "record-output": true },
  });
  const out = raw.metadata.output ?? {};
  expect((await lxd.raw("GET", out["1"])).body.toString()).toBe("/\n");
  for (const l of Object.values(out)) await lxd.request("DELETE", l);

  await expect(e.up(touch("/no/such/dir"))).rejects.toThrow(/cwd "\/no\/such\/dir" does not exist: "\/no" is missing in instance ".*": LXD would run the command in \/ instead, so it is not run/);
  await expect(e.up(touch("/etc/hostname"))).rejects.toThrow(/cwd "\/etc\/hostname" is a file, not a directory/);
  const ls = async (dir: string) => (await lxd.get<string[]>(`/1.0/instances/${running}/files`, { query: { path: dir } })).metadata ?? [];
  expect(await ls("/")).not.toContain(marker);
  expect(e.state).toBeUndefined();
  await expect(e.up(touch("/etc/hostname/x"))).rejects.toThrow(/cwd "\/etc\/hostname\/x" is not a directory: "\/etc\/hostname" is a file in instance/);
  // Symlinks are followed as the kernel does: a relative target from the link's real directory, even when the
  // link was reached through another symlink (/tmp/app -> /tmp/rel/v1, /tmp/rel/v1/data -> ../shared/data).
  // A dangling one is refused, naming where it led.
  await e.up({
    instance: running,
    command: ["sh", "-c", "mkdir -p /tmp/real /tmp/rel/v1 /tmp/rel/shared/data && ln -sfn /tmp/real /tmp/link && ln -sfn /tmp/gone /tmp/dangling && ln -sfn /tmp/rel/v1 /tmp/app && ln -sfn ../shared/data /tmp/rel/v1/data"],
  });
  const e2 = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  await e2.up(touch("/tmp/link"));
  expect(await ls("/tmp/real")).toContain(marker);
  const e4 = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  await e4.up(touch("/tmp/app/data"));
  expect(await ls("/tmp/rel/shared/data")).toContain(marker);
  const e3 = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  await expect(e3.up(touch("/tmp/dangling"))).rejects.toThrow(/cwd "\/tmp\/dangling" does not exist: "\/tmp\/gone" \(reached through symlinks\) is missing/);
  // With redactErrors the path is not named.
  const redacted = await e3.up({ ...touch("/tmp/dangling"), redactErrors: true }).then(() => undefined, (x: Error) => x);
  expect(redacted?.message).toMatch(/cwd <withheld: redactErrors> does not exist in instance/);
  expect(redacted?.message).not.toMatch(/tmp|gone|dangling/);
  expect(await ls("/")).not.toContain(marker);
});

test("redactErrors leaves the command and its stderr out of the error; the class sets it when an input is a secret", async () => {
  const e = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  const leaky = { instance: running, command: ["sh", "-c", "echo \"token $TOKEN rejected\" >&2; exit 4"], environment: { TOKEN: "s3cr3t-7f1c" } };
  // Without it, the error quotes both (what a user with no secret inputs wants to see).
  await expect(e.up(leaky)).rejects.toThrow(/command \["sh","-c",.*exited with code 4; stderr: token s3cr3t-7f1c rejected/);
  const err = await e.up({ ...leaky, redactErrors: true }).then(() => undefined, (x: Error) => x);
  expect(err?.message).toMatch(/Failed to run command <withheld: redactErrors> in instance ".*": command <withheld: redactErrors> exited with code 4; stderr <withheld: redactErrors> \(with failOnError: false/);
  expect(err?.message).not.toMatch(/s3cr3t|token|echo/);
  // Recorded with failOnError: false, the stderr is in the (secret) output.
  await e.up({ ...leaky, redactErrors: true, failOnError: false });
  expect(plain(e.state!.outputs.stderr)).toBe("token s3cr3t-7f1c rejected\n");

  // The class: true when any input is a secret, false otherwise, the user's value kept.
  const mocks = mockResourcesToHost(host);
  await pulumi.runtime.setMocks(mocks, "pulumi-lxd-hardened", "test", false);
  try {
    const names = [randomName("rdx"), randomName("rdx"), randomName("rdx")];
    const socket = { socketPath: TEST_SOCKET };
    const execs = [
      new InstanceExec(names[0], { instance: running, command: ["true"], environment: { TOKEN: pulumi.secret("s3cr3t-7f1c") }, connection: socket }),
      new InstanceExec(names[1], { instance: running, command: ["true"], connection: socket }),
      new InstanceExec(names[2], { instance: running, command: ["true"], environment: { TOKEN: pulumi.secret("x") }, redactErrors: false, connection: socket }),
    ];
    await Promise.all(execs.map((x) => (x.id as unknown as { promise(): Promise<string> }).promise()));
    const redact = (n: string) => mocks.resources.find((r) => r.name === n)?.checkedInputs.redactErrors;
    expect(names.map(redact)).toEqual([true, false, false]);
  } finally {
    await mocks.cleanup();
  }
});

test("fails after timeoutSec naming the command and the time waited", async () => {
  const e = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  await expect(e.up({ instance: running, command: ["sleep", "4"], timeoutSec: 1 }))
    .rejects.toThrow(/command \["sleep","4"\] did not finish within timeoutSec 1 \(waited [1-3] s\)/);
});

test("fails when the instance is stopped, and does not start it", async () => {
  const stopped = await container(false);
  const before = (await getInstance(lxd, stopped)).value;
  const e = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  await expect(e.up({ instance: stopped, command: ["true"] })).rejects.toThrow(new RegExp(`instance "${stopped}" is Stopped: a command runs only in a running instance, and this resource never starts one`));
  const after = (await getInstance(lxd, stopped)).value;
  expect(after.status).toBe("Stopped");
  expect(after.last_used_at).toBe(before.last_used_at);
});

test("rejects an empty command, a bad environment name, a relative cwd and a bad when, before any call to LXD", async () => {
  const e = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  const at = { instance: running, connection: { socketPath: "/nonexistent.sock" } };
  const reasons = async (inputs: Record<string, unknown>) => (await e.check({ ...at, ...inputs })).failures.map((f) => `${f.property}: ${f.reason}`).join("\n");
  expect(await reasons({ command: [] })).toMatch(/^command: command must hold at least the program to run/);
  expect(await reasons({ command: ["true"], environment: { "BAD-NAME": "x" } })).toMatch(/environment key "BAD-NAME" must be an environment variable name/);
  expect(await reasons({ command: ["true"], cwd: "tmp" })).toMatch(/^cwd: cwd must be an absolute path/);
  expect(await reasons({ command: ["true"], when: "always" })).toMatch(/^when: /);
  expect(await reasons({ command: ["true"], timeoutSec: 0 })).toMatch(/^timeoutSec: timeoutSec must be at least 1 second, or -1/);
});

test("preview tolerates unknown triggers: the run is planned in place", async () => {
  const e = new MiniEngine(host, "instance-exec", randomName("pvx"), "InstanceExec");
  await e.up({ instance: running, command: ["true"], triggers: { v: "1" } });
  const p = await e.preview({ instance: running, command: ["true"], triggers: { v: UNKNOWN } });
  expect(p.check.failures).toEqual([]);
  expect(p.diff).toMatchObject({ changes: "some", replaces: [] });
  await e.destroy();
});
