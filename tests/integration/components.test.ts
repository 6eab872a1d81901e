/**
 * The example programs (examples/*), run end to end against the real LXD: each program module is loaded under
 * `pulumi.runtime.setMocks` with mocks that forward every dynamic resource's Check + Create to Pulumi's real
 * dynamic-provider host (tests/support/provider-host-mocks.ts), exactly the create path of `pulumi up`. Then
 * what LXD really holds is checked, and everything is deleted through the host in `finally`.
 *
 * Each example reads its names from stack config, so the test gives random ones (`t-<hex>`). The gitops example
 * gets its containers from program config and its LXD connection (`lxd:socketPath`) from the provider host's
 * stack config, the way CI sets `lxd:url` & co.
 *
 * Needs `bash scripts/lxd-setup.sh` (test image `pulumi-lxd-test`, `.cache/pulumi-lxd-test.tar.gz`) and
 * `npm run build` (the shim loads `dist/`).
 */
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  LxdClient, createInstance, deleteInstance, startInstance, deleteProfile, deleteProject, getInstance, getProfile, getProject, listProjects, stopInstance,
} from "../../provider/lxd";
import { mockResourcesToHost, type HostMocks } from "../support/provider-host-mocks";
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { ignoreNotFound, localClient } from "../support/lxd";
import { BACKEND, TEST_SOCKET } from "../support/backend";
import { GUEST_API_KEY } from "../../provider/rules/server-keys";

const EXAMPLES = path.resolve(__dirname, "..", "..", "examples");
const rnd = () => `t-${randomBytes(4).toString("hex")}`;

let host: ProviderHost;
let lxd: LxdClient;
/** What a failed cleanup could leave behind: removed in afterAll whatever happens. */
const leftovers = { instances: [] as Array<{ name: string; project: string }>, profiles: [] as Array<{ name: string; project: string }>, projects: [] as string[] };

beforeAll(async () => {
  lxd = localClient();
  host = await startProviderHost();
});

afterAll(async () => {
  for (const i of leftovers.instances) {
    await ignoreNotFound(async () => {
      const { value } = await getInstance(lxd, i.name, { project: i.project });
      if (value.status !== "Stopped") await stopInstance(lxd, i.name, { project: i.project, graceSec: 0 });
      await deleteInstance(lxd, i.name, { project: i.project });
    });
  }
  for (const p of leftovers.profiles) await ignoreNotFound(() => deleteProfile(lxd, p.name, { project: p.project }));
  for (const p of leftovers.projects) {
    if ((await listProjects(lxd)).includes(p)) await ignoreNotFound(() => deleteProject(lxd, p));
  }
  await host?.close();
  await lxd?.close();
});


/** The value of an output, or its error (a failed registration); fails after `ms` instead of hanging. */
async function settle<T>(o: pulumi.Output<T>, ms = 90_000): Promise<T> {
  const promise = (o as unknown as { promise(): Promise<T> }).promise();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`output not settled after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves every output exported by a program module (arrays and objects of outputs too). */
async function outputsOf(mod: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(mod)) out[k] = await settle(pulumi.output(v as pulumi.Input<unknown>));
  return out;
}

/**
 * Runs an example program as `pulumi up` would create it: stack config set, mocks forwarding to `mocksHost`,
 * the module loaded fresh (`jest.isolateModules`), its exported outputs awaited.
 */
async function runExample(
  example: string,
  opts: { project: string; config?: Record<string, unknown>; mocksHost?: ProviderHost },
): Promise<{ mocks: HostMocks; outputs: () => Promise<Record<string, unknown>> }> {
  const mocks = mockResourcesToHost(opts.mocksHost ?? host);
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.config ?? {})) config[`${opts.project}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
  pulumi.runtime.setAllConfig(config);
  await pulumi.runtime.setMocks(mocks, opts.project, "test", false);
  let mod: Record<string, unknown> = {};
  jest.isolateModules(() => {
    mod = require(path.join(EXAMPLES, example, "index.ts"));
  });
  return { mocks, outputs: () => outputsOf(mod) };
}

/** The config keys of LXD's instance, profile and project objects. */
const instanceOf = async (name: string, project = "default") => (await getInstance(lxd, name, { project })).value;
const profileOf = async (name: string, project = "default") => (await getProfile(lxd, name, { project })).value;

/** Whatever happened, deletes through the host what the program created. */
async function cleanup(mocks: HostMocks): Promise<void> {
  await mocks.cleanup();
}

describe("examples/hardened-container", () => {
  it("creates a running, hardened container whose only profile is its own", async () => {
    const name = rnd();
    leftovers.instances.push({ name, project: "default" });
    leftovers.profiles.push({ name, project: "default" });
    const { mocks, outputs } = await runExample("hardened-container", { project: "lxd-hardened-container", config: { name, image: "pulumi-lxd-test" } });
    try {
      const out = await outputs();
      expect(out).toMatchObject({ name, status: "Running", profile: name });
      expect(out.securityReport).toMatchObject({ privileged: false, idmapIsolated: true, idmapSize: 65536, seccomp: "lxd-default+compat", devLxd: false, nesting: false, weakened: [] });

      const inst = await instanceOf(name);
      expect(inst.status).toBe("Running");
      expect(inst.profiles).toEqual([name]);
      expect(inst.config).toMatchObject({
        "security.privileged": "false", "security.idmap.isolated": "true",
        "security.syscalls.deny_default": "true", "security.syscalls.deny_compat": "true", [GUEST_API_KEY[BACKEND]]: "false",
        "security.nesting": "false", "user.purpose": "pulumi-lxd-hardened example",
      });
      // Without nesting, the map size is left to LXD (a low-level key in restricted projects): 65536 ids, isolated.
      expect(inst.config?.["security.idmap.size"]).toBeUndefined();
      const map = JSON.parse(inst.config?.["volatile.idmap.current"] ?? "[]") as Array<{ Isuid: boolean; Hostid: number; Maprange: number }>;
      expect(map.find((m) => m.Isuid)).toMatchObject({ Maprange: 65536 });
      // Limits come from the profile, not the instance (defaultLimits: false).
      expect(inst.config?.["limits.memory"]).toBeUndefined();
      expect(inst.expanded_config).toMatchObject({ "limits.cpu": "1", "limits.memory": "256MiB", "limits.processes": "500" });
      // Nothing from the default profile: only the own root disk, no NIC.
      expect(inst.expanded_devices).toEqual({ root: { type: "disk", path: "/", pool: "default" } });

      const prof = await profileOf(name);
      expect(prof.config).toEqual({ "limits.cpu": "1", "limits.memory": "256MiB", "limits.processes": "500" });
      expect(prof.devices).toEqual({ root: { type: "disk", path: "/", pool: "default" } });
    } finally {
      await cleanup(mocks);
    }
    await expect(getInstance(lxd, name, { project: "default" })).rejects.toMatchObject({ status: 404 });
    await expect(getProfile(lxd, name, { project: "default" })).rejects.toMatchObject({ status: 404 });
  });
});

describe("examples/docker-nesting", () => {
  it("creates a nesting container with a 131072-id isolated map and Docker's syscall interception", async () => {
    const name = rnd();
    leftovers.instances.push({ name, project: "default" });
    leftovers.profiles.push({ name, project: "default" });
    const { mocks, outputs } = await runExample("docker-nesting", { project: "lxd-docker-nesting", config: { name } });
    try {
      const out = await outputs();
      expect(out).toMatchObject({ name, status: "Running", idmapSize: 131072 });
      expect(out.securityReport).toMatchObject({ privileged: false, idmapIsolated: true, nesting: true, weakened: [] });

      const inst = await instanceOf(name);
      expect(inst.status).toBe("Running");
      expect(inst.config).toMatchObject({
        "security.nesting": "true", "security.idmap.isolated": "true", "security.idmap.size": "131072", "security.privileged": "false",
        "security.syscalls.intercept.mknod": "true", "security.syscalls.intercept.setxattr": "true",
      });
      // LXD really gave the running container a map of that size.
      const idmap = JSON.parse(inst.config?.["volatile.idmap.current"] ?? "[]") as Array<{ Isuid: boolean; Maprange: number }>;
      expect(idmap.find((m) => m.Isuid)?.Maprange).toBe(131072);
      expect(inst.expanded_config).toMatchObject({ "limits.cpu": "2", "limits.memory": "2GiB", "limits.processes": "10000" });
    } finally {
      await cleanup(mocks);
    }
    await expect(getInstance(lxd, name, { project: "default" })).rejects.toMatchObject({ status: 404 });
  });
});

describe("examples/multi-tenant", () => {
  it("creates two restricted tenant projects with a hardened default profile, an own image and a running container each", async () => {
    const tenants = [rnd(), rnd()];
    for (const t of tenants) {
      leftovers.instances.push({ name: `${t}-web`, project: t });
      leftovers.profiles.push({ name: `${t}-web`, project: t });
      leftovers.projects.push(t);
    }
    const { mocks, outputs } = await runExample("multi-tenant", { project: "lxd-multi-tenant", config: { tenants } });
    try {
      const out = await outputs();
      expect(out.projects).toEqual(tenants);
      expect(out.defaultProfiles).toEqual(["default", "default"]);
      expect(out.containers).toEqual(tenants.map((t) => ({ project: t, name: `${t}-web`, status: "Running" })));

      for (const t of tenants) {
        const project = (await getProject(lxd, t)).value;
        expect(project.config).toMatchObject({
          "features.images": "true", "features.profiles": "true", "features.storage.volumes": "true", "features.networks": "false",
          restricted: "true",
          "restricted.containers.privilege": "isolated", "restricted.containers.lowlevel": "block", "restricted.containers.nesting": "block",
          "restricted.containers.interception": "block", "restricted.devices.disk": "managed", "restricted.devices.nic": "block",
          "restricted.devices.gpu": "block", "restricted.devices.pci": "block", "restricted.devices.unix-char": "block",
          "restricted.devices.unix-block": "block", "restricted.devices.usb": "block", "restricted.devices.proxy": "block",
          "limits.instances": "5", "limits.cpu": "5", "limits.memory": "5GiB", "limits.processes": "10000",
        });
        const def = await profileOf("default", t);
        expect(def.config).toMatchObject({ "security.idmap.isolated": "true", "limits.cpu": "1", "limits.memory": "1GiB", "limits.processes": "2000" });
        expect(def.devices).toEqual({ root: { type: "disk", path: "/", pool: "default" } });

        const inst = await instanceOf(`${t}-web`, t);
        expect(inst.status).toBe("Running");
        expect(inst.profiles).toEqual([`${t}-web`]);
        // The container's own profile lives in the tenant's project, not in `default`'s.
        expect((await profileOf(`${t}-web`, t)).config).toMatchObject({ "limits.memory": "512MiB" });
        await expect(getProfile(lxd, `${t}-web`, { project: "default" })).rejects.toMatchObject({ status: 404 });
      }

      // What the tenant itself may launch in its project (with its own copy of the image, alias "base").
      const [t] = tenants;
      const launch = (name: string, config: Record<string, string>) =>
        createInstance(lxd, { name, config, source: { type: "image", alias: "base" } }, { project: t });
      await expect(launch("priv", { "security.privileged": "true" })).rejects.toThrow(/Privileged containers are forbidden/);
      await expect(launch("shared", { "security.idmap.isolated": "false" })).rejects.toThrow(/Non-isolated containers are forbidden/);
      await expect(launch("rawlxc", { "raw.lxc": "lxc.apparmor.profile=unconfined" })).rejects.toThrow(/low-level config "raw.lxc"/);
      await launch("dev", {});
      leftovers.instances.push({ name: "dev", project: t });
      await expect(createInstance(lxd, { name: "gpu", devices: { g: { type: "gpu" } }, source: { type: "image", alias: "base" } }, { project: t }))
        .rejects.toThrow(/forbidden/i);
      // A plain launch gets the default profile: an isolated 65536-id map (LXD 5.0 does not enforce it by itself).
      await startInstance(lxd, "dev", { project: t });
      const dev = await instanceOf("dev", t);
      const map = JSON.parse(dev.config?.["volatile.idmap.current"] ?? "[]") as Array<{ Isuid: boolean; Maprange: number }>;
      expect(map.find((m) => m.Isuid)?.Maprange).toBe(65536);
      await stopInstance(lxd, "dev", { project: t, graceSec: 0 });
      await deleteInstance(lxd, "dev", { project: t });
    } finally {
      await cleanup(mocks);
    }
    const left = await listProjects(lxd);
    for (const t of tenants) expect(left).not.toContain(t);
  });
});

describe("examples/gitops", () => {
  it("creates the containers listed in stack config, reaching LXD through the provider's stack config", async () => {
    const [web, worker] = [rnd(), rnd()];
    for (const n of [web, worker]) {
      leftovers.instances.push({ name: n, project: "default" });
      leftovers.profiles.push({ name: n, project: "default" });
    }
    // The LXD connection is stack config of the provider (as CI sets lxd:url & co.), never program code.
    const gitopsHost = await startProviderHost({ project: "lxd-gitops", config: { "lxd:socketPath": TEST_SOCKET } });
    const previousImage = process.env.LXD_IMAGE;
    process.env.LXD_IMAGE = "pulumi-lxd-test";
    try {
      const { mocks, outputs } = await runExample("gitops", {
        project: "lxd-gitops",
        mocksHost: gitopsHost,
        config: {
          containers: [
            { name: web, limits: { memory: "128MiB" }, config: { "user.role": "web" } },
            { name: worker, running: false },
          ],
        },
      });
      try {
        const out = await outputs();
        expect(out.names).toEqual([web, worker]);
        expect(out.statuses).toEqual(["Running", "Stopped"]);

        const w = await instanceOf(web);
        expect(w.status).toBe("Running");
        expect(w.config).toMatchObject({ "user.role": "web", "security.idmap.isolated": "true" });
        expect(w.expanded_config).toMatchObject({ "limits.memory": "128MiB" });
        expect((await instanceOf(worker)).status).toBe("Stopped");
      } finally {
        await cleanup(mocks);
      }
      await expect(getInstance(lxd, web, { project: "default" })).rejects.toMatchObject({ status: 404 });
      await expect(getInstance(lxd, worker, { project: "default" })).rejects.toMatchObject({ status: 404 });
    } finally {
      if (previousImage === undefined) delete process.env.LXD_IMAGE;
      else process.env.LXD_IMAGE = previousImage;
      await gitopsHost.close();
    }
  });
});
