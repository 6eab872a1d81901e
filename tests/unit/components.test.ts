/**
 * HardenedContainer and TenantProject: program-time validation of known values (InputPropertyError naming the
 * property, before any child is registered), the restrictions a tenant project gets, and how the children are
 * wired (checked with echo mocks: no LXD involved; tests/integration/components.test.ts runs them for real).
 */
import * as pulumi from "@pulumi/pulumi";
import {
  HardenedContainer, TenantProject, tenantRestrictions, validateHardenedContainerArgs, validateTenantProjectArgs,
  type HardenedContainerArgs, type TenantProjectArgs,
} from "../../components";

/** Expects an InputPropertyError for `propertyPath` whose reason matches `reason`. */
function expectInputError(fn: () => void, propertyPath: string, reason: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(pulumi.InputPropertyError.isInstance(caught)).toBe(true);
  expect(caught).toMatchObject({ propertyPath });
  expect((caught as pulumi.InputPropertyError).reason).toMatch(reason);
}

const container = (extra: Partial<HardenedContainerArgs>): HardenedContainerArgs => ({ image: "pulumi-lxd-test", ...extra });

describe("HardenedContainer validation", () => {
  it("accepts the defaults and unknown values", () => {
    expect(() => validateHardenedContainerArgs(container({}))).not.toThrow();
    expect(() => validateHardenedContainerArgs(container({ name: pulumi.output("9-not-known-yet"), limits: { memory: pulumi.output("x") } }))).not.toThrow();
    expect(() => validateHardenedContainerArgs(container({
      name: "web-1", limits: { cpu: "0-3", memory: "50%", processes: 100 }, rootSize: "10GiB", pool: "fast",
      nesting: { workload: "lxd", depth: 2, childInstances: 4 }, securityOptOuts: ["devices"], extraProfiles: ["default"],
      devices: { root: { type: "disk", path: "/", pool: "fast" }, gpu0: { type: "gpu" } },
    }))).not.toThrow();
  });

  it("rejects a container name LXD would refuse", () => {
    expectInputError(() => validateHardenedContainerArgs(container({ name: "9web" })), "name", /must be 1–63 letters, digits or dashes, starting with a letter and not ending with a dash, but "9web" was provided/);
    expectInputError(() => validateHardenedContainerArgs(container({ name: "web_1" })), "name", /starting with a letter/);
    expectInputError(() => validateHardenedContainerArgs(container({ project: "*" })), "project", /must be "" \(the default project\) or a project name that is without spaces.*LXD reserves them.*but "\*" was provided/);
    expect(() => validateHardenedContainerArgs(container({ project: "" }))).not.toThrow();
  });

  it("rejects an empty image", () => {
    expectInputError(() => validateHardenedContainerArgs({ image: " " }), "image", /must name an image/);
  });

  it("rejects limits that are not LXD values", () => {
    expectInputError(() => validateHardenedContainerArgs(container({ limits: { memory: "512" } })), "limits.memory", /size with a unit/);
    expectInputError(() => validateHardenedContainerArgs(container({ limits: { cpu: 0 } })), "limits.cpu", /1 or more/);
    expectInputError(() => validateHardenedContainerArgs(container({ limits: { cpu: "two" } })), "limits.cpu", /CPU set/);
    expectInputError(() => validateHardenedContainerArgs(container({ limits: { processes: 1.5 } })), "limits.processes", /whole number/);
  });

  it("rejects a root size or pool LXD would refuse", () => {
    expectInputError(() => validateHardenedContainerArgs(container({ rootSize: "10" })), "rootSize", /size with a unit/);
    expectInputError(() => validateHardenedContainerArgs(container({ pool: "a/b" })), "pool", /storage pool/);
  });

  it("rejects an unknown nesting workload or depth", () => {
    expectInputError(() => validateHardenedContainerArgs(container({ nesting: { workload: "podman" as "docker" } })), "nesting.workload", /docker, lxd or userns/);
    expectInputError(() => validateHardenedContainerArgs(container({ nesting: { workload: "lxd", depth: 5 } })), "nesting.depth", /1 to 4/);
  });

  it("rejects a securityOptOuts class that does not exist", () => {
    expectInputError(() => validateHardenedContainerArgs(container({ securityOptOuts: ["devices", "everything" as "devices"] })), "securityOptOuts[1]", /must be one of privileged, idmap/);
  });

  it("rejects devices without a type, and a root device that is not a disk", () => {
    expectInputError(() => validateHardenedContainerArgs(container({ devices: { data: { path: "/data" } } })), "devices.data", /must have a type/);
    expectInputError(() => validateHardenedContainerArgs(container({ devices: { root: { type: "nic" } } })), "devices.root", /must be a disk/);
  });

  it("rejects an extra profile name with a slash", () => {
    expectInputError(() => validateHardenedContainerArgs(container({ extraProfiles: ["a/b"] })), "extraProfiles[0]", /profile name/);
  });
});

describe("HardenedContainer volumes validation", () => {
  const vol = { size: "64MiB", path: "/srv/data" };
  it("accepts volumes with known and unknown fields", () => {
    expect(() => validateHardenedContainerArgs(container({
      volumes: { data: { ...vol, pool: "fast", readOnly: true, config: { "snapshots.schedule": "@daily", "snapshots.expiry": "7d" } }, logs: { size: pulumi.output("1GiB"), path: pulumi.output("x") } },
    }), "web")).not.toThrow();
  });

  it("rejects a volume without a size, or with a size LXD cannot read", () => {
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { data: { path: "/srv/data" } as never } })), "volumes.data.size", /volumes.data.size must be given: a size with a unit.*but none was provided/);
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { data: { ...vol, size: "64" } } })), "volumes.data.size", /must be a size with a unit, such as "64MiB".*but "64" was provided/);
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { data: { ...vol, config: { size: "1GiB" } } } })), "volumes.data.config.size", /must not be set \(give the size as size\)/);
  });

  it("rejects a mount path that is not absolute, is /, has a line break or is used twice", () => {
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { data: { ...vol, path: "srv/data" } } })), "volumes.data.path", /must be an absolute path inside the container.*but "srv\/data" was provided/);
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { data: { ...vol, path: "/" } } })), "volumes.data.path", /must not be \//);
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { data: { ...vol, path: "/srv\nlxc.x=1" } } })), "volumes.data.path", /no line breaks/);
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { data: { size: "1GiB" } as never } })), "volumes.data.path", /must be given: the absolute mount path/);
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { a: vol, b: { ...vol, path: "/srv/data/" } } })), "volumes.b.path", /must differ from the path of volumes.a/);
  });

  it("rejects volume names that make no LXD volume or device name, or reuse a device", () => {
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { "-x": vol } })), "volumes.-x", /its name is also the device name/);
    expectInputError(() => validateHardenedContainerArgs(container({ name: "w".repeat(60), volumes: { data: vol } })), "volumes.data", /must make a volume name "<container>-<name>" that is 1–63 letters/);
    // Without name, the component's resource name is the container's.
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { data: vol } }), "w".repeat(60)), "volumes.data", /<container>-<name>/);
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { root: vol } })), "volumes.root", /must not reuse the name of a device the container already has \(the root disk\)/);
    expectInputError(() => validateHardenedContainerArgs(container({ devices: { data: { type: "nic", network: "n" } }, volumes: { data: vol } })), "volumes.data", /in devices/);
  });

  it("rejects volumes with replicas", () => {
    expectInputError(() => validateHardenedContainerArgs(container({ replicas: { count: 2, targets: ["m1", "m2"] }, volumes: { data: vol } })), "volumes", /volumes must not be given with replicas/);
  });

  it("rejects unknown fields, a bad pool or readOnly, and volumes that are not a plain object", () => {
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { data: { ...vol, mode: "rw" } as never } })), "volumes.data", /must have only the fields size, path, pool, config, readOnly, but "mode" was provided/);
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { data: { ...vol, pool: "a b" } } })), "volumes.data.pool", /storage pool/);
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: { data: { ...vol, readOnly: "yes" as never } } })), "volumes.data.readOnly", /true or false/);
    expectInputError(() => validateHardenedContainerArgs(container({ volumes: pulumi.output({}) as never })), "volumes", /plain object/);
  });
});

describe("TenantProject validation", () => {
  it("accepts the defaults", () => {
    expect(() => validateTenantProjectArgs({})).not.toThrow();
    expect(() => validateTenantProjectArgs({ name: "acme", limits: { disk: "50GiB", memory: "8GiB" }, rootSize: "5GiB", networks: ["tenants"] })).not.toThrow();
  });

  it("rejects project names LXD refuses and the default project", () => {
    expectInputError(() => validateTenantProjectArgs({ name: "acme_corp" }), "name", /underscores/);
    expectInputError(() => validateTenantProjectArgs({ name: "*" }), "name", /not "\*", "\." or "\.\."/);
    expectInputError(() => validateTenantProjectArgs({ name: "default" }), "name", /not "default"/);
  });

  it("rejects limits.disk without rootSize", () => {
    expectInputError(() => validateTenantProjectArgs({ limits: { disk: "50GiB" } }), "rootSize", /required with limits.disk/);
  });

  it("rejects limits that are not LXD values", () => {
    expectInputError(() => validateTenantProjectArgs({ limits: { memory: "10G" } } as TenantProjectArgs), "limits.memory", /size with a unit/);
    expectInputError(() => validateTenantProjectArgs({ limits: { instances: -1 } }), "limits.instances", /0 or more/);
    expectInputError(() => validateTenantProjectArgs({ instanceLimits: { processes: 0 } }), "instanceLimits.processes", /1 or more/);
  });

  it("rejects tenant volumes without a size, with a mount path, or with a snapshot schedule the project forbids", () => {
    expect(() => validateTenantProjectArgs({ volumes: { shared: { size: "1GiB" } } })).not.toThrow();
    expectInputError(() => validateTenantProjectArgs({ volumes: { shared: {} as never } }), "volumes.shared.size", /must be given/);
    expectInputError(() => validateTenantProjectArgs({ volumes: { shared: { size: "1GiB", path: "/srv" } as never } }), "volumes.shared.path", /mounts them nowhere.*HardenedContainer volumes/);
    expectInputError(() => validateTenantProjectArgs({ volumes: { "a/b": { size: "1GiB" } } }), "volumes.a/b", /its name is the volume's name/);
    expectInputError(() => validateTenantProjectArgs({ volumes: { shared: { size: "1GiB", config: { "snapshots.schedule": "@daily" } } } }), "volumes.shared.config.snapshots.schedule", /restricted.snapshots=block.*set allowSnapshots: true/);
    expect(() => validateTenantProjectArgs({ allowSnapshots: true, volumes: { shared: { size: "1GiB", config: { "snapshots.schedule": "@daily" } } } })).not.toThrow();
  });

  it("rejects a network name with a comma", () => {
    expectInputError(() => validateTenantProjectArgs({ networks: ["a,b"] }), "networks[0]", /network name/);
  });
});

describe("tenantRestrictions", () => {
  it("blocks privileged and non-isolated containers, low-level keys, nesting, host devices and host networking", () => {
    const r = tenantRestrictions({ networks: [], allowNesting: false, allowSnapshots: false });
    expect(r).toMatchObject({
      restricted: "true", "restricted.containers.privilege": "isolated", "restricted.containers.lowlevel": "block",
      "restricted.containers.nesting": "block", "restricted.containers.interception": "block", "restricted.devices.disk": "managed",
      "restricted.devices.nic": "block", "restricted.devices.proxy": "block", "restricted.devices.gpu": "block", "restricted.devices.pci": "block",
      "restricted.devices.usb": "block", "restricted.devices.unix-char": "block", "restricted.devices.unix-block": "block",
      "restricted.devices.unix-hotplug": "block", "restricted.devices.infiniband": "block", "restricted.snapshots": "block",
    });
    expect(r["restricted.networks.access"]).toBeUndefined();
  });

  it("allows NICs only on the named managed networks", () => {
    expect(tenantRestrictions({ networks: ["t1", "t2"], allowNesting: false, allowSnapshots: false })).toMatchObject({
      "restricted.devices.nic": "managed", "restricted.networks.access": "t1,t2",
    });
  });

  it("allows nesting with interception and low-level keys (security.idmap.size) together", () => {
    expect(tenantRestrictions({ networks: [], allowNesting: true, allowSnapshots: true })).toMatchObject({
      "restricted.containers.nesting": "allow", "restricted.containers.interception": "allow", "restricted.containers.lowlevel": "allow",
      "restricted.snapshots": "allow",
    });
  });
});

describe("component wiring (echo mocks)", () => {
  const registered: pulumi.runtime.MockResourceArgs[] = [];
  beforeAll(async () => {
    await pulumi.runtime.setMocks({
      newResource: (args) => {
        registered.push(args);
        return { id: args.custom ? `${args.name}-id` : undefined, state: args.inputs };
      },
      call: (args) => args.inputs,
    }, "unit", "test", false);
  });
  const settle = <T>(o: pulumi.Output<T>) => (o as unknown as { promise(): Promise<T> }).promise();
  const inputsOf = (type: string, name: string) => registered.find((r) => r.type.endsWith(type) && r.name === name)?.inputs as Record<string, unknown>;

  it("gives the container its own profile (limits, root disk, devices), last, and limits only there", async () => {
    const c = new HardenedContainer("web", {
      image: "img", pool: "fast", rootSize: "8GiB", limits: { memory: "256MiB" }, extraProfiles: ["default"],
      devices: { eth0: { type: "nic", network: "tenants" } }, config: { "user.x": "1" },
    });
    await settle(c.name);
    expect(inputsOf(":Profile", "web-profile")).toMatchObject({
      name: "web",
      config: { "limits.cpu": "1", "limits.memory": "256MiB", "limits.processes": "2000" },
      devices: { root: { type: "disk", path: "/", pool: "fast", size: "8GiB" }, eth0: { type: "nic", network: "tenants" } },
    });
    const inst = inputsOf(":Instance", "web");
    expect(inst).toMatchObject({ name: "web", image: "img", profiles: ["default", "web"], defaultLimits: false });
    // The user's config passes through; the hardened defaults are the Instance's own.
    expect(inst.config).toEqual({ "user.x": "1" });
  });

  it("passes nesting to the instance, which sizes the idmap for it", async () => {
    const c = new HardenedContainer("dind", { image: "img", nesting: { workload: "docker" } });
    await settle(c.name);
    expect(inputsOf(":Instance", "dind").config).toBeUndefined();
    expect(inputsOf(":Instance", "dind").nesting).toEqual({ workload: "docker" });
  });

  it("rejects nesting or a low-level key in a tenant that does not allow them, at preview, naming the TenantProject input", async () => {
    const strict = new TenantProject("strict", {});
    expectInputError(() => new HardenedContainer("n1", { image: "img", tenant: strict, nesting: { workload: "docker" } }), "nesting", /allowNesting: false; set allowNesting: true on the TenantProject/);
    expectInputError(() => new HardenedContainer("n2", { image: "img", tenant: strict, config: { "raw.lxc": "lxc.init.cmd=/sbin/init" } }), "config.raw.lxc", /low-level key that the tenant project blocks.*allowNesting: true/);
    expectInputError(() => new HardenedContainer("n3", { image: "img", tenant: strict, project: "other" }), "project", /must not be given with tenant/);
    const loose = new TenantProject("loose", { allowNesting: true });
    const c = new HardenedContainer("n4", { image: "img", tenant: loose, nesting: { workload: "docker" } });
    await settle(c.name);
    expect(inputsOf(":Instance", "n4")).toMatchObject({ project: "loose", nesting: { workload: "docker" } });
    expect(inputsOf(":Profile", "n4-profile")).toMatchObject({ project: "loose" });
  });

  it("creates a container's volumes in its project and pool and mounts them on the instance, which depends on them", async () => {
    const c = new HardenedContainer("app", {
      image: "img", pool: "fast",
      volumes: { data: { size: "64MiB", path: "/srv/data", config: { "snapshots.schedule": "@daily" } }, ro: { size: "8MiB", path: "/ro", pool: "slow", readOnly: true } },
    });
    expect(await settle(c.volumes)).toEqual({ data: "app-data", ro: "app-ro" });
    await settle(c.name);
    expect(inputsOf(":StorageVolume", "app-vol-data")).toMatchObject({ name: "app-data", pool: "fast", contentType: "filesystem", size: "64MiB", config: { "snapshots.schedule": "@daily" } });
    expect(inputsOf(":StorageVolume", "app-vol-ro")).toMatchObject({ name: "app-ro", pool: "slow" });
    expect(inputsOf(":Instance", "app").devices).toEqual({
      data: { type: "disk", pool: "fast", source: "app-data", path: "/srv/data" },
      ro: { type: "disk", pool: "slow", source: "app-ro", path: "/ro", readonly: "true" },
    });
    // The volumes are registered (and created) before the instance that mounts them.
    const at = (type: string, n: string) => registered.findIndex((r) => r.type.endsWith(type) && r.name === n);
    expect(at(":StorageVolume", "app-vol-data")).toBeGreaterThanOrEqual(0);
    expect(at(":StorageVolume", "app-vol-data")).toBeLessThan(at(":Instance", "app"));
    expect(at(":StorageVolume", "app-vol-ro")).toBeLessThan(at(":Instance", "app"));
    // Without volumes the instance gets no devices of its own.
    expect(inputsOf(":Instance", "web").devices).toBeUndefined();
  });

  it("puts a tenant container's volumes in the tenant's project and pool; the tenant's own volumes are not mounted", async () => {
    const t = new TenantProject("vt", { pool: "tpool", allowSnapshots: true, volumes: { shared: { size: "1GiB" } } });
    const c = new HardenedContainer("vtc", { image: "img", tenant: t, volumes: { data: { size: "64MiB", path: "/data", config: { "snapshots.schedule": "@daily" } } } });
    expect(await settle(c.volumes)).toEqual({ data: "vtc-data" });
    await settle(c.name);
    expect(await settle(t.volumes)).toEqual({ shared: "shared" });
    expect(inputsOf(":StorageVolume", "vtc-vol-data")).toMatchObject({ project: "vt", pool: "tpool" });
    expect(inputsOf(":StorageVolume", "vt-vol-shared")).toMatchObject({ name: "shared", project: "vt", pool: "tpool", size: "1GiB" });
    expect(inputsOf(":Instance", "vtc").devices).toEqual({ data: { type: "disk", pool: "tpool", source: "vtc-data", path: "/data" } });
    const strict = new TenantProject("nosnap", {});
    expectInputError(() => new HardenedContainer("vtc2", { image: "img", tenant: strict, volumes: { data: { size: "64MiB", path: "/data", config: { "snapshots.schedule": "@daily" } } } }),
      "volumes.data.config.snapshots.schedule", /restricted.snapshots=block.*set allowSnapshots: true on the TenantProject/);
  });

  it("makes a restricted project with its own images and profiles, and adopts its default profile", async () => {
    const t = new TenantProject("acme", { rootSize: "5GiB", limits: { disk: "50GiB" } });
    await settle(t.profile.name);
    expect(inputsOf(":Project", "acme")).toMatchObject({
      name: "acme",
      config: {
        "features.images": "true", "features.profiles": "true", "features.storage.volumes": "true", "features.networks": "false",
        "limits.instances": 10, "limits.cpu": 10, "limits.memory": "10GiB", "limits.processes": 20000, "limits.disk": "50GiB",
        restricted: "true",
      },
    });
    expect(inputsOf(":Profile", "acme-default")).toMatchObject({
      name: "default", project: "acme",
      config: { "security.idmap.isolated": "true", "limits.memory": "1GiB" },
      devices: { root: { type: "disk", path: "/", pool: "default", size: "5GiB" } },
    });
  });
});
