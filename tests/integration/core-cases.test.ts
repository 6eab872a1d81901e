/**
 * The core's promises against the real LXD, through Pulumi's own dynamic-provider host: the policy judges what
 * really runs (C15), concurrent changes are not lost (C17), id maps do not shrink silently (C18), protected
 * instances are not stopped before a delete LXD refuses (C20), and the kit's lifecycle rules.
 */
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { CheckFailed, MiniEngine, randomName } from "../support/engine";
import { instanceExists, localClient, removeInstance, removeProfile, removeProject, TEST_IMAGE } from "../support/lxd";
import { createProfile, createProject, getInstance, updateProfile, type LxdClient } from "../../provider/lxd";
import { cli, TEST_SOCKET } from "../support/backend";

let host: ProviderHost;
let lxd: LxdClient;
const instances: { name: string; project: string }[] = [];
const profiles: string[] = [];
const projects: string[] = [];

beforeAll(async () => {
  host = await startProviderHost({ config: { "lxd:remotes": JSON.stringify({ here: { socketPath: TEST_SOCKET } }) } });
  lxd = localClient();
});
afterAll(async () => {
  for (const m of instances) {
    // A protected leftover must still go.
    await lxd.request("PATCH", `/1.0/instances/${m.name}`, { project: m.project, body: { config: { "security.protection.delete": "false" } } }).catch(() => undefined);
    await removeInstance(lxd, m.name, m.project);
  }
  for (const p of profiles) await removeProfile(lxd, p);
  for (const p of projects) await removeProject(lxd, p);
  await host?.close();
  await lxd?.close();
});

function instanceEngine(name: string, project = "default"): MiniEngine {
  instances.push({ name, project });
  return new MiniEngine(host, "instance", name, "Instance");
}

async function weakProfile(config: Record<string, string>): Promise<string> {
  const name = randomName("weak");
  profiles.push(name);
  await createProfile(lxd, { name, config, devices: {}, description: "made outside the stack" });
  return name;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof CheckFailed ? err.failures.map((f) => f.reason).join("; ") : (err as Error).message;
  }
  throw new Error("expected a refusal, but it succeeded");
}

describe("C15 the policy judges the instance laid over its profiles", () => {
  test("rejects an instance that names a privileged profile, before LXD creates it", async () => {
    const weak = await weakProfile({ "security.privileged": "true" });
    const name = randomName();
    const e = instanceEngine(name);
    const msg = await refusal(e.up({ name, image: TEST_IMAGE, profiles: ["default", weak], config: { "security.privileged": "" } }));
    // An empty value never unsets the hardened default (check), and the profile is named (create).
    expect(msg).toMatch(/security\.privileged/);
    expect(await instanceExists(lxd, name)).toBe(false);

    // Refused at preview already (the profile exists), and again before create.
    const preview = await e.preview({ name, image: TEST_IMAGE, profiles: ["default", weak] });
    expect(preview.check.failures.map((f) => f.reason).join()).toContain(`profile "${weak}" sets security.privileged=true`);
    const msg2 = await refusal(e.up({ name, image: TEST_IMAGE, profiles: ["default", weak] }));
    expect(msg2).toContain(`profile "${weak}"`);
    expect(msg2).toContain("security.privileged");
    expect(msg2).toContain('"privileged"');
    expect(await instanceExists(lxd, name)).toBe(false);
  });

  test("rejects adding such a profile to an existing instance, which LXD keeps unchanged", async () => {
    const weak = await weakProfile({ "security.privileged": "true" });
    const name = randomName();
    const e = instanceEngine(name);
    await e.up({ name, image: TEST_IMAGE, running: false });
    const msg = await refusal(e.up({ name, image: TEST_IMAGE, running: false, profiles: ["default", weak] }));
    expect(msg).toContain(`profile "${weak}"`);
    expect((await getInstance(lxd, name)).value.profiles).toEqual(["default"]);
  });

  test("with the opt-out it is accepted and reported as weakened", async () => {
    const weak = await weakProfile({ "security.syscalls.deny_compat": "false" });
    const name = randomName();
    const e = instanceEngine(name);
    // Shadowed today by the instance's own hardened deny_compat=true, but only that key keeps it off: refused too,
    // and accepted with the opt-out.
    const shadowed = await refusal(e.up({ name, image: TEST_IMAGE, running: false, profiles: ["default", weak] }));
    expect(shadowed).toContain(`profile "${weak}" sets security.syscalls.deny_compat=false`);
    expect(shadowed).toContain("shadowed today by the instance's own value");
    expect(await instanceExists(lxd, name)).toBe(false);
    await e.up({ name, image: TEST_IMAGE, running: false, profiles: ["default", weak], securityOptOuts: ["seccomp"] });
    const weak2 = await weakProfile({ "security.privileged": "true" });
    const name2 = randomName();
    const e2 = instanceEngine(name2);
    const s = await e2.up({ name: name2, image: TEST_IMAGE, running: false, profiles: ["default", weak2], securityOptOuts: ["privileged"], config: { "security.privileged": "" } });
    expect((s.outputs.securityReport as { privileged: boolean }).privileged).toBe(true);
    expect(JSON.stringify((s.outputs.securityReport as { warnings: string[] }).warnings)).toContain("security.privileged");
    await e2.destroy();
    await e.destroy();
  });
});

test("C17 two updates of different keys at the same time both survive; a stale write is recomputed, not lost", async () => {
  const name = randomName();
  const a = instanceEngine(name);
  await a.up({ name, image: TEST_IMAGE, running: false });
  // A second program (another engine with its own state of the same instance) and the first one change different keys at once.
  const b = new MiniEngine(host, "instance", name, "Instance");
  b.state = JSON.parse(JSON.stringify(a.state));
  for (let round = 0; round < 4; round++) {
    await Promise.all([
      a.up({ name, image: TEST_IMAGE, running: false, config: { "user.a": `a${round}` } }),
      b.up({ name, image: TEST_IMAGE, running: false, config: { "user.b": `b${round}` } }),
    ]);
    const live = (await getInstance(lxd, name)).value.config;
    expect(live["user.a"]).toBe(`a${round}`);
    expect(live["user.b"]).toBe(`b${round}`);
  }
  // Out of band (`lxc config set`) between plan and apply: survives the next apply of another key.
  cli(["config", "set", name, "user.byhand=1"]);
  await a.up({ name, image: TEST_IMAGE, running: false, config: { "user.a": "last" } });
  const live = (await getInstance(lxd, name)).value.config;
  expect(live["user.byhand"]).toBe("1");
  expect(live["user.a"]).toBe("last");
  await a.destroy();
});

describe("C18 an isolated id map never shrinks silently", () => {
  test("rejects removing nesting or lowering security.idmap.size at preview; growing is in place and says a restart is needed", async () => {
    const name = randomName();
    const e = instanceEngine(name);
    await e.up({ name, image: TEST_IMAGE, nesting: { workload: "docker" } });
    const before = (await getInstance(lxd, name)).value.config["security.idmap.size"];
    expect(before).toBe("131072");

    const msg = await refusal(e.up({ name, image: TEST_IMAGE }));
    expect(msg).toMatch(/shrink from 131072 to 65536/);
    expect(msg).toContain("replaceOnIdmapShrink");
    const msg2 = await refusal(e.up({ name, image: TEST_IMAGE, nesting: { workload: "docker" }, config: { "security.idmap.size": 65536 } }));
    expect(msg2).toMatch(/shrink/);
    expect((await getInstance(lxd, name)).value.config["security.idmap.size"]).toBe("131072");

    // Growing: in place, and the output says the running instance needs a restart for it.
    const grown = await e.up({ name, image: TEST_IMAGE, nesting: { workload: "lxd" } });
    expect(e.lastAction).toBe("update");
    expect(grown.outputs.restartRequired).toBe(true);
    expect(grown.outputs.restartPendingKeys).toContain("security.idmap.size");
    // A restart outside the stack clears it on refresh.
    cli(["restart", "--force", name]);
    await e.refresh();
    expect(e.state!.outputs.restartRequired).toBe(false);
  });

  test("replaceOnIdmapShrink plans a replacement instead", async () => {
    const name = randomName();
    const e = instanceEngine(name);
    await e.up({ name, image: TEST_IMAGE, running: false, nesting: { workload: "docker" } });
    const d = await e.diff({ name, image: TEST_IMAGE, running: false, replaceOnIdmapShrink: true });
    expect(d.replaces).toContain("config");
    await e.up({ name, image: TEST_IMAGE, running: false, replaceOnIdmapShrink: true });
    expect(e.lastAction).toBe("replace");
    expect((await getInstance(lxd, name)).value.config["security.idmap.size"]).toBeUndefined();
    await e.destroy();
  });

  test("restartOnChange restarts a running instance when a start-only key changes", async () => {
    const name = randomName();
    const e = instanceEngine(name);
    await e.up({ name, image: TEST_IMAGE, restartOnChange: true });
    const first = (await getInstance(lxd, name)).value.last_used_at;
    await new Promise((r) => setTimeout(r, 1100));
    const s = await e.up({ name, image: TEST_IMAGE, restartOnChange: true, nesting: { workload: "docker" } });
    expect(s.outputs.restartRequired).toBe(false);
    expect((await getInstance(lxd, name)).value.last_used_at).not.toBe(first);
    await e.destroy();
  });
});

describe("C19 line breaks, host-kernel keys and lifted kernel limits", () => {
  test("rejects a line break in a key LXD writes into the LXC config at preview, with every opt-out, before any call to LXD", async () => {
    const name = randomName();
    const r = await instanceEngine(name).preview({
      name, image: TEST_IMAGE, config: { "nvidia.driver.capabilities": "compute\nlxc.apparmor.profile=unconfined" },
      securityOptOuts: ["privileged", "idmap", "seccomp", "apparmor", "capabilities", "devices", "nesting", "devlxd", "kernel", "raw"],
    });
    expect(r.check.failures.map((f) => f.reason).join()).toMatch(/nvidia\.driver\.capabilities.*line break.*no opt-out accepts it/s);
    expect(await instanceExists(lxd, name)).toBe(false);
  });

  test("rejects linux.kernel_modules and limits.kernel.* at unlimited unless the kernel class is opted out; then reported", async () => {
    const name = randomName();
    const e = instanceEngine(name);
    const config = { "linux.kernel_modules": "overlay", "limits.kernel.memlock": "unlimited" };
    const refused = await refusal(e.up({ name, image: TEST_IMAGE, running: false, config }));
    expect(refused).toMatch(/linux\.kernel_modules/);
    expect(refused).toMatch(/limits\.kernel\.memlock/);
    expect(refused).toContain('"kernel"');
    expect(await instanceExists(lxd, name)).toBe(false);
    const s = await e.up({ name, image: TEST_IMAGE, running: false, config, securityOptOuts: ["kernel"] });
    const weakened = (s.outputs.securityReport as { weakened: { class: string; key: string }[] }).weakened;
    expect(weakened.map((f) => [f.class, f.key]).sort()).toEqual([["kernel", "config.limits.kernel.memlock"], ["kernel", "config.linux.kernel_modules"]]);
    expect((await getInstance(lxd, name)).value.config["linux.kernel_modules"]).toBe("overlay");
    await e.destroy();
  });

  test("a sysctl of the container's own namespaces is set without an opt-out; a host-wide one is refused as kernel before any call", async () => {
    const name = randomName();
    const e = instanceEngine(name);
    const refused = await refusal(e.up({ name, image: TEST_IMAGE, config: { "linux.sysctl.vm.overcommit_memory": "1" } }));
    expect(refused).toMatch(/config\.linux\.sysctl\.vm\.overcommit_memory.*not one of the container's own network or IPC namespaces.*add "kernel" to securityOptOuts/s);
    expect(await instanceExists(lxd, name)).toBe(false);
    const s = await e.up({ name, image: TEST_IMAGE, config: { "linux.sysctl.net.ipv4.ip_unprivileged_port_start": "80", "linux.sysctl.kernel.shmmni": "2048" } });
    expect((s.outputs.securityReport as { weakened: unknown[] }).weakened).toEqual([]);
    expect(cli(["exec", name, "--", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/kernel/shmmni"])).toBe("80\n2048\n");
    // LXD applies linux.sysctl.* at start only (measured): a change to a running instance is reported, and applied
    // by a restart with restartOnChange.
    const changed = { "linux.sysctl.net.ipv4.ip_unprivileged_port_start": "90", "linux.sysctl.kernel.shmmni": "2048" };
    const pending = await e.up({ name, image: TEST_IMAGE, config: changed });
    expect(pending.outputs).toMatchObject({ restartRequired: true, restartPendingKeys: ["linux.sysctl.net.ipv4.ip_unprivileged_port_start"] });
    expect(cli(["exec", name, "--", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"])).toBe("80\n");
    await e.up({ name, image: TEST_IMAGE, config: changed, restartOnChange: true });
    expect(cli(["exec", name, "--", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"])).toBe("90\n");
    await e.destroy();
  });
});

describe("C20 a protected instance", () => {
  test("fails when destroyed without liftDeleteProtection: nothing is stopped, the error names the key", async () => {
    const name = randomName();
    const e = instanceEngine(name);
    await e.up({ name, image: TEST_IMAGE, config: { "security.protection.delete": true } });
    const msg = await refusal(e.destroy());
    expect(msg).toContain("security.protection.delete");
    expect(msg).toContain("liftDeleteProtection");
    expect((await getInstance(lxd, name)).value.status).toBe("Running");

    await e.up({ name, image: TEST_IMAGE, config: { "security.protection.delete": true }, liftDeleteProtection: true });
    await e.destroy();
    expect(await instanceExists(lxd, name)).toBe(false);
  });
});

describe("lifecycle rules of the kit", () => {
  test("an update of an instance deleted outside the stack says so and to refresh", async () => {
    const name = randomName();
    const e = instanceEngine(name);
    await e.up({ name, image: TEST_IMAGE, running: false });
    await removeInstance(lxd, name);
    const msg = await refusal(e.up({ name, image: TEST_IMAGE, running: false, description: "x" }));
    expect(msg).toContain(`Failed to update instance "${name}" in project "default"`);
    expect(msg).toMatch(/deleted outside the stack.*pulumi refresh/);
    await e.refresh();
    expect(e.state).toBeUndefined();
  });

  test("rejects ephemeral with running: false at check, naming why", async () => {
    const name = randomName();
    const msg = await refusal(instanceEngine(name).up({ name, image: TEST_IMAGE, ephemeral: true, running: false }));
    expect(msg).toMatch(/running must be true for an ephemeral instance/);
  });

  test("an instance without image is an empty container (source none), stopped; running: true is refused", async () => {
    const name = randomName();
    const e = instanceEngine(name);
    expect(await refusal(e.up({ name, running: true }))).toMatch(/running must be false for an empty instance/);
    const s = await e.up({ name });
    expect(s.outputs.status).toBe("Stopped");
    expect((await getInstance(lxd, name)).value.config["volatile.base_image"]).toBeUndefined();
    await e.refresh();
    expect((await e.diff({ name })).changes).toBe("none");
    await e.destroy();
  });

  test("the default socket written out, or through a named remote, is the same server: no diff, no replacement", async () => {
    const name = randomName();
    const e = instanceEngine(name);
    await e.up({ name, image: TEST_IMAGE, running: false });
    const d = await e.diff({ name, image: TEST_IMAGE, running: false, connection: { socketPath: TEST_SOCKET } });
    expect(d.changes).toBe("none");
    const d2 = await e.diff({ name, image: TEST_IMAGE, running: false, connection: { remote: "here" } });
    expect(d2.changes).toBe("none");
    const d3 = await e.diff({ name, image: TEST_IMAGE, running: false, connection: { socketPath: "/run/other/unix.socket" } });
    expect(d3.replaces).toContain("connection");
    await e.destroy();
  });

  test("rejects a remote that stack config does not have, at preview", async () => {
    const name = randomName();
    const r = await instanceEngine(name).preview({ name, image: TEST_IMAGE, connection: { remote: "nowhere" } });
    expect(r.check.failures.map((f) => f.reason).join()).toMatch(/connection.remote "nowhere" is not in stack config lxd:remotes \(known: here\)/);
  });

  test("rejects a profile in a project without features.profiles before anything is written", async () => {
    const project = randomName("p");
    projects.push(project);
    await createProject(lxd, { name: project, config: { "features.profiles": "false" }, description: "" });
    const name = randomName("prof");
    const e = new MiniEngine(host, "profile", name, "Profile");
    const msg = await refusal(e.up({ name, project, config: { "limits.cpu": 1 } }));
    expect(msg).toMatch(/has no profiles of its own.*"default" project's profile/);
    const live = await lxd.get<string[]>("/1.0/profiles", { project: "default" });
    expect(live.metadata.some((u) => u.endsWith(`/${name}`))).toBe(false);
  });

  test("fails with what fixes it when a restricted project refuses a setting only LXD can judge", async () => {
    const project = randomName("p");
    projects.push(project);
    // LXD: a restricted project must have its own profiles; its default profile gets a root disk here.
    await createProject(lxd, { name: project, config: { restricted: "true", "features.images": "false", "features.profiles": "true" }, description: "" });
    await updateProfile(lxd, "default", { config: {}, devices: { root: { type: "disk", path: "/", pool: "default" } }, description: "" }, undefined, { project });
    const name = randomName();
    const msg = await refusal(instanceEngine(name, project).up({
      name, project, image: TEST_IMAGE, running: false, devices: { g: { type: "gpu" } }, securityOptOuts: ["devices"],
    }));
    expect(msg).toContain(`Failed to create instance "${name}" in project "${project}"`);
    expect(msg).toMatch(/forbidden/i);
    expect(msg).toContain(`project "${project}" restricts this`);
    expect(msg).toContain("allowNesting");
    expect(await instanceExists(lxd, name, project)).toBe(false);
  });

  test("rejects adopting a profile in use with content that weakens its instances", async () => {
    const pname = await weakProfile({ "user.x": "1" });
    const name = randomName();
    const e = instanceEngine(name);
    await e.up({ name, image: TEST_IMAGE, running: false, profiles: ["default", pname] });
    const p = new MiniEngine(host, "profile", pname, "Profile");
    const msg = await refusal(p.up({ name: pname, adopt: true, devices: { kmsg: { type: "unix-char", path: "/dev/kmsg" } }, securityOptOuts: ["devices"] }));
    expect(msg).toContain(name);
    expect(msg).toContain("weakenInstancesInUse");
    expect((await getInstance(lxd, name)).value.expanded_devices.kmsg).toBeUndefined();
    await e.destroy();
  });

  test("rejects volatile.* keys (LXD's runtime state) with every opt-out, and an empty default limit", async () => {
    const name = randomName();
    const e = instanceEngine(name);
    await e.up({ name, image: TEST_IMAGE, running: false });
    const next = '[{"Isuid":true,"Isgid":false,"Hostid":0,"Nsid":0,"Maprange":65536}]';
    const msg = await refusal(e.up({ name, image: TEST_IMAGE, running: false, config: { "volatile.idmap.next": next }, securityOptOuts: ["idmap", "privileged", "raw"] }));
    expect(msg).toMatch(/volatile\.idmap\.next.*no opt-out accepts it/s);
    expect((await getInstance(lxd, name)).value.config["volatile.idmap.next"]).not.toBe(next);
    expect(await refusal(e.up({ name, image: TEST_IMAGE, running: false, config: { "limits.memory": "" } }))).toMatch(/config\.limits\.memory must not be empty.*defaultLimits: false/);
    await e.destroy();
  });

  test("a profile change that would weaken instances already using it fails at preview unless acknowledged", async () => {
    const pname = randomName("prof");
    profiles.push(pname);
    const p = new MiniEngine(host, "profile", pname, "Profile");
    await p.up({ name: pname, config: { "user.x": "1" } });
    const name = randomName();
    const e = instanceEngine(name);
    await e.up({ name, image: TEST_IMAGE, running: false, profiles: ["default", pname] });
    // No refresh: the profile's state still says nobody uses it; LXD's used_by is read at preview.
    expect(p.state!.outputs.usedBy).toEqual([]);
    const weakened = { name: pname, config: { "user.x": "1" }, devices: { tty: { type: "unix-char", path: "/dev/tty0" } }, securityOptOuts: ["devices"] };
    // The preview (Check + Diff) fails, naming the instance.
    expect(await refusal(p.preview(weakened))).toMatch(new RegExp(`instances already using it \\(${name}\\)`));
    const msg = await refusal(p.up(weakened));
    expect(msg).toContain(name);
    expect(msg).toContain("weakenInstancesInUse");
    expect((await getInstance(lxd, name)).value.expanded_devices.tty).toBeUndefined();
    await p.up({ ...weakened, weakenInstancesInUse: true });
    await e.destroy();
    await p.destroy();
  });
});
