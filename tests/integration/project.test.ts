/**
 * The Project resource against the real LXD, driven through Pulumi's own dynamic-provider host over gRPC the
 * way the engine drives it: Check → Create → Read → Diff → Update → rename in place → Delete → nothing left.
 * Also: C12 (unknown keys pass through), the `default` project adopted and put back, `adopt` of an existing
 * project, the clear errors when features change or the project is deleted/renamed while it holds an
 * instance, and bad inputs. Needs `bash scripts/lxd-setup.sh` and `npm run build` (the shim loads `dist/`).
 */
import { randomBytes } from "node:crypto";
import { providerShim } from "../../resources/shim";
import {
  LxdClient, createInstance, createProject, deleteInstance, deleteProject, getInstance, getProject, listProjects, stopInstance,
} from "../../provider/lxd";
import {
  dynamicResourceType, serializeProvider, startProviderHost, urn, withProvider, UNKNOWN,
  type PlainObject, type ProviderHost,
} from "../support/provider-host";
import { rejected } from "../support/provider-host";
import { ignoreNotFound, localClient } from "../support/lxd";

const TYPE = dynamicResourceType("lxd", "Project");
const rnd = () => `t-${randomBytes(4).toString("hex")}`;

let host: ProviderHost;
let providerText: string;
let lxd: LxdClient;
/** Projects and instances to remove whatever happens. */
const leftovers: { projects: Set<string>; instances: Array<{ name: string; project: string }> } = { projects: new Set(), instances: [] };

beforeAll(async () => {
  lxd = localClient();
  providerText = await serializeProvider(providerShim("project"));
  host = await startProviderHost();
});

afterAll(async () => {
  for (const i of leftovers.instances) await removeInstance(i.name, i.project);
  for (const p of leftovers.projects) await ignoreNotFound(() => deleteProject(lxd, p));
  await host?.close();
  await lxd?.close();
});


async function removeInstance(name: string, project: string): Promise<void> {
  await ignoreNotFound(async () => {
    const { value } = await getInstance(lxd, name, { project });
    if (value.status !== "Stopped") await stopInstance(lxd, name, { project, graceSec: 0 });
    await deleteInstance(lxd, name, { project });
  });
}

/** Program inputs as `new Project(name, args)` sends them. */
const props = (p: Record<string, unknown>) => withProvider(p, providerText);

/** Check that must pass; returns the checked inputs. */
async function checked(u: string, news: Record<string, unknown>, olds: Record<string, unknown> = {}): Promise<PlainObject> {
  const r = await host.check(u, olds, props(news));
  expect(r.failures).toEqual([]);
  return r.inputs;
}

/** Check → Create, as `pulumi up` does for a new resource; registers the project for cleanup. */
async function up(name: string, args: Record<string, unknown>) {
  const u = urn(TYPE, name);
  const inputs = await checked(u, { name, ...args });
  leftovers.projects.add(String(inputs.name));
  const created = await host.create(u, inputs);
  return { u, inputs, id: created.id, outs: created.properties };
}


describe("Project lifecycle through the provider host", () => {
  test("check → create → read → diff → update → diff → rename in place → delete → nothing left", async () => {
    const name = rnd();
    const renamed = `${name}-r`;
    leftovers.projects.add(renamed);
    const { u, inputs, id, outs } = await up(name, { description: "first", config: { "limits.instances": 3, "features.images": false } });
    expect(id).toBe(name);
    expect(inputs.config).toEqual({ "limits.instances": "3", "features.images": "false" });

    // LXD holds what we asked for, plus the feature defaults it chose (kept out of `config`, shown in effectiveConfig).
    const p = (await getProject(lxd, name)).value;
    expect(p.description).toBe("first");
    expect(p.config).toMatchObject({ "limits.instances": "3", "features.images": "false", "features.profiles": "true" });
    expect(outs.config).toEqual({ "limits.instances": "3", "features.images": "false" });
    expect(outs.effectiveConfig).toEqual(p.config);
    expect(outs.serverFeatures).toMatchObject({ "features.profiles": "true" });
    expect(outs.usedBy).toEqual([`/1.0/profiles/default?project=${name}`]);

    // Refresh: same id, same inputs, no drift.
    const read = await host.read(id, u, outs, inputs);
    expect(read.id).toBe(name);
    expect(read.properties).toEqual(outs);
    expect((await host.diff(id, u, read.properties, await checked(u, { name, description: "first", config: { "limits.instances": 3, "features.images": false } }, inputs))).changes).toBe("none");

    // A real change, in place.
    const news2 = await checked(u, { name, description: "second", config: { "limits.instances": "5", "features.images": false, "user.owner": "ops" } }, inputs);
    const d2 = await host.diff(id, u, outs, news2);
    expect(d2.changes).toBe("some");
    expect(d2.replaces).toEqual([]);
    const outs2 = (await host.update(id, u, outs, news2)).properties;
    const p2 = (await getProject(lxd, name)).value;
    expect(p2.description).toBe("second");
    expect(p2.config).toMatchObject({ "limits.instances": "5", "user.owner": "ops", "features.images": "false", "features.profiles": "true", "features.storage.volumes": "true" });
    expect(outs2.config).toEqual({ "limits.instances": "5", "features.images": "false", "user.owner": "ops" });
    expect((await host.diff(id, u, outs2, news2)).changes).toBe("none");
    expect((await host.diff(id, u, (await host.read(id, u, outs2, news2)).properties, news2)).changes).toBe("none");

    // Rename: in place (no replace); the name output follows at once, the id at the next refresh.
    const news3 = await checked(u, { name: renamed, description: "second", config: { "limits.instances": "5", "features.images": false, "user.owner": "ops" } }, news2);
    const d3 = await host.diff(id, u, outs2, news3);
    expect(d3.changes).toBe("some");
    expect(d3.replaces).toEqual([]);
    const outs3 = (await host.update(id, u, outs2, news3)).properties;
    expect(outs3.name).toBe(renamed);
    expect(await listProjects(lxd)).toContain(renamed);
    expect(await listProjects(lxd)).not.toContain(name);
    const read3 = await host.read(id, u, outs3, news3);
    expect(read3.id).toBe(renamed);
    expect(read3.properties.name).toBe(renamed);
    expect((await host.diff(read3.id, u, read3.properties, news3)).changes).toBe("none");

    await host.delete(read3.id, u, read3.properties);
    const all = await listProjects(lxd);
    expect(all).not.toContain(renamed);
    expect(all).not.toContain(name);
    // Delete of what is already gone is success.
    await host.delete(read3.id, u, read3.properties);
    // And a refresh of it says gone.
    expect((await host.read(read3.id, u, read3.properties, news3)).id).toBe("");
  });

  test("C12: limits.*, restricted, restricted.* and unknown keys (user.anything) pass through untouched; no diff after", async () => {
    const name = rnd();
    const config = {
      "user.anything": "x y z",
      "limits.containers": 5,
      "limits.memory": "2GiB",
      restricted: true,
      "restricted.containers.nesting": "allow",
      "restricted.devices.unix-char": "block",
    };
    const { u, inputs, id, outs } = await up(name, { config });
    const p = (await getProject(lxd, name)).value;
    expect(p.config).toMatchObject({
      "user.anything": "x y z", "limits.containers": "5", "limits.memory": "2GiB", restricted: "true",
      "restricted.containers.nesting": "allow", "restricted.devices.unix-char": "block",
    });
    const again = await checked(u, { name, config }, inputs);
    expect((await host.diff(id, u, outs, again)).changes).toBe("none");
    const read = await host.read(id, u, outs, inputs);
    expect((await host.diff(id, u, read.properties, again)).changes).toBe("none");
    await host.delete(id, u, read.properties);
    expect(await listProjects(lxd)).not.toContain(name);
  });

  test("a key LXD does not know is LXD's to reject, with LXD's message", async () => {
    const name = rnd();
    const u = urn(TYPE, name);
    const inputs = await checked(u, { name, config: { "limits.no-such-key": "1" } });
    const err = await rejected(host.create(u, inputs));
    expect(err.message).toContain(`Failed to create project "${name}"`);
    expect(err.message).toMatch(/limits\.no-such-key/);
    expect(await listProjects(lxd)).not.toContain(name);
  });

  test("the default project is adopted, updated, and put back on destroy (never created or deleted)", async () => {
    const before = (await getProject(lxd, "default")).value;
    const key = `user.${rnd()}`;
    const u = urn(TYPE, "default-project");
    try {
      const inputs = await checked(u, { name: "default", description: "managed by a test", config: { [key]: "1" } });
      const { id, properties: outs } = await host.create(u, inputs);
      expect(id).toBe("default");
      expect(outs.adoptedFrom).toEqual({ config: before.config, description: before.description });
      const p = (await getProject(lxd, "default")).value;
      expect(p.description).toBe("managed by a test");
      // Its features are LXD's and stay (LXD refuses to change the default project's features).
      expect(p.config).toEqual({ ...before.config, [key]: "1" });
      expect(outs.config).toEqual({ [key]: "1" });
      expect((await host.diff(id, u, outs, inputs)).changes).toBe("none");

      // Renaming away from `default` is a replacement, not a rename.
      const other = await checked(u, { name: rnd(), config: {} }, inputs);
      const d = await host.diff(id, u, outs, other);
      expect(d.replaces).toContain("name");
      expect(d.deleteBeforeReplace).toBe(true);

      await host.delete(id, u, outs);
      const after = (await getProject(lxd, "default")).value;
      expect(after.config).toEqual(before.config);
      expect(after.description).toBe(before.description);
    } finally {
      const { value, etag } = await getProject(lxd, "default");
      if (value.config?.[key] !== undefined) {
        const { [key]: _drop, ...config } = value.config;
        await lxd.request("PUT", "/1.0/projects/default", { etag, body: { config, description: before.description } });
      }
    }
  });

  test("adopt: an existing project is taken over and its former content put back on destroy", async () => {
    const name = rnd();
    leftovers.projects.add(name);
    await createProject(lxd, { name, description: "theirs", config: { "user.owner": "them", "features.images": "false" } });
    const u = urn(TYPE, name);

    const plain = await checked(u, { name, config: {} });
    const err = await rejected(host.create(u, plain));
    expect(err.message).toContain("set adopt: true");

    const inputs = await checked(u, { name, adopt: true, description: "ours", config: { "user.owner": "us" } });
    const { id, properties: outs } = await host.create(u, inputs);
    let p = (await getProject(lxd, name)).value;
    expect(p.description).toBe("ours");
    expect(p.config?.["user.owner"]).toBe("us");
    expect(p.config?.["features.images"]).toBe("false"); // features it did not set are kept
    expect((await host.diff(id, u, outs, inputs)).changes).toBe("none");

    await host.delete(id, u, outs);
    p = (await getProject(lxd, name)).value;
    expect(p.description).toBe("theirs");
    expect(p.config).toMatchObject({ "user.owner": "them", "features.images": "false" });
    await deleteProject(lxd, name);
  });

  test("fails when features change while the project holds an instance, naming the keys and the instance; delete and rename say what it holds", async () => {
    const name = rnd();
    const inst = `c-${randomBytes(3).toString("hex")}`;
    // Images and profiles from the default project: the test image and its root disk.
    const config = { "features.images": false, "features.profiles": false };
    const { u, inputs, id, outs } = await up(name, { config });
    leftovers.instances.push({ name: inst, project: name });
    await createInstance(lxd, { name: inst, source: { type: "image", alias: "pulumi-lxd-test" }, profiles: ["default"] }, { project: name });

    const fresh = (await host.read(id, u, outs, inputs)).properties;
    expect(fresh.usedBy).toContain(`/1.0/instances/${inst}?project=${name}`);

    // Changing a feature: our message, before LXD's 400.
    const news = await checked(u, { name, config: { ...config, "features.images": true, "features.storage.volumes": false } }, inputs);
    expect((await host.diff(id, u, fresh, news)).changes).toBe("some");
    const err = await rejected(host.update(id, u, fresh, news));
    expect(err.message).toContain(`Failed to update project "${name}"`);
    expect(err.message).toContain("features.images, features.storage.volumes");
    expect(err.message).toContain(`instance "${inst}"`);
    expect((await getProject(lxd, name)).value.config).toMatchObject({ "features.images": "false", "features.storage.volumes": "true" });

    // Other changes still apply to a non-empty project.
    const ok = await checked(u, { name, description: "busy", config: { ...config, "limits.instances": 2 } }, inputs);
    const outs2 = (await host.update(id, u, fresh, ok)).properties;
    expect((await getProject(lxd, name)).value.config?.["limits.instances"]).toBe("2");

    // Rename of a non-empty project: LXD's reason plus what it holds.
    const renamed = await checked(u, { name: `${name}-r`, description: "busy", config: { ...config, "limits.instances": 2 } }, ok);
    leftovers.projects.add(`${name}-r`);
    const rerr = await rejected(host.update(id, u, outs2, renamed));
    expect(rerr.message).toContain(`Failed to rename project "${name}"`);
    expect(rerr.message).toContain(`instance "${inst}"`);

    // Delete of a non-empty project: LXD's reason plus what is still in it.
    const derr = await rejected(host.delete(id, u, outs2));
    expect(derr.message).toContain(`Failed to delete project "${name}"`);
    expect(derr.message).toMatch(/empty/);
    expect(derr.message).toContain(`still holds instance "${inst}"`);

    await removeInstance(inst, name);
    await host.delete(id, u, outs2);
    expect(await listProjects(lxd)).not.toContain(name);
  });
});

describe("Project check", () => {
  const u = urn(TYPE, "bad");
  const failures = async (news: Record<string, unknown>) => (await host.check(u, {}, props(news))).failures;

  test.each([
    ["a slash", "a/b"],
    ["a space", "a b"],
    ["an underscore", "a_b"],
    ["the reserved name *", "*"],
    ["an empty name", ""],
  ])("rejects a name with %s", async (_what, name) => {
    const f = await failures({ name });
    expect(f.map((x) => x.property)).toEqual(["name"]);
  });

  test("rejects a features.* value that is not a boolean", async () => {
    const f = await failures({ name: "ok", config: { "features.images": "maybe" } });
    expect(f).toEqual([{ property: "config.features.images", reason: expect.stringContaining('must be true or false, but "maybe" was provided') }]);
  });

  test("rejects restricted that is not a boolean", async () => {
    const f = await failures({ name: "ok", config: { restricted: "yes" } });
    expect(f.map((x) => x.property)).toEqual(["config.restricted"]);
  });

  test("rejects a config value that is not a string, number or boolean", async () => {
    const f = await failures({ name: "ok", config: { "limits.cpu": { n: 1 } } });
    expect(f.map((x) => x.property)).toEqual(["config.limits.cpu"]);
  });

  test("rejects an unknown property", async () => {
    const f = await failures({ name: "ok", features: { images: true } });
    expect(f.length).toBe(1);
    expect(f[0].reason).toMatch(/features/);
  });

  test("rejects an https connection without a pinned server certificate", async () => {
    const f = await failures({ name: "ok", connection: { url: "https://127.0.0.1:8443", clientCert: "c", clientKeyFile: "/k" } });
    expect(f.map((x) => x.property)).toEqual(["connection.serverFingerprint"]);
  });

  test("normalises numbers and booleans to LXD's strings and applies defaults", async () => {
    const r = await host.check(u, {}, props({ name: "ok", config: { "limits.instances": 4, restricted: false } }));
    expect(r.failures).toEqual([]);
    expect(r.inputs).toMatchObject({ name: "ok", description: "", adopt: false, config: { "limits.instances": "4", restricted: "false" } });
  });

  test("tolerates unknown values during preview", async () => {
    const r = await host.check(u, {}, props({ name: UNKNOWN, config: { "features.images": UNKNOWN } }), { preview: true });
    expect(r.failures).toEqual([]);
  });
});
