/** The Profile resource against the real LXD through the provider host; cases C03 and C06. */
import { startProviderHost, UNKNOWN, type ProviderHost } from "../support/provider-host";
import { MiniEngine, randomName } from "../support/engine";
import { gone, localClient, removeProfile, removeProject } from "../support/lxd";
import { createProject, getProfile, type LxdClient } from "../../provider/lxd";
import { cli } from "../support/backend";

let host: ProviderHost;
let lxd: LxdClient;
beforeAll(async () => {
  host = await startProviderHost();
  lxd = localClient();
});
afterAll(async () => {
  await host?.close();
  await lxd?.close();
});

async function exists(name: string, project = "default"): Promise<boolean> {
  return !(await gone(() => getProfile(lxd, name, { project })));
}

test("lifecycle: create → read → empty diff → update → rename in place → replace (project) → delete leaves nothing", async () => {
  const name = randomName();
  const project = randomName("p");
  const e = new MiniEngine(host, "profile", name, "Profile");
  await createProject(lxd, { name: project, description: "", config: { "features.profiles": "true" } });
  try {
    const inputs = { name, config: { "limits.cpu": "1" }, description: "first" };
    await e.up(inputs);
    expect((await getProfile(lxd, name)).value).toMatchObject({ config: { "limits.cpu": "1" }, description: "first" });
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");

    const changed = { ...inputs, config: { "limits.cpu": "2", "limits.memory": "512MiB" } };
    await e.up(changed);
    expect(e.lastAction).toBe("update");
    expect((await getProfile(lxd, name)).value.config).toEqual({ "limits.cpu": "2", "limits.memory": "512MiB" });
    expect((await e.diff(changed)).changes).toBe("none");

    const renamed = { ...changed, name: `${name}-b` };
    await e.up(renamed);
    expect(e.lastAction).toBe("update");
    expect(await exists(name)).toBe(false);
    expect(await exists(`${name}-b`)).toBe(true);

    const moved = { ...renamed, project };
    expect((await e.diff(moved)).replaces).toEqual(["project"]);
    await e.up(moved);
    expect(e.lastAction).toBe("replace");
    expect(await exists(`${name}-b`)).toBe(false);
    expect(await exists(`${name}-b`, project)).toBe(true);

    await e.destroy();
    expect(await exists(`${name}-b`, project)).toBe(false);
  } finally {
    await removeProfile(lxd, name);
    await removeProfile(lxd, `${name}-b`);
    await removeProfile(lxd, `${name}-b`, project);
    await removeProject(lxd, project);
  }
});

test("C03 numbers and booleans in config and device properties are stored as strings; the second plan is empty", async () => {
  const name = randomName();
  const e = new MiniEngine(host, "profile", name, "Profile");
  const inputs = {
    name,
    config: { "limits.cpu": 2, "security.nesting": false, "limits.processes": 100 },
    devices: { eth0: { type: "nic", nictype: "p2p", mtu: 1400 }, data: { type: "disk", source: "/srv", path: "/data", readonly: true } },
  };
  try {
    await e.up(inputs);
    const live = (await getProfile(lxd, name)).value;
    expect(live.config).toEqual({ "limits.cpu": "2", "security.nesting": "false", "limits.processes": "100" });
    expect(live.devices.eth0.mtu).toBe("1400");
    expect(live.devices.data.readonly).toBe("true");
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");
    await e.destroy();
  } finally {
    await removeProfile(lxd, name);
  }
});

test("C06 a project's default profile is adopted and updated, never created; destroy puts it back, never deletes it", async () => {
  const project = randomName("p");
  await createProject(lxd, { name: project, description: "", config: { "features.profiles": "true" } });
  try {
    cli(["profile", "device", "add", "default", "root", "disk", "path=/", "pool=default", "--project", project]);
    const before = (await getProfile(lxd, "default", { project })).value;
    const e = new MiniEngine(host, "profile", `default-${project}`, "Profile");
    const inputs = { name: "default", project, config: { "limits.cpu": 1 }, devices: before.devices };
    await e.up(inputs);
    expect(e.lastAction).toBe("create");
    expect((await getProfile(lxd, "default", { project })).value.config).toEqual({ "limits.cpu": "1" });
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");
    await e.destroy();
    const after = (await getProfile(lxd, "default", { project })).value;
    expect(after.config).toEqual(before.config);
    expect(after.devices).toEqual(before.devices); // still usable: the root disk is back
    expect(after.description).toBe(before.description);
  } finally {
    await removeProject(lxd, project);
  }
});

test("rejects a weakening profile at check and names the key; accepts it with the opt-out and reports it", async () => {
  const name = randomName();
  const e = new MiniEngine(host, "profile", name, "Profile");
  const r = await e.check({ name, config: { "security.privileged": "true" }, connection: { socketPath: "/nonexistent.sock" } });
  expect(r.failures).toEqual([expect.objectContaining({ property: "config", reason: expect.stringMatching(/security\.privileged weakens confinement.*"privileged"/) })]);
  try {
    const s = await e.up({ name, config: { "security.privileged": "true" }, securityOptOuts: ["privileged"] });
    expect((s.outputs.securityReport as { weakened: { class: string }[] }).weakened.map((w) => w.class)).toEqual(["privileged"]);
    await e.destroy();
  } finally {
    await removeProfile(lxd, name);
  }
});

test("fails when the profile name is taken, and suggests adopt; with adopt the existing profile is managed", async () => {
  const name = randomName();
  cli(["profile", "create", name]);
  try {
    const e = new MiniEngine(host, "profile", name, "Profile");
    await expect(e.up({ name, config: { "limits.cpu": "1" } })).rejects.toThrow(/Failed to create profile ".*" in project "default": .*already exists.*adopt: true/);
    await e.up({ name, config: { "limits.cpu": "1" }, adopt: true });
    expect((await getProfile(lxd, name)).value.config).toEqual({ "limits.cpu": "1" });
    await e.destroy();
    // Adopted profiles get their earlier content back instead of being deleted.
    expect((await getProfile(lxd, name)).value.config).toEqual({});
  } finally {
    await removeProfile(lxd, name);
  }
});

test("preview tolerates unknown values: known ones are still judged, nothing is replaced", async () => {
  const name = randomName();
  const e = new MiniEngine(host, "profile", name, "Profile");
  try {
    await e.up({ name, config: { "limits.cpu": 1 } });
    const p = await e.preview({ name, config: { "limits.cpu": UNKNOWN }, devices: UNKNOWN });
    expect(p.check.failures).toEqual([]);
    expect(p.diff).toMatchObject({ changes: "some", replaces: [] });
    // A weakening value next to an unknown one is still refused.
    const bad = await e.preview({ name, config: { "security.privileged": "true", "user.x": UNKNOWN } });
    expect(bad.check.failures.map((f) => f.reason).join("\n")).toMatch(/security\.privileged weakens confinement/);
    await e.destroy();
  } finally {
    await removeProfile(lxd, name);
  }
});
