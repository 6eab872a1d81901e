/**
 * Data volumes of the components against the real LXD: HardenedContainer `volumes` (created, mounted, a second
 * run plans nothing, destroy removes the instance before its volumes and leaves nothing), a tenant's volumes in
 * a restricted project with `limits.disk`, and the example `examples/stateful-app` end to end.
 *
 * Programs run under `pulumi.runtime.setMocks` with mocks that forward every dynamic resource's Check + Create to
 * Pulumi's real dynamic-provider host (tests/support/provider-host-mocks.ts), exactly the create path of `pulumi
 * up`. The second run uses mocks that, like the engine on a second `pulumi up`, Check each resource against its
 * recorded inputs and Diff it against its recorded state. Everything is deleted through the host; `afterAll`
 * removes whatever a failure left.
 *
 * Needs `bash scripts/lxd-setup.sh` (test image, `.cache/pulumi-lxd-test.tar.gz`) and `npm run build`.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  LxdClient, deleteStorageVolume, execInstance, getInstance, getProfile, getProject, getStorageVolume, listProjects, listStorageVolumeSnapshots,
  getStorageVolumeSnapshot, stopInstance,
} from "../../provider/lxd";
import { HardenedContainer, TenantProject } from "../../components";
import { Image } from "../../resources/image";
import { mockResourcesToHost, type HostMocks, type RecordedResource } from "../support/provider-host-mocks";
import { startProviderHost, type DiffResult, type ProviderHost } from "../support/provider-host";
import { toPlainObject } from "../support/provider-wire";
import { TEST_IMAGE, gone, ignoreNotFound, localClient, removeInstance, removeProfile } from "../support/lxd";

const ROOT = path.resolve(__dirname, "..", "..");
const rnd = () => `stf-${randomBytes(4).toString("hex")}`;

let host: ProviderHost;
let lxd: LxdClient;
/** What a failed run could leave behind, removed in afterAll. */
const leftovers = {
  instances: [] as Array<[string, string]>, profiles: [] as Array<[string, string]>, volumes: [] as Array<[string, string, string]>, projects: [] as string[],
};

beforeAll(async () => {
  lxd = localClient();
  host = await startProviderHost();
});

afterAll(async () => {
  for (const [name, project] of leftovers.instances) await removeInstance(lxd, name, project);
  for (const [name, project] of leftovers.profiles) await removeProfile(lxd, name, project);
  for (const [pool, name, project] of leftovers.volumes) await deleteStorageVolume(lxd, pool, name, { project }).catch(() => undefined);
  for (const p of leftovers.projects) {
    if (!(await listProjects(lxd)).includes(p)) continue;
    const images = await lxd.get<string[]>("/1.0/images", { project: p }).then((r) => r.metadata).catch(() => [] as string[]);
    for (const i of images) await ignoreNotFound(() => lxd.request("DELETE", i, { project: p }));
    await lxd.request("DELETE", `/1.0/projects/${p}`).catch(() => undefined);
  }
  await host?.close();
  await lxd?.close();
});

/** The value of an output; fails after `ms` instead of hanging. */
async function settle<T>(o: pulumi.Output<T>, ms = 120_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`output not settled after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([(o as unknown as { promise(): Promise<T> }).promise(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One resource of a second run: what Diff said against the first run's state. */
interface Planned { type: string; name: string; diff?: DiffResult; failures?: string[] }

/**
 * Mocks for a second `pulumi up` over the state the first run recorded: each dynamic resource is Checked against
 * its recorded inputs (olds) and Diffed against its recorded outputs; nothing is created or updated. The program
 * sees the recorded outputs.
 */
function planMocks(previous: HostMocks, planned: Planned[]): pulumi.runtime.Mocks {
  return {
    async newResource(args) {
      const prev = previous.resources.find((r) => r.type === args.type && r.name === args.name);
      if (!prev?.viaHost) return { id: args.custom ? `${args.name}-id` : undefined, state: args.inputs };
      const entry: Planned = { type: args.type, name: args.name };
      planned.push(entry);
      const news = toPlainObject(args.inputs as Record<string, unknown>, `${args.type} "${args.name}" inputs`);
      const checked = await host.check(prev.urn, prev.checkedInputs, news);
      if (checked.failures.length) {
        entry.failures = checked.failures.map((f) => `${f.property}: ${f.reason}`);
      } else {
        entry.diff = await host.diff(prev.id!, prev.urn, prev.outputs, checked.inputs, { oldInputs: prev.checkedInputs });
      }
      return { id: prev.id, state: prev.outputs };
    },
    call: (args) => args.inputs,
  };
}

/** A resource in the state a run leaves (what the engine keeps). */
interface Held { type: string; name: string; urn: string; id: string; inputs: Record<string, unknown>; outputs: Record<string, unknown> }

/**
 * Mocks for a further `pulumi up` over `held` (the previous run's state), as the engine plans it for dynamic
 * resources: Check against the old inputs, Diff, then Update, Delete + Create (a replacement, delete first), or
 * nothing; a new resource is created. `finish()` then deletes what the program no longer registers (last
 * registered first) and returns the new state; `log` lists what happened (`create|update|replace|delete <name>`).
 * A failed step is recorded in `errors` (the program sees the resource's previous state) and, as the engine stops
 * at a failure, nothing registered after it is touched and nothing is deleted.
 */
function upMocks(held: Held[], log: string[]): pulumi.runtime.Mocks & { finish(): Promise<Held[]>; errors: Error[] } {
  const next: Held[] = [];
  const errors: Error[] = [];
  return {
    errors,
    async newResource(args) {
      const inputs = args.inputs as Record<string, unknown>;
      if (!args.type.startsWith("pulumi-nodejs:dynamic") || typeof inputs.__provider !== "string") {
        return { id: args.custom ? `${args.name}-id` : undefined, state: inputs };
      }
      const news = toPlainObject(inputs, `${args.type} "${args.name}" inputs`);
      const prev = held.find((r) => r.type === args.type && r.name === args.name);
      const urn = prev?.urn ?? `urn:pulumi:test::stf::${args.type}::${args.name}`;
      if (errors.length && prev) {
        next.push(prev);
        log.push(`skip ${args.name}`);
        return { id: prev.id, state: prev.outputs };
      }
      let entry: Held;
      try {
        const checked = await host.check(urn, prev?.inputs ?? {}, news);
        if (checked.failures.length) throw new Error(`Check(${args.name}): ${checked.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
        if (!prev) {
          const created = await host.create(urn, checked.inputs);
          entry = { type: args.type, name: args.name, urn, id: created.id, inputs: checked.inputs, outputs: created.properties };
          log.push(`create ${args.name}`);
        } else {
          const diff = await host.diff(prev.id, urn, prev.outputs, checked.inputs, { oldInputs: prev.inputs });
          if (diff.changes === "none") {
            entry = prev;
          } else if (diff.replaces.length) {
            await host.delete(prev.id, urn, prev.outputs, { oldInputs: prev.inputs });
            const created = await host.create(urn, checked.inputs);
            entry = { ...prev, id: created.id, inputs: checked.inputs, outputs: created.properties };
            log.push(`replace ${args.name}`);
          } else {
            const updated = await host.update(prev.id, urn, prev.outputs, checked.inputs, { oldInputs: prev.inputs });
            entry = { ...prev, inputs: checked.inputs, outputs: updated.properties };
            log.push(`update ${args.name}`);
          }
        }
      } catch (err) {
        if (!prev) throw err;
        errors.push(err as Error);
        log.push(`failed ${args.name}`);
        next.push(prev);
        return { id: prev.id, state: prev.outputs };
      }
      next.push(entry);
      return { id: entry.id, state: entry.outputs };
    },
    call: (args) => args.inputs,
    async finish() {
      if (errors.length) return held.map((r) => next.find((n) => n.urn === r.urn) ?? r);
      for (const r of [...held].reverse()) {
        if (next.some((n) => n.urn === r.urn)) continue;
        await host.delete(r.id, r.urn, r.outputs, { oldInputs: r.inputs });
        log.push(`delete ${r.name}`);
      }
      return next;
    },
  };
}

/** Deletes a run's state, last registered first (as the engine orders a destroy by dependency). */
async function destroy(held: Held[]): Promise<void> {
  for (const r of [...held].reverse()) await host.delete(r.id, r.urn, r.outputs, { oldInputs: r.inputs });
}

const dynamicType = (kind: string) => (r: RecordedResource) => r.viaHost && r.type.endsWith(`:${kind}`);
/** Runs `sh -c script` in a container over REST; its exit code. */
const sh = (name: string, script: string, project = "default") => execInstance(lxd, name, ["sh", "-c", script], { project });

describe("HardenedContainer volumes", () => {
  it("creates the volumes in the container's project and pool and mounts them; a second run plans nothing; destroy removes the instance before its volumes and leaves nothing", async () => {
    const name = rnd();
    const [data, ro] = [`${name}-data`, `${name}-ro`];
    leftovers.instances.push([name, "default"]);
    leftovers.profiles.push([name, "default"]);
    leftovers.volumes.push(["default", data, "default"], ["default", ro, "default"]);
    const program = () => new HardenedContainer("app", {
      name, image: TEST_IMAGE, limits: { memory: "128MiB", processes: 200 },
      volumes: {
        data: { size: "32MiB", path: "/srv/data", config: { "snapshots.schedule": "0 3 * * *", "user.purpose": "test" } },
        ro: { size: "8MiB", path: "/srv/ro", readOnly: true },
      },
    });

    const mocks = mockResourcesToHost(host);
    await pulumi.runtime.setMocks(mocks, "stf-volumes", "test", false);
    try {
      const c = program();
      expect(await settle(c.status)).toBe("Running");
      expect(await settle(c.volumes)).toEqual({ data, ro });

      // The volumes LXD holds: custom, filesystem, in the container's project and pool, used by the instance.
      const vol = (await getStorageVolume(lxd, "default", data, { project: "default" })).value;
      expect(vol).toMatchObject({ type: "custom", content_type: "filesystem" });
      expect(vol.config).toMatchObject({ size: "32MiB", "snapshots.schedule": "0 3 * * *", "user.purpose": "test" });
      expect(vol.used_by).toEqual([`/1.0/instances/${name}`]);
      expect((await getStorageVolume(lxd, "default", ro, { project: "default" })).value.used_by).toEqual([`/1.0/instances/${name}`]);
      // Mounted by disk devices on the instance itself; the profile keeps only the root disk.
      const inst = (await getInstance(lxd, name, { project: "default" })).value;
      expect(inst.devices).toEqual({
        data: { type: "disk", pool: "default", source: data, path: "/srv/data" },
        ro: { type: "disk", pool: "default", source: ro, path: "/srv/ro", readonly: "true" },
      });
      expect((await getProfile(lxd, name, { project: "default" })).value.devices).toEqual({ root: { type: "disk", path: "/", pool: "default" } });
      // Inside: /srv/data is a mount that takes writes; /srv/ro is a read-only mount.
      expect(await sh(name, "grep -q ' /srv/data ' /proc/mounts && echo kept > /srv/data/f && [ \"$(cat /srv/data/f)\" = kept ]")).toBe(0);
      expect(await sh(name, "grep -q ' /srv/ro ' /proc/mounts")).toBe(0);
      expect(await sh(name, "echo x > /srv/ro/f")).not.toBe(0);
      // The instance was registered only once its volumes existed: the engine deletes it before them.
      const idx = (r: RecordedResource) => mocks.resources.indexOf(r);
      const instRec = mocks.resources.find(dynamicType("Instance"))!;
      const volRecs = mocks.resources.filter(dynamicType("StorageVolume"));
      expect(volRecs).toHaveLength(2);
      for (const v of volRecs) expect(idx(v)).toBeLessThan(idx(instRec));

      // Second run, same program: every resource plans no change.
      const planned: Planned[] = [];
      await pulumi.runtime.setMocks(planMocks(mocks, planned), "stf-volumes", "test", false);
      const again = program();
      await settle(again.status);
      await settle(again.volumes);
      expect(planned.map((p) => p.name).sort()).toEqual(["app", "app-profile", "app-vol-data", "app-vol-ro"]);
      for (const p of planned) expect({ name: p.name, failures: p.failures, changes: p.diff?.changes }).toEqual({ name: p.name, failures: undefined, changes: "none" });

      // Deleting a volume while the instance still mounts it is refused, and changes nothing.
      const dataRec = volRecs.find((r) => r.name === "app-vol-data")!;
      await expect(host.delete(dataRec.id!, dataRec.urn, dataRec.outputs, { oldInputs: dataRec.checkedInputs }))
        .rejects.toThrow(new RegExp(`Failed to delete storage volume "${data}" in pool "default" in project "default": it is still used by instance "${name}"`));
      expect(await sh(name, "[ \"$(cat /srv/data/f)\" = kept ]")).toBe(0);
    } finally {
      // Reverse registration order, as the engine orders by dependency: the instance, then its volumes.
      await mocks.cleanup();
    }
    expect(await gone(() => getInstance(lxd, name, { project: "default" }))).toBe(true);
    expect(await gone(() => getStorageVolume(lxd, "default", data, { project: "default" }))).toBe(true);
    expect(await gone(() => getStorageVolume(lxd, "default", ro, { project: "default" }))).toBe(true);
    expect(await gone(() => getProfile(lxd, name, { project: "default" }))).toBe(true);
  });

  it("adding a volume hot-plugs it into the running container, removing one unmounts it before deleting it, and the data survives a replacement of the container", async () => {
    const name = rnd();
    const alias = `${name}-img`;
    leftovers.instances.push([name, "default"]);
    leftovers.profiles.push([name, "default"]);
    leftovers.volumes.push(["default", `${name}-data`, "default"], ["default", `${name}-logs`, "default"]);
    // A second alias of the test image: changing `image` to it replaces the container (same content).
    const fingerprint = (await lxd.get<{ target: string }>(`/1.0/images/aliases/${TEST_IMAGE}`)).metadata.target;
    await lxd.request("POST", "/1.0/images/aliases", { body: { name: alias, target: fingerprint } });
    const program = (image: string, volumes: Record<string, { size: string; path: string }>) => {
      const c = new HardenedContainer("app", { name, image, limits: { memory: "128MiB", processes: 200 }, volumes });
      return pulumi.all([c.status, c.volumes]);
    };
    const run = async (held: Held[], image: string, volumes: Record<string, { size: string; path: string }>) => {
      const log: string[] = [];
      const mocks = upMocks(held, log);
      await pulumi.runtime.setMocks(mocks, "stf-volumes", "test", false);
      const [status] = await settle(program(image, volumes));
      return { held: await mocks.finish(), log, status };
    };
    const data = { size: "16MiB", path: "/srv/data" };
    const logs = { size: "16MiB", path: "/var/log/app" };
    let held: Held[] = [];
    try {
      ({ held } = await run([], TEST_IMAGE, { data }));
      expect(await sh(name, "echo kept > /srv/data/f")).toBe(0);
      const initPid = async () => (await lxd.get<{ pid: number }>(`/1.0/instances/${name}/state`)).metadata.pid;
      const pid = await initPid();
      expect(pid).toBeGreaterThan(0);

      // Add a volume: created, then the instance is updated; LXD hot-plugs it (no restart).
      let r = await run(held, TEST_IMAGE, { data, logs });
      held = r.held;
      expect(r.log).toEqual(["create app-vol-logs", "update app"]);
      expect(await sh(name, "grep -q ' /var/log/app ' /proc/mounts && echo l > /var/log/app/l")).toBe(0);
      expect(await initPid()).toBe(pid); // the same init: not restarted

      // Remove one: the instance is updated first (unmounted), then the volume is deleted.
      r = await run(held, TEST_IMAGE, { logs });
      held = r.held;
      expect(r.log).toEqual(["update app", "delete app-vol-data"]);
      expect(await gone(() => getStorageVolume(lxd, "default", `${name}-data`, { project: "default" }))).toBe(true);
      expect(await sh(name, "grep -q ' /srv/data ' /proc/mounts")).not.toBe(0);

      // Replace the container (another image alias): the volume stays, its data too, mounted in the new one.
      r = await run(held, alias, { logs });
      held = r.held;
      expect(r.log).toEqual(["replace app"]);
      expect(r.status).toBe("Running");
      expect(await initPid()).not.toBe(pid);
      expect(await sh(name, "[ \"$(cat /var/log/app/l)\" = l ]")).toBe(0);
    } finally {
      await destroy(held);
      await lxd.request("DELETE", `/1.0/images/aliases/${alias}`).catch(() => undefined);
    }
    expect(await gone(() => getInstance(lxd, name, { project: "default" }))).toBe(true);
    expect(await gone(() => getStorageVolume(lxd, "default", `${name}-logs`, { project: "default" }))).toBe(true);
  });

  it("fails when a running container with volumes is renamed (LXD refuses to rename a volume in use) without losing anything; stopped, the rename goes through", async () => {
    const [name, renamed] = [rnd(), rnd()];
    for (const n of [name, renamed]) {
      leftovers.instances.push([n, "default"]);
      leftovers.profiles.push([n, "default"]);
      leftovers.volumes.push(["default", `${n}-data`, "default"]);
    }
    const run = async (held: Held[], n: string) => {
      const log: string[] = [];
      const mocks = upMocks(held, log);
      await pulumi.runtime.setMocks(mocks, "stf-volumes", "test", false);
      const c = new HardenedContainer("app", { name: n, image: TEST_IMAGE, limits: { memory: "128MiB", processes: 200 }, volumes: { data: { size: "16MiB", path: "/srv/data" } } });
      const out = await settle(pulumi.all([c.status, c.volumes]));
      return { held: await mocks.finish(), log, out, errors: mocks.errors };
    };
    let held: Held[] = [];
    try {
      ({ held } = await run([], name));
      expect(await sh(name, "echo kept > /srv/data/f")).toBe(0);
      const failed = await run(held, renamed);
      held = failed.held;
      expect(failed.log).toEqual(["update app-profile", "failed app-vol-data", "skip app"]);
      expect(failed.errors[0]?.message).toMatch(new RegExp(`Failed to update storage volume "${renamed}-data" in pool "default" in project "default": Volume is still in use by running instances`));
      // The volume and the container are as they were: same names, still mounted, data there.
      expect((await getStorageVolume(lxd, "default", `${name}-data`, { project: "default" })).value.used_by).toEqual([`/1.0/instances/${name}`]);
      expect(await sh(name, "[ \"$(cat /srv/data/f)\" = kept ]")).toBe(0);
      // Stopped (by hand), the same run goes through: the volume is renamed (LXD rewrites the stopped
      // instance's device), then the instance, which starts again.
      await stopInstance(lxd, name, { project: "default", graceSec: 0 });
      const r = await run(held, renamed);
      expect(r.errors).toEqual([]);
      expect(r.log).toEqual(["update app-vol-data", "update app"]);
      held = r.held;
      expect(r.out).toEqual(["Running", { data: `${renamed}-data` }]);
      expect(await sh(renamed, "[ \"$(cat /srv/data/f)\" = kept ]")).toBe(0);
      expect(await gone(() => getStorageVolume(lxd, "default", `${name}-data`, { project: "default" }))).toBe(true);
    } finally {
      await destroy(held);
    }
    expect(await gone(() => getInstance(lxd, renamed, { project: "default" }))).toBe(true);
    expect(await gone(() => getStorageVolume(lxd, "default", `${renamed}-data`, { project: "default" }))).toBe(true);
  });

  it("a tenant's volume and a tenant container's volume live in the restricted project (limits.disk set), both mounted", async () => {
    const t = rnd();
    const name = `${t}-c`;
    leftovers.projects.push(t);
    leftovers.instances.push([name, t]);
    leftovers.profiles.push([name, t]);
    leftovers.volumes.push(["default", "shared", t], ["default", `${name}-data`, t]);
    const mocks = mockResourcesToHost(host);
    await pulumi.runtime.setMocks(mocks, "stf-tenant", "test", false);
    try {
      const tenant = new TenantProject(t, {
        limits: { instances: 2, cpu: 2, memory: "1GiB", processes: 1000, disk: "1GiB" }, rootSize: "128MiB",
        volumes: { shared: { size: "16MiB", description: "shared by the tenant's containers" } },
      });
      const image = new Image(`${t}-image`, { file: path.join(ROOT, ".cache", "pulumi-lxd-test.tar.gz"), project: tenant.name });
      const c = new HardenedContainer(name, {
        tenant, image: image.fingerprint, rootSize: "128MiB", limits: { memory: "128MiB", processes: 200 },
        // The tenant's volume, mounted through the container's profile by a pool-backed disk.
        devices: { shared: { type: "disk", pool: tenant.pool, source: tenant.volumes.apply((v) => v.shared), path: "/shared" } },
        volumes: { data: { size: "16MiB", path: "/data" } },
      });
      expect(await settle(c.status)).toBe("Running");
      expect(await settle(tenant.volumes)).toEqual({ shared: "shared" });
      expect((await getProject(lxd, t)).value.config).toMatchObject({ restricted: "true", "restricted.devices.disk": "managed", "limits.disk": "1GiB" });
      const shared = (await getStorageVolume(lxd, "default", "shared", { project: t })).value;
      expect(shared).toMatchObject({ content_type: "filesystem", description: "shared by the tenant's containers" });
      expect(shared.config).toMatchObject({ size: "16MiB" });
      expect(shared.used_by).toEqual([`/1.0/profiles/${name}?project=${t}`]);
      expect((await getStorageVolume(lxd, "default", `${name}-data`, { project: t })).value.used_by).toEqual([`/1.0/instances/${name}?project=${t}`]);
      // Not in the default project (the tenant project has its own volumes).
      expect(await gone(() => getStorageVolume(lxd, "default", `${name}-data`, { project: "default" }))).toBe(true);
      expect(await sh(name, "grep -q ' /data ' /proc/mounts && grep -q ' /shared ' /proc/mounts && echo a > /data/a && echo b > /shared/b", t)).toBe(0);
    } finally {
      await mocks.cleanup();
    }
    expect(await listProjects(lxd)).not.toContain(t);
  });
});

describe("examples/stateful-app", () => {
  it("creates a container with a mounted data volume on a daily snapshot schedule and a first snapshot", async () => {
    const name = rnd();
    const volume = `${name}-data`;
    leftovers.instances.push([name, "default"]);
    leftovers.profiles.push([name, "default"]);
    leftovers.volumes.push(["default", volume, "default"]);
    const mocks = mockResourcesToHost(host);
    pulumi.runtime.setAllConfig({ "lxd-stateful-app:name": name, "lxd-stateful-app:image": TEST_IMAGE });
    await pulumi.runtime.setMocks(mocks, "lxd-stateful-app", "test", false);
    try {
      let mod: Record<string, pulumi.Output<unknown>> = {};
      jest.isolateModules(() => {
        mod = require(path.join(ROOT, "examples", "stateful-app", "index.ts"));
      });
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(mod)) out[k] = await settle(pulumi.output(v));
      expect(out).toEqual({ name, status: "Running", volume, snapshot: "initial" });

      // The schedule and expiry are on the volume in LXD; the snapshot exists.
      const vol = (await getStorageVolume(lxd, "default", volume, { project: "default" })).value;
      expect(vol.config).toMatchObject({ size: "64MiB", "snapshots.schedule": "@daily", "snapshots.expiry": "7d" });
      expect(vol.used_by).toEqual([`/1.0/instances/${name}`]);
      expect(await listStorageVolumeSnapshots(lxd, "default", volume, { project: "default" })).toEqual(["initial"]);
      expect((await getStorageVolumeSnapshot(lxd, "default", volume, "initial", { project: "default" })).value.description).toMatch(/first brought up/);
      // Mounted inside: a file written at /srv/data reads back, and lands on the volume.
      expect(await sh(name, "grep -q ' /srv/data ' /proc/mounts && echo hello > /srv/data/hello && [ \"$(cat /srv/data/hello)\" = hello ]")).toBe(0);
      const pool = (await lxd.get<{ driver: string; config: Record<string, string> }>("/1.0/storage-pools/default")).metadata;
      if (pool.driver === "dir") {
        // On a dir pool the volume is a directory on the host: the file is there, not in the container's rootfs.
        const src = pool.config.source ?? "/var/lib/lxd/storage-pools/default";
        expect(fs.readFileSync(path.join(src, "custom", `default_${volume}`, "hello"), "utf8")).toBe("hello\n");
      }
    } finally {
      await mocks.cleanup();
    }
    expect(await gone(() => getInstance(lxd, name, { project: "default" }))).toBe(true);
    expect(await gone(() => getStorageVolume(lxd, "default", volume, { project: "default" }))).toBe(true);
  });
});
