/**
 * The StoragePool resource against the real LXD through the provider host: `dir` and loop-file `btrfs` pools
 * (small: 1–2 GiB sparse files), adoption, the `default` pool, drift, deletes refused while the pool is in use,
 * and check failures. Every pool is named `sp-…` and removed in `finally`.
 */
import * as fs from "node:fs";
import { startProviderHost, UNKNOWN, type ProviderHost } from "../support/provider-host";
import { CheckFailed, MiniEngine, randomName } from "../support/engine";
import { BACKEND, BACKEND_NAME } from "../support/backend";
import { gone, localClient, removeInstance, removeProfile, TEST_IMAGE } from "../support/lxd";
import {
  createInstance, createProfile, createStoragePool, deleteInstance, getImage, deleteStoragePool, getStoragePool, updateStoragePool, type LxdClient,
} from "../../provider/lxd";

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

/** The daemon's data directory (LXD: `LXD_DIR`, default /var/lib/lxd; Incus: `INCUS_DIR`, default /var/lib/incus). */
const LXD_DIR = BACKEND === "incus" ? process.env.INCUS_DIR ?? "/var/lib/incus" : process.env.LXD_DIR ?? "/var/lib/lxd";

async function poolExists(name: string): Promise<boolean> {
  return !(await gone(() => getStoragePool(lxd, name)));
}
async function live(name: string) {
  return (await getStoragePool(lxd, name)).value;
}
const volumesPath = (pool: string) => `/1.0/storage-pools/${pool}/volumes/custom`;
async function removePool(name: string): Promise<void> {
  for (const v of await lxd.listNames(volumesPath(name)).catch(() => [] as string[])) {
    await lxd.request("DELETE", `${volumesPath(name)}/${v}`).catch(() => undefined);
  }
  await deleteStoragePool(lxd, name).catch(() => undefined);
}

test("dir: create → refresh → empty diff → update in place → empty diff → delete leaves nothing", async () => {
  const name = randomName("sp");
  const e = new MiniEngine(host, "storage-pool", name, "StoragePool");
  try {
    const inputs = { name, driver: "dir", description: "first", config: { "volume.size": "100MiB" } };
    const s = await e.up(inputs);
    expect(s.id).toBe(name);
    expect(await live(name)).toMatchObject({ driver: "dir", description: "first", config: { "volume.size": "100MiB", source: `${LXD_DIR}/storage-pools/${name}` } });
    expect(s.outputs).toMatchObject({ status: "Created", usedBy: [], config: { "volume.size": "100MiB" } });
    expect((s.outputs.effectiveConfig as Record<string, string>).source).toBe(`${LXD_DIR}/storage-pools/${name}`);
    await e.refresh();
    // LXD's source is LXD's: not in the program's config, no diff.
    expect(e.state!.inputs.config).toEqual({ "volume.size": "100MiB" });
    expect((await e.diff(inputs)).changes).toBe("none");
    // Another source is another pool (replace). (The source LXD chose is inside LXD_DIR: a program cannot write it down.)
    expect((await e.diff({ ...inputs, config: { ...inputs.config, source: `/srv/${name}` } })).replaces).toEqual(["config"]);
    await expect(e.diff({ ...inputs, config: { ...inputs.config, source: `${LXD_DIR}/storage-pools/${name}` } })).rejects.toThrow(/config\.source must not be LXD's/);
    // A preview with config not known yet plans an update, not a replacement.
    const p = await e.preview({ ...inputs, config: UNKNOWN });
    expect(p.check.failures).toEqual([]);
    expect(p.diff).toMatchObject({ changes: "some", replaces: [] });

    const changed = { ...inputs, description: "second", config: { "user.team": "storage", "volume.snapshots.schedule": "@daily", "rsync.compression": false } };
    await e.up(changed);
    expect(e.lastAction).toBe("update");
    expect((await live(name)).config).toEqual({
      source: `${LXD_DIR}/storage-pools/${name}`, "user.team": "storage", "volume.snapshots.schedule": "@daily", "rsync.compression": "false",
    });
    expect((await live(name)).description).toBe("second");
    await e.refresh();
    expect((await e.diff(changed)).changes).toBe("none");

    await e.destroy();
    expect(await poolExists(name)).toBe(false);
    expect(fs.existsSync(`${LXD_DIR}/storage-pools/${name}`)).toBe(false);
  } finally {
    await removePool(name);
  }
});

test("btrfs loop pool: create (1GiB) → refresh → empty diff → update in place (size grow where LXD resizes, refused where it cannot) → empty diff → replace on driver change → delete", async () => {
  const name = randomName("sp");
  const e = new MiniEngine(host, "storage-pool", name, "StoragePool");
  const img = `${LXD_DIR}/disks/${name}.img`;
  try {
    const inputs = { name, driver: "btrfs", config: { size: "1GiB" } };
    await e.up(inputs);
    expect(await live(name)).toMatchObject({ driver: "btrfs", status: "Created", config: { size: "1GiB", source: img } });
    expect(fs.statSync(img).size).toBe(1024 ** 3);
    await e.refresh();
    expect(e.state!.inputs.config).toEqual({ size: "1GiB" });
    expect((await e.diff(inputs)).changes).toBe("none");

    // A size change applies only where LXD resizes loop pools (API extension storage_pool_loop_resize); LXD 5.0
    // stores the new size and leaves the file as it was, so it is refused there, at preview and at update.
    const resizes = await lxd.hasExtension("storage_pool_loop_resize");
    const updated = { ...inputs, description: "updated", config: { size: "1GiB", "user.tier": 1, "btrfs.mount_options": "user_subvol_rm_allowed,compress=zstd" } };
    const grown = { ...updated, config: { ...updated.config, size: "2GiB" } };
    if (resizes) {
      expect((await e.diff(grown)).replaces).toEqual([]);
      await e.up(grown);
      expect(e.lastAction).toBe("update");
      expect(fs.statSync(img).size).toBe(2 * 1024 ** 3);
    } else {
      await expect(e.diff(grown)).rejects.toThrow(`Failed to update storage pool "${name}": config.size cannot change from "1GiB" to "2GiB" on this LXD server: it lacks API extension storage_pool_loop_resize`);
      await expect(host.update(e.state!.id, e.urn, e.state!.outputs, (await e.check(grown)).inputs, { oldInputs: e.state!.inputs })).rejects.toThrow(/config\.size cannot change/);
      expect((await live(name)).config.size).toBe("1GiB");
      expect(fs.statSync(img).size).toBe(1024 ** 3);
    }
    const want = resizes ? grown : updated;
    await e.up(want);
    expect((await live(name)).config).toMatchObject({ size: want.config.size, source: img, "user.tier": "1", "btrfs.mount_options": "user_subvol_rm_allowed,compress=zstd" });
    expect((await live(name)).description).toBe("updated");
    await e.refresh();
    expect((await e.diff(want)).changes).toBe("none");

    const asDir = { name, driver: "dir", description: "now dir" };
    expect((await e.diff(asDir)).replaces).toEqual(["driver"]);
    await e.up(asDir);
    expect(e.lastAction).toBe("replace");
    expect(await live(name)).toMatchObject({ driver: "dir", description: "now dir" });
    expect(fs.existsSync(img)).toBe(false);

    await e.destroy();
    expect(await poolExists(name)).toBe(false);
  } finally {
    await removePool(name);
  }
});

test("source.wipe is taken where the server has API extension storage_pool_source_wipe (Incus 6.0), refused before any write where it lacks it (LXD 5.0)", async () => {
  const name = randomName("sp");
  const e = new MiniEngine(host, "storage-pool", name, "StoragePool");
  const inputs = { name, driver: "btrfs", config: { size: "1GiB", "source.wipe": "false" } };
  try {
    if (await lxd.hasExtension("storage_pool_source_wipe")) {
      await e.up(inputs);
      expect((await live(name)).config).toMatchObject({ size: "1GiB", "source.wipe": "false" });
      await e.refresh();
      expect((await e.diff(inputs)).changes).toBe("none");
      await e.destroy();
    } else {
      await expect(e.up(inputs)).rejects.toThrow(
        `Failed to create storage pool "${name}": config.source.wipe needs API extension storage_pool_source_wipe, which this ${BACKEND_NAME} server lacks`,
      );
      expect(e.state).toBeUndefined();
    }
    expect(await poolExists(name)).toBe(false);
  } finally {
    await removePool(name);
  }
});

test("adopts an existing pool only with adopt: true; destroy puts its former content back and keeps it", async () => {
  const name = randomName("sp");
  await createStoragePool(lxd, { name, driver: "dir", description: "made by hand", config: { "user.keep": "yes" } });
  try {
    const e = new MiniEngine(host, "storage-pool", name, "StoragePool");
    await expect(e.up({ name, driver: "dir" })).rejects.toThrow(/Failed to create storage pool ".*": .*already exists.*adopt: true/);
    expect(e.state).toBeUndefined();
    // Another driver is not this pool.
    await expect(e.up({ name, driver: "btrfs", adopt: true })).rejects.toThrow(/Failed to adopt storage pool ".*": the existing pool has driver "dir", but driver "btrfs" was declared/);

    const inputs = { name, driver: "dir", adopt: true, description: "managed", config: { "user.new": "1" } };
    await e.up(inputs);
    expect(e.lastAction).toBe("create");
    expect(await live(name)).toMatchObject({ description: "managed", config: { "user.new": "1" } });
    expect((await live(name)).config["user.keep"]).toBeUndefined();
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");
    await e.destroy();
    const after = await live(name);
    expect(after.description).toBe("made by hand");
    expect(after.config).toEqual({ source: `${LXD_DIR}/storage-pools/${name}`, "user.keep": "yes" });
  } finally {
    await removePool(name);
  }
});

test("the default pool is adopted (never created) and never deleted; destroy puts its content back", async () => {
  const before = await live("default");
  const e = new MiniEngine(host, "storage-pool", `default-${randomName("sp")}`, "StoragePool");
  const inputs = { name: "default", driver: before.driver, description: before.description, config: { "user.pulumi-test": "1" } };
  try {
    await e.up(inputs);
    expect(e.lastAction).toBe("create");
    expect((e.state!.outputs.adoptedFrom as { config: Record<string, string> }).config).toEqual(before.config);
    expect((await live("default")).config).toEqual({ ...before.config, "user.pulumi-test": "1" });
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");
    // The same name with another driver would mean deleting it: refused at preview.
    await expect(e.diff({ ...inputs, driver: before.driver === "dir" ? "btrfs" : "dir", config: {} })).rejects.toThrow(/Failed to replace storage pool "default" .*existed before this stack \(adopted\)/);
    await e.destroy();
    const after = await live("default");
    expect(after.config).toEqual(before.config);
    expect(after.description).toBe(before.description);
  } finally {
    // Put the shared pool back even if the test failed half-way.
    const { value, etag } = await getStoragePool(lxd, "default");
    if (value.config["user.pulumi-test"] !== undefined) {
      const { "user.pulumi-test": _, ...config } = value.config;
      await updateStoragePool(lxd, "default", { config, description: before.description }, etag);
    }
  }
});

test("out-of-band changes show as drift and converge; an out-of-band delete reads as gone", async () => {
  const name = randomName("sp");
  const e = new MiniEngine(host, "storage-pool", name, "StoragePool");
  const inputs = { name, driver: "dir", config: { "user.a": "1" } };
  try {
    await e.up(inputs);
    const { value, etag } = await getStoragePool(lxd, name);
    await updateStoragePool(lxd, name, { config: { ...value.config, "user.a": "2", "user.by-hand": "x" }, description: "by hand" }, etag);
    await e.refresh();
    expect(e.state!.inputs).toMatchObject({ description: "by hand", config: { "user.a": "2", "user.by-hand": "x" } });
    const d = await e.diff(inputs);
    expect(d.changes).toBe("some");
    expect(d.replaces).toEqual([]);
    await e.up(inputs);
    expect(e.lastAction).toBe("update");
    expect(await live(name)).toMatchObject({ description: "", config: { source: `${LXD_DIR}/storage-pools/${name}`, "user.a": "1" } });
    expect((await live(name)).config["user.by-hand"]).toBeUndefined();
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");

    await deleteStoragePool(lxd, name);
    expect(await e.refresh()).toBeUndefined();
  } finally {
    await removePool(name);
  }
});

test("fails when the pool is in use: delete and replacement are refused before anything changes, naming the users", async () => {
  const name = randomName("sp");
  const profile = randomName("sp-prof");
  const volume = randomName("vol");
  const e = new MiniEngine(host, "storage-pool", name, "StoragePool");
  try {
    await e.up({ name, driver: "dir" });
    await lxd.request("POST", volumesPath(name), { body: { name: volume, type: "custom", config: {} } });
    await createProfile(lxd, { name: profile, description: "", config: {}, devices: { data: { type: "disk", pool: name, source: volume, path: "/data" } } });

    await expect(e.diff({ name, driver: "btrfs", config: { size: "1GiB" } })).rejects.toThrow(
      new RegExp(`Failed to replace storage pool "${name}" \\(driver "dir" → "btrfs"\\): replacing deletes it first, and it is in use by .*storage volume "custom/${volume}" in pool "${name}"`),
    );
    const err = await e.destroy().then(() => undefined, (x: Error) => x);
    expect(err?.message).toMatch(new RegExp(`Failed to delete storage pool "${name}": it is in use by `));
    expect(err?.message).toContain(`storage volume "custom/${volume}" in pool "${name}"`);
    expect(err?.message).toContain(`profile "${profile}"`);
    // Nothing changed: the pool, its volume and the profile's device are all there.
    expect(await poolExists(name)).toBe(true);
    expect(await lxd.listNames(volumesPath(name))).toEqual([volume]);

    await removeProfile(lxd, profile);
    await lxd.request("DELETE", `${volumesPath(name)}/${volume}`);
    await e.destroy();
    expect(await poolExists(name)).toBe(false);
  } finally {
    await removeProfile(lxd, profile);
    await removePool(name);
  }
});

test("an image cached on the pool does not block its delete: LXD drops the image's volume and keeps the image", async () => {
  const name = randomName("sp");
  const inst = randomName("sp-c");
  const e = new MiniEngine(host, "storage-pool", name, "StoragePool");
  try {
    await e.up({ name, driver: "btrfs", config: { size: "1GiB" } });
    // A container made on the pool (never started) leaves the image's volume there once it is deleted.
    await createInstance(lxd, { name: inst, source: { type: "image", alias: TEST_IMAGE }, devices: { root: { type: "disk", path: "/", pool: name } } });
    await deleteInstance(lxd, inst);
    const usedBy = (await live(name)).used_by ?? [];
    expect(usedBy).toEqual([expect.stringMatching(/^\/1\.0\/images\/[0-9a-f]{64}$/)]);
    await e.destroy();
    expect(await poolExists(name)).toBe(false);
    expect(await gone(() => getImage(lxd, usedBy[0].split("/").pop()!))).toBe(false);
  } finally {
    await removeInstance(lxd, inst);
    await removePool(name);
  }
});

test("rejects bad input at check, naming the field: unknown key for the driver, protected source, bad size, bad name", async () => {
  const e = new MiniEngine(host, "storage-pool", "sp-check", "StoragePool");
  const failures = async (inputs: Record<string, unknown>) => (await e.check({ connection: { socketPath: "/nonexistent.sock" }, ...inputs })).failures;
  expect(await failures({ name: "sp-x", driver: "dir", config: { "zfs.pool_name": "tank" } })).toEqual([
    { property: "config.zfs.pool_name", reason: expect.stringMatching(/^config key "zfs.pool_name" is not a storage pool key of driver "dir" \(its keys: source, rsync.bwlimit, .*; and user\.\*\)$/) },
  ]);
  expect(await failures({ name: "sp-x", driver: "dir", config: { source: "/var/lib/lxd/../lxd/storage-pools/x/" } })).toEqual([
    { property: "config.source", reason: expect.stringMatching(/^config\.source must not be LXD's or Incus's own data directory/) },
  ]);
  expect(await failures({ name: "sp-x", driver: "dir", config: { source: "/etc/" } })).toEqual([
    { property: "config.source", reason: expect.stringMatching(/^config\.source must not be a system directory of the host \(\/etc\)/) },
  ]);
  expect(await failures({ name: "sp-x", driver: "btrfs", config: { size: "1G" } })).toEqual([
    { property: "config.size", reason: expect.stringMatching(/^config\.size must be an LXD size: .* but "1G" was provided$/) },
  ]);
  expect(await failures({ name: "bad/name", driver: "dir" })).toEqual([{ property: "name", reason: expect.stringMatching(/^name must be 1–63 letters/) }]);
  await expect(e.up({ name: "sp-x", driver: "dir", config: { size: "1GiB" } })).rejects.toBeInstanceOf(CheckFailed);
  expect(await poolExists("sp-x")).toBe(false);
});
