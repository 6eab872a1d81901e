/**
 * The InstanceFile resource against the real LXD through the provider host: lifecycle, drift, C10 (a file pushed to
 * a stopped instance never starts it), path escaping, and that secret content never reaches the state's outputs.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startProviderHost, UNKNOWN, type ProviderHost } from "../support/provider-host";
import { CheckFailed, MiniEngine, randomName } from "../support/engine";
import { localClient, removeInstance, TEST_IMAGE, testContainer } from "../support/lxd";
import {
  createInstance, deleteInstanceFile, getInstance, getInstanceFile, isNotFound, putInstanceFile, startInstance, type LxdClient,
} from "../../provider/lxd";

let host: ProviderHost;
let lxd: LxdClient;
let running: string;
const made: string[] = [];

const container = (start: boolean): Promise<string> => testContainer(lxd, randomName("pvf"), start, made);

async function fileIn(instance: string, p: string) {
  try {
    return await getInstanceFile(lxd, instance, p);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
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

test("lifecycle: create → refresh → empty diff → update → drift corrected → deleted outside → path change replaces → destroy", async () => {
  const e = new MiniEngine(host, "instance-file", randomName("pvf"), "InstanceFile");
  const base = { instance: running, path: "/root/app.conf", content: "a=1\n", uid: 1000, gid: 1000, mode: "0640" };
  const created = await e.up(base);
  expect(created.id).toBe(`default/${running}/root/app.conf`);
  let f = (await fileIn(running, "/root/app.conf"))!;
  expect(f.content.toString()).toBe("a=1\n");
  expect([f.uid, f.gid, f.mode]).toEqual([1000, 1000, 0o640]);
  expect(created.outputs).toMatchObject({ mode: "0640", size: 4, contentHash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
  await e.refresh();
  expect((await e.diff(base)).changes).toBe("none");

  // Content and mode (a number) change: rewritten in place.
  const changed = { ...base, content: "a=2\n", mode: 0o600 };
  expect(await e.diff(changed)).toMatchObject({ changes: "some", replaces: [] });
  await e.up(changed);
  expect(e.lastAction).toBe("update");
  f = (await fileIn(running, "/root/app.conf"))!;
  expect([f.content.toString(), f.mode]).toEqual(["a=2\n", 0o600]);

  // Changed outside the stack: a refresh shows drift, the next up puts it back.
  const hash = e.state!.outputs.contentHash;
  await putInstanceFile(lxd, running, "/root/app.conf", Buffer.from("tampered"), { uid: 0, gid: 0, mode: 0o600 });
  await e.refresh();
  expect(e.state!.outputs.contentHash).not.toBe(hash);
  expect((await e.diff(changed)).changes).toBe("some");
  await e.up(changed);
  expect((await fileIn(running, "/root/app.conf"))!.content.toString()).toBe("a=2\n");
  // Owner and mode changed outside (LXD keeps an existing file's, so the file is made anew here): same.
  await deleteInstanceFile(lxd, running, "/root/app.conf");
  await putInstanceFile(lxd, running, "/root/app.conf", Buffer.from("a=2\n"), { uid: 0, gid: 0, mode: 0o666 });
  await e.refresh();
  expect(e.state!.outputs).toMatchObject({ mode: "0666", uid: 0, contentHash: hash });
  expect((await e.diff(changed)).changes).toBe("some");
  await e.up(changed);
  f = (await fileIn(running, "/root/app.conf"))!;
  expect([f.uid, f.gid, f.mode]).toEqual([1000, 1000, 0o600]);

  // Deleted outside the stack: refresh drops it, the next up writes it again.
  await deleteInstanceFile(lxd, running, "/root/app.conf");
  expect(await e.refresh()).toBeUndefined();
  await e.up(changed);
  expect(e.lastAction).toBe("create");
  expect((await fileIn(running, "/root/app.conf"))!.content.toString()).toBe("a=2\n");

  // Another path: replaced (old deleted, new written).
  const moved = { ...changed, path: "/root/./sub/../app2.conf" };
  expect((await e.diff(moved)).replaces).toEqual(["path"]);
  await e.up(moved);
  expect(e.lastAction).toBe("replace");
  expect(e.state!.outputs.path).toBe("/root/app2.conf");
  expect(await fileIn(running, "/root/app.conf")).toBeUndefined();
  expect((await fileIn(running, "/root/app2.conf"))!.content.toString()).toBe("a=2\n");

  await e.destroy();
  expect(await fileIn(running, "/root/app2.conf")).toBeUndefined();
});

test("C10 a file pushed to a stopped instance (with parent directories) never starts it", async () => {
  const stopped = await container(false);
  const before = (await getInstance(lxd, stopped)).value;
  expect(before.status).toBe("Stopped");
  const e = new MiniEngine(host, "instance-file", randomName("pvf"), "InstanceFile");
  const inputs = { instance: stopped, path: "/opt/app/etc/motd", content: "hello\n", createParents: { uid: 0, gid: 0, mode: "0750" } };
  await e.up(inputs);
  await e.up({ ...inputs, content: "hello again\n" });
  expect(e.lastAction).toBe("update");
  await e.refresh();
  expect((await e.diff({ ...inputs, content: "hello again\n" })).changes).toBe("none");
  const after = (await getInstance(lxd, stopped)).value;
  expect(after.status).toBe("Stopped");
  expect(after.last_used_at).toBe(before.last_used_at);
  expect((await fileIn(stopped, "/opt/app/etc/motd"))!.content.toString()).toBe("hello again\n");
  const dir = (await fileIn(stopped, "/opt/app"))!;
  expect([dir.type, dir.mode]).toEqual(["directory", 0o750]);
  await e.destroy();
  expect(await fileIn(stopped, "/opt/app/etc/motd")).toBeUndefined();
  expect((await getInstance(lxd, stopped)).value.status).toBe("Stopped");
});

test("secret content never appears in what the provider host returns: only a salted hash", async () => {
  const secret = `s3cr3t-${randomName("x")}`;
  const e = new MiniEngine(host, "instance-file", randomName("pvf"), "InstanceFile");
  const created = await e.up({ instance: running, path: "/root/token", content: secret, mode: "0600" });
  expect(JSON.stringify(created.outputs)).not.toContain(secret);
  expect(created.outputs.content).toBeUndefined();
  const read = await e.refresh();
  expect(JSON.stringify(read!.outputs)).not.toContain(secret);
  expect(JSON.stringify(read!.inputs)).not.toContain(secret);
  // The same secret under another salt hashes differently; the plain SHA-256 of the secret is not in the state.
  const { createHash } = await import("node:crypto");
  expect(JSON.stringify(created.outputs)).not.toContain(createHash("sha256").update(secret).digest("hex"));
  await e.destroy();
});

test("source: a local file's bytes are written, and a change of its content shows as a diff", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pvf-"));
  const src = path.join(dir, "payload.bin");
  fs.writeFileSync(src, Buffer.from([0, 1, 2, 255]));
  const e = new MiniEngine(host, "instance-file", randomName("pvf"), "InstanceFile");
  try {
    const inputs = { instance: running, path: "/root/payload.bin", source: src };
    await e.up(inputs);
    expect([...(await fileIn(running, "/root/payload.bin"))!.content]).toEqual([0, 1, 2, 255]);
    expect((await e.diff(inputs)).changes).toBe("none");
    fs.writeFileSync(src, Buffer.from([9]));
    expect((await e.diff(inputs)).changes).toBe("some");
    await e.up(inputs);
    expect([...(await fileIn(running, "/root/payload.bin"))!.content]).toEqual([9]);
    await e.destroy();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("rejects paths that leave the instance root, relative paths, bad modes and content with source, before any call to LXD", async () => {
  const e = new MiniEngine(host, "instance-file", randomName("pvf"), "InstanceFile");
  const at = { instance: running, connection: { socketPath: "/nonexistent.sock" } };
  const reason = async (inputs: Record<string, unknown>) => (await e.check({ ...at, ...inputs })).failures.map((f) => `${f.property}: ${f.reason}`).join("\n");
  expect(await reason({ path: "/../etc/shadow", content: "x" })).toMatch(/^path: path must stay inside the instance's root filesystem, but "\/\.\.\/etc\/shadow" was provided/);
  expect(await reason({ path: "/etc/a/../../../x", content: "x" })).toMatch(/^path: path must stay inside/);
  expect(await reason({ path: "etc/x", content: "x" })).toMatch(/^path: path must be an absolute path/);
  expect(await reason({ path: "/etc/", content: "x" })).toMatch(/^path: path must name a file/);
  expect(await reason({ path: "/etc/x", content: "x", mode: 644 })).toMatch(/^mode: mode must be a permission mode.*but 644 was provided \(a decimal 644 is mode 01204; write 0o644 or "0644"\)/);
  expect(await reason({ path: "/etc/x", content: "x", mode: "rw-r--r--" })).toMatch(/^mode: mode must be a permission mode/);
  expect(await reason({ path: "/etc/x", content: "x", source: "/etc/hostname" })).toMatch(/exactly one of content and source must be given, but both were provided/);
  expect(await reason({ path: "/etc/x" })).toMatch(/exactly one of content and source must be given, but neither was provided/);
  expect(await reason({ path: "/etc/x", source: "/nonexistent/file" })).toMatch(/^source: source must be a readable local file, but "\/nonexistent\/file" was provided/);
  expect(await reason({ path: "/etc/x", content: "x", uid: -1 })).toMatch(/^uid: /);
  await expect(e.up({ ...at, path: "/../x", content: "x" })).rejects.toThrow(CheckFailed);
});

test("fails when the directory is missing (naming createParents) or the instance does not exist", async () => {
  const e = new MiniEngine(host, "instance-file", randomName("pvf"), "InstanceFile");
  await expect(e.up({ instance: running, path: "/nonexistent-dir/x", content: "x" }))
    .rejects.toThrow(/Failed to create file "\/nonexistent-dir\/x" in instance ".*" in project "default": directory "\/nonexistent-dir" does not exist .*createParents: true/);
  const ghost = randomName("pvf");
  await expect(e.up({ instance: ghost, path: "/x", content: "x" })).rejects.toThrow(new RegExp(`instance "${ghost}" does not exist in project "default"`));
  expect(e.state).toBeUndefined();
});

test("preview tolerates unknown content: known inputs are still checked, the change is in place", async () => {
  const e = new MiniEngine(host, "instance-file", randomName("pvf"), "InstanceFile");
  await e.up({ instance: running, path: "/root/later", content: "1" });
  const p = await e.preview({ instance: running, path: "/root/later", content: UNKNOWN });
  expect(p.check.failures).toEqual([]);
  expect(p.diff).toMatchObject({ changes: "some", replaces: [] });
  const bad = await e.preview({ instance: running, path: "/../later", content: UNKNOWN });
  expect(bad.check.failures.map((f) => f.property)).toEqual(["path"]);
  await e.destroy();
});

test("an owner outside the instance's id map fails clearly and leaves no untracked file behind (a new user's trial)", async () => {
  const e = new MiniEngine(host, "instance-file", randomName("pvf"), "InstanceFile");
  await expect(e.up({ instance: running, path: "/tmp/outside-map", content: "x\n", uid: 4294967294, gid: 0 }))
    .rejects.toThrow(/could not give "\/tmp\/outside-map" the owner uid 4294967294, gid 0: the ids must be inside the instance's id map \(nothing was left at the path\)/);
  expect(await fileIn(running, "/tmp/outside-map")).toBeUndefined();
  expect(e.state).toBeUndefined();
});
