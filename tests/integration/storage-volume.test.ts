/**
 * StorageVolume and InstanceDevice against the real LXD through Pulumi's dynamic-provider host: the lifecycle,
 * adoption, drift, what check refuses, and data safety — a file on a volume attached with an InstanceDevice
 * survives an in-place update, a rename and a re-attach to another container; a shrink is refused; a volume
 * in use is not deleted; a btrfs pool enforces `size` inside the container.
 *
 * Containers are made with the REST client from the test image; a btrfs pool (loop file, 1 GiB) is made in
 * beforeAll and removed in afterAll. Everything is named `svt-…`.
 */
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { CheckFailed, MiniEngine, randomName } from "../support/engine";
import { gone, localClient, removeInstance, TEST_IMAGE } from "../support/lxd";
import {
  createInstance, createStorageVolume, deleteStorageVolume, execInstance, getInstance, getStorageVolume, startInstance, stopInstance, updateStorageVolume,
  type LxdClient,
} from "../../provider/lxd";

jest.setTimeout(180_000);

let host: ProviderHost;
let lxd: LxdClient;
const BTRFS = randomName("svt-b");
const c1 = randomName("svt-c");
const c2 = randomName("svt-c");
const volumes: [string, string][] = [];

beforeAll(async () => {
  host = await startProviderHost();
  lxd = localClient();
  await lxd.request("POST", "/1.0/storage-pools", { body: { name: BTRFS, driver: "btrfs", config: { size: "1GiB" } } });
  for (const c of [c1, c2]) {
    await createInstance(lxd, { name: c, source: { type: "image", alias: TEST_IMAGE } });
    await startInstance(lxd, c);
  }
});
afterAll(async () => {
  for (const c of [c1, c2]) await removeInstance(lxd, c);
  for (const [pool, v] of volumes) await deleteStorageVolume(lxd, pool, v).catch(() => undefined);
  await lxd.request("DELETE", `/1.0/storage-pools/${BTRFS}`).catch(() => undefined);
  await host?.close();
  await lxd?.close();
});

/** A fresh volume name, removed in afterAll whatever happens (with the names it may be renamed to). */
function volName(pool = "default"): string {
  const n = randomName("svt-v");
  volumes.push([pool, n], [pool, `${n}-r`]);
  return n;
}
const volEngine = (n: string) => new MiniEngine(host, "storage-volume", n, "StorageVolume");
const devEngine = (n: string) => new MiniEngine(host, "instance-device", n, "InstanceDevice");
const exists = async (pool: string, name: string) => !(await gone(() => getStorageVolume(lxd, pool, name)));
/** Runs `sh -c script` in a container over REST; its exit code. */
const sh = (c: string, script: string) => execInstance(lxd, c, ["sh", "-c", script]);

test("lifecycle: create → refresh → empty diff → update in place (size grows, config, description) → rename in place → replace (pool) → delete leaves nothing", async () => {
  const name = volName();
  volumes.push([BTRFS, `${name}-r`]);
  const e = volEngine(name);
  const inputs = { pool: "default", name, size: "10MiB", config: { "user.note": 1, "snapshots.schedule": "@daily", "snapshots.expiry": "2w" }, description: "first" };
  const s = await e.up(inputs);
  expect(s.outputs).toMatchObject({ type: "custom", location: expect.any(String), usedBy: [], size: "10MiB", config: { "user.note": "1", "snapshots.schedule": "@daily", "snapshots.expiry": "2w" } });
  expect((await getStorageVolume(lxd, "default", name)).value.config).toEqual({ size: "10MiB", "user.note": "1", "snapshots.schedule": "@daily", "snapshots.expiry": "2w" });
  await e.refresh();
  expect((await e.diff(inputs)).changes).toBe("none");

  const grown = { ...inputs, size: "20MiB", config: { "user.note": "2" }, description: "second" };
  await e.up(grown);
  expect(e.lastAction).toBe("update");
  expect((await getStorageVolume(lxd, "default", name)).value).toMatchObject({ config: { size: "20MiB", "user.note": "2" }, description: "second" });
  expect((await e.diff(grown)).changes).toBe("none");

  const renamed = { ...grown, name: `${name}-r` };
  await e.up(renamed);
  expect(e.lastAction).toBe("update");
  expect(await exists("default", name)).toBe(false);
  expect(await exists("default", `${name}-r`)).toBe(true);
  expect((await e.diff(renamed)).changes).toBe("none");

  const moved = { ...renamed, pool: BTRFS };
  expect((await e.diff(moved)).replaces).toEqual(["pool"]);
  await e.up(moved);
  expect(e.lastAction).toBe("replace");
  expect(await exists("default", `${name}-r`)).toBe(false);
  expect((await getStorageVolume(lxd, BTRFS, `${name}-r`)).value.config.size).toBe("20MiB");

  await e.destroy();
  expect(await exists(BTRFS, `${name}-r`)).toBe(false);
});

test("adoption: an existing volume is refused without adopt; adopted, it is updated, and destroy puts its config back and keeps it", async () => {
  const name = volName();
  await createStorageVolume(lxd, "default", { name, type: "custom", config: { "user.before": "x" }, description: "theirs" });
  const e = volEngine(name);
  await expect(e.up({ pool: "default", name })).rejects.toThrow(/Failed to create storage volume ".*" in pool "default" in project "default": .*already exists.*set adopt: true/i);
  await e.up({ pool: "default", name, adopt: true, config: { "user.mine": "y" } });
  expect((await getStorageVolume(lxd, "default", name)).value.config).toEqual({ "user.mine": "y" });
  await e.refresh();
  expect((await e.diff({ pool: "default", name, adopt: true, config: { "user.mine": "y" } })).changes).toBe("none");
  await e.destroy();
  expect((await getStorageVolume(lxd, "default", name)).value).toMatchObject({ config: { "user.before": "x" }, description: "theirs" });
});

test("drift: a key added outside the stack shows and is removed by the next up; a volume deleted outside the stack reads as gone and is created again", async () => {
  const name = volName();
  const e = volEngine(name);
  const inputs = { pool: "default", name, config: { "user.a": "1" } };
  await e.up(inputs);
  const { value, etag } = await getStorageVolume(lxd, "default", name);
  await updateStorageVolume(lxd, "default", name, { config: { ...value.config, "user.hand": "z" }, description: "" }, etag);
  await e.refresh();
  expect(e.state!.outputs.config).toEqual({ "user.a": "1", "user.hand": "z" });
  expect((await e.diff(inputs)).changes).toBe("some");
  await e.up(inputs);
  expect((await getStorageVolume(lxd, "default", name)).value.config).toEqual({ "user.a": "1" });

  await deleteStorageVolume(lxd, "default", name);
  expect(await e.refresh()).toBeUndefined();
  await e.up(inputs);
  expect(e.lastAction).toBe("create");
  expect(await exists("default", name)).toBe(true);
  await e.destroy();
  expect(await exists("default", name)).toBe(false);
});

describe("rejects at check, naming the field, before any call to LXD", () => {
  const base = { pool: "default", name: "svt-never" };
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ["a size that is not an LXD size", { size: "20 potatoes" }, "size", /size must be an LXD size string .* but "20 potatoes" was provided/],
    ["config.size that differs from size", { size: "20MiB", config: { size: "30MiB" } }, "config.size", /config.size must not differ from size/],
    ["a bad snapshots.schedule", { config: { "snapshots.schedule": "every day" } }, "config.snapshots.schedule", /cron expression/],
    ["a bad snapshots.expiry", { config: { "snapshots.expiry": "soon" } }, "config.snapshots.expiry", /duration/],
    ["security.shifted without the idmap opt-out", { config: { "security.shifted": true } }, "config", /config.security.shifted weakens confinement: .* add "idmap" to securityOptOuts/],
    ["security.unmapped without the idmap opt-out", { config: { "security.unmapped": "yes" } }, "config", /config.security.unmapped weakens confinement/],
    ["a content type LXD does not have", { contentType: "iso9660" }, "contentType", /contentType/],
    ["a bad pool name", { pool: "../x" }, "pool", /pool must be 1–63/],
    ["a source without a name", { source: { pool: "default" } }, "source.name", /source.name/],
  ];
  test.each(cases)("rejects %s", async (_label, extra, property, reason) => {
    const r = await volEngine("chk").check({ ...base, ...extra });
    expect(r.failures.map((f) => f.property)).toContain(property);
    expect(r.failures.find((f) => f.property === property)!.reason).toMatch(reason);
  });

  test("security.shifted with the idmap opt-out is accepted and listed as weakened", async () => {
    const name = volName();
    const e = volEngine(name);
    const s = await e.up({ pool: "default", name, config: { "security.shifted": "true" }, securityOptOuts: ["idmap"] });
    expect(s.outputs.weakened).toEqual([expect.objectContaining({ class: "idmap", key: "config.security.shifted" })]);
    await e.destroy();
  });

  test("rejects a smaller size at check with the reason (data loss), and lets it through to LXD with allowShrink", async () => {
    const name = volName(BTRFS);
    const e = volEngine(name);
    await e.up({ pool: BTRFS, name, size: "30MiB" });
    const r = await e.check({ pool: BTRFS, name, size: "20MiB" });
    expect(r.failures).toEqual([expect.objectContaining({ property: "size", reason: expect.stringMatching(/size must not shrink \(from 30MiB to 20MiB\): .*data loss.*allowShrink/) })]);
    await expect(e.up({ pool: BTRFS, name, size: "20MiB" })).rejects.toBeInstanceOf(CheckFailed);
    expect((await getStorageVolume(lxd, BTRFS, name)).value.config.size).toBe("30MiB");
    await e.up({ pool: BTRFS, name, size: "20MiB", allowShrink: true }); // btrfs shrinks its quota (LXD 5.0.2 accepts it)
    expect((await getStorageVolume(lxd, BTRFS, name)).value.config.size).toBe("20MiB");
    await e.destroy();
  });
});

test("a file on a volume attached with an InstanceDevice survives an update, a rename and a re-attach; a volume in use is not deleted; btrfs enforces size inside", async () => {
  const name = volName(BTRFS);
  const vol = volEngine(name);
  const dev = devEngine(`${name}-d`);
  const vargs = { pool: BTRFS, name, size: "20MiB", description: "data" };
  await vol.up(vargs);
  const dargs = { instance: c1, deviceName: "data", type: "disk", properties: { pool: BTRFS, source: name, path: "/data" } };
  const d = await dev.up(dargs);
  expect(d.outputs).toMatchObject({ ownerKey: "user.pulumi-lxd.device.data", resolvedInstanceType: "container", weakened: [] });
  expect((await getInstance(lxd, c1)).value.config["user.pulumi-lxd.device.data"]).toBe("InstanceDevice");
  expect(await sh(c1, "echo keep-me > /data/f && sync")).toBe(0);
  await vol.refresh();
  expect(vol.state!.outputs.usedBy).toEqual([`/1.0/instances/${c1}`]);

  // The quota is enforced inside the container: 10 MiB fit, a 40 MiB write into a 20 MiB volume fails.
  expect(await sh(c1, "dd if=/dev/zero of=/data/small bs=1M count=10 && rm /data/small && sync")).toBe(0);
  expect(await sh(c1, "dd if=/dev/zero of=/data/big bs=1M count=40")).not.toBe(0);
  expect(await sh(c1, "rm -f /data/big && sync")).toBe(0);

  // In-place update of the volume (grows, new description): the file stays.
  await vol.up({ ...vargs, size: "40MiB", description: "data, grown" });
  expect(vol.lastAction).toBe("update");
  expect(await sh(c1, "test \"$(cat /data/f)\" = keep-me")).toBe(0);

  // Delete while in use: refused before anything changes, naming the instance.
  await expect(vol.destroy()).rejects.toThrow(new RegExp(`Failed to delete storage volume "${name}" in pool "${BTRFS}" in project "default": it is still used by instance "${c1}": nothing was changed`));
  expect(await exists(BTRFS, name)).toBe(true);
  expect((await getInstance(lxd, c1)).value.devices.data).toBeDefined();

  // Rename: LXD refuses while a running instance uses it (surfaced); stopped, the device follows the new name.
  await expect(vol.up({ ...vargs, size: "40MiB", name: `${name}-r` })).rejects.toThrow(/Failed to update storage volume .*in use by running instances/i);
  await stopInstance(lxd, c1, { graceSec: 0, force: true });
  await vol.up({ ...vargs, size: "40MiB", name: `${name}-r` });
  expect((await getInstance(lxd, c1)).value.devices.data.source).toBe(`${name}-r`);
  await dev.refresh();
  const dargsR = { ...dargs, properties: { ...dargs.properties, source: `${name}-r` } };
  expect((await dev.diff(dargsR)).changes).toBe("none");
  await startInstance(lxd, c1);
  expect(await sh(c1, "test \"$(cat /data/f)\" = keep-me")).toBe(0);

  // Re-attach to another container (instance forces replacement: detach from c1, attach to c2).
  await dev.up({ ...dargsR, instance: c2 });
  expect(dev.lastAction).toBe("replace");
  expect((await getInstance(lxd, c1)).value.devices.data).toBeUndefined();
  expect((await getInstance(lxd, c1)).value.config["user.pulumi-lxd.device.data"]).toBeUndefined();
  expect(await sh(c2, "test \"$(cat /data/f)\" = keep-me")).toBe(0);

  await dev.destroy();
  expect((await getInstance(lxd, c2)).value.devices.data).toBeUndefined();
  await vol.destroy();
  expect(await exists(BTRFS, `${name}-r`)).toBe(false);
});

describe("InstanceDevice", () => {
  test("rejects at check what the policy refuses, naming the opt-out; accepts it with the opt-out and lists it as weakened", async () => {
    const e = devEngine("svt-dchk");
    const refused = await e.check({ instance: c1, deviceName: "etc", type: "disk", properties: { source: "/etc", path: "/mnt/etc" } });
    expect(refused.failures).toEqual([expect.objectContaining({ property: "properties.source", reason: expect.stringMatching(/devices.etc weakens confinement: disk source \/etc exposes host internals .*add "devices" to securityOptOuts/) })]);
    const shifted = await e.check({ instance: c1, deviceName: "v", type: "disk", properties: { pool: "default", source: "x", path: "/x", shift: true } });
    expect(shifted.failures[0]).toMatchObject({ property: "properties.shift", reason: expect.stringMatching(/add "idmap" to securityOptOuts/) });
    // Each refusal names the property it is about.
    const propertyOfRefusal = async (type: string, properties: Record<string, unknown>) => (await e.check({ instance: c1, deviceName: "d", type, properties })).failures.map((f) => f.property);
    expect(await propertyOfRefusal("unix-char", { source: "/dev/kvm" })).toEqual(["type"]);
    expect(await propertyOfRefusal("disk", { source: "/srv" })).toEqual(["properties.path"]);
    expect(await propertyOfRefusal("proxy", { bind: "instance", listen: "tcp:127.0.0.1:80", connect: "tcp:127.0.0.1:8080" })).toEqual(["properties.bind"]);
    expect(await propertyOfRefusal("disk", { source: "/srv", path: "/s", "raw.mount.options": "suid" })).toEqual(["properties.raw.mount.options"]);
    expect(await propertyOfRefusal("disk", { source: "/srv", path: "/s\nlxc.apparmor.profile = unconfined" })).toEqual(["properties.path"]);
    expect((await e.check({ instance: c1, deviceName: "v", type: "disk", properties: { pool: "default", path: "/x" } })).failures[0].property).toBe("properties.source");
    expect((await e.check({ instance: c1, deviceName: "v", type: "Disk!" })).failures[0].property).toBe("type");
    expect((await e.check({ instance: c1, deviceName: "v", type: "disk", properties: { type: "nic" } })).failures[0].property).toBe("properties.type");
  });

  test("unix-char with the devices opt-out: attach, empty diff, update in place; a taken name is refused; delete removes it", async () => {
    const e = devEngine("svt-dnull");
    const args = { instance: c2, deviceName: "xnull", type: "unix-char", properties: { source: "/dev/null", path: "/dev/xnull" }, securityOptOuts: ["devices"] };
    const s = await e.up(args);
    expect(s.outputs.weakened).toEqual([expect.objectContaining({ class: "devices", key: "devices.xnull" })]);
    expect(await sh(c2, "test -c /dev/xnull")).toBe(0);
    await e.refresh();
    expect((await e.diff(args)).changes).toBe("none");
    await e.up({ ...args, properties: { ...args.properties, mode: "0600" } });
    expect(e.lastAction).toBe("update");
    expect((await getInstance(lxd, c2)).value.devices.xnull.mode).toBe("0600");
    await expect(devEngine("svt-dnull2").up({ ...args })).rejects.toThrow(/already has a device named "xnull", managed by another InstanceDevice resource/);
    await e.destroy();
    expect((await getInstance(lxd, c2)).value.devices.xnull).toBeUndefined();
  });
});
