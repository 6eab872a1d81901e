/**
 * The Image resource published from an instance or a snapshot, against the real LXD through Pulumi's
 * dynamic-provider host: from a stopped instance (fingerprint, aliases, properties, public read back; properties and
 * public updated in place; a container launched from it), from a snapshot of a running instance, a running instance
 * refused with the reason unless `snapshotForPublish` (then the temporary snapshot is gone afterwards), and bad inputs.
 * Containers are made with the REST client from the test image. Needs `npm run build`.
 */
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { CheckFailed, MiniEngine, randomName } from "../support/engine";
import { gone, localClient, removeInstance, TEST_IMAGE } from "../support/lxd";
import {
  createInstance, createInstanceSnapshot, deleteImage, getImage, getInstance, listInstanceSnapshots, startInstance, stopInstance, type LxdClient,
} from "../../provider/lxd";

let host: ProviderHost;
let lxd: LxdClient;
let stopped: string;
let running: string;
const images: string[] = [];
const launched: string[] = [];

beforeAll(async () => {
  host = await startProviderHost();
  lxd = localClient();
  stopped = randomName("pub-a");
  running = randomName("pub-b");
  await createInstance(lxd, { name: stopped, source: { type: "image", alias: TEST_IMAGE } });
  await createInstance(lxd, { name: running, source: { type: "image", alias: TEST_IMAGE } });
  await startInstance(lxd, running);
});
afterAll(async () => {
  for (const n of launched) await removeInstance(lxd, n);
  await removeInstance(lxd, stopped);
  await removeInstance(lxd, running);
  for (const fp of images) await deleteImage(lxd, fp).catch(() => undefined);
  await host?.close();
  await lxd?.close();
});

const imageGone = (fp: string) => gone(() => getImage(lxd, fp));

test("published from a stopped instance: fingerprint, aliases, properties and public read back; updated in place; a container launches from it; destroy removes it", async () => {
  const alias = randomName("pub-img");
  const e = new MiniEngine(host, "image", alias, "Image");
  const inputs = { sourceInstance: stopped, aliases: [{ name: alias, description: "published" }], properties: { os: "busybox", release: "pub" }, compressionAlgorithm: "none" };
  const s = await e.up(inputs);
  const fp = s.outputs.fingerprint as string;
  images.push(fp);
  expect(fp).toMatch(/^[0-9a-f]{64}$/);
  expect(e.state!.id).toBe(`default/${fp}`);
  const img = (await getImage(lxd, fp)).value;
  expect(img.properties).toEqual({ os: "busybox", release: "pub" });
  expect(img.public).toBe(false);
  expect(img.aliases).toEqual([{ name: alias, description: "published" }]);
  expect(s.outputs).toMatchObject({ public: false, properties: { os: "busybox", release: "pub" }, aliases: [{ name: alias, description: "published" }], adopted: false });
  await e.refresh();
  expect((await e.diff(inputs)).changes).toBe("none");

  const changed = { ...inputs, properties: { os: "busybox", release: "pub2" }, public: true };
  await e.up(changed);
  expect(e.lastAction).toBe("update");
  expect(e.state!.outputs.fingerprint).toBe(fp);
  expect((await getImage(lxd, fp)).value).toMatchObject({ properties: { os: "busybox", release: "pub2" }, public: true });
  expect((await e.diff(changed)).changes).toBe("none");

  // A property set outside the stack shows as drift after a refresh.
  const { value, etag } = await getImage(lxd, fp);
  await lxd.request("PUT", `/1.0/images/${fp}`, { etag, body: { auto_update: value.auto_update, public: value.public, properties: { ...value.properties, extra: "x" } } });
  await e.refresh();
  expect((await e.diff(changed)).changes).toBe("some");
  await e.up(changed);
  expect((await getImage(lxd, fp)).value.properties).toEqual({ os: "busybox", release: "pub2" });

  // A container from the published image, by its alias.
  const c = randomName("pub-c");
  launched.push(c);
  await createInstance(lxd, { name: c, source: { type: "image", alias } });
  expect((await getInstance(lxd, c)).value.config?.["volatile.base_image"]).toBe(fp);
  await removeInstance(lxd, c);

  // Another source instance forces replacement: a new image.
  expect((await e.diff({ ...changed, sourceSnapshot: "x" })).replaces).toEqual(["sourceSnapshot"]);
  await e.destroy();
  expect(await imageGone(fp)).toBe(true);
});

test("published from a snapshot of a running instance; the instance keeps running", async () => {
  const snap = randomName("s");
  await createInstanceSnapshot(lxd, running, { name: snap });
  const e = new MiniEngine(host, "image", snap, "Image");
  const s = await e.up({ sourceInstance: running, sourceSnapshot: snap, compressionAlgorithm: "none" });
  const fp = s.outputs.fingerprint as string;
  images.push(fp);
  const img = (await getImage(lxd, fp)).value;
  // No properties declared: LXD's, from the instance's image.* keys, not managed.
  expect(img.properties).toMatchObject({ os: "busybox" });
  expect(s.outputs.properties).toBeUndefined();
  expect(img.aliases).toEqual([]);
  expect((await getInstance(lxd, running)).value.status).toBe("Running");
  await e.refresh();
  expect((await e.diff({ sourceInstance: running, sourceSnapshot: snap, compressionAlgorithm: "none" })).changes).toBe("none");
  await e.destroy();
  expect(await imageGone(fp)).toBe(true);
});

test("rejects publishing a running instance without a snapshot, naming the reason; with snapshotForPublish it goes through a temporary snapshot that is deleted", async () => {
  const e = new MiniEngine(host, "image", "pub-running", "Image");
  const r = await e.check({ sourceInstance: running });
  expect(r.failures).toEqual([{ property: "sourceInstance", reason: expect.stringMatching(/^sourceInstance must name a stopped instance, but instance ".*" is running: .*Cannot export a running instance as an image.*snapshotForPublish: true/) }]);
  await expect(e.up({ sourceInstance: running })).rejects.toThrow(CheckFailed);

  const before = await listInstanceSnapshots(lxd, running);
  const s = await e.up({ sourceInstance: running, snapshotForPublish: true, compressionAlgorithm: "none" });
  const fp = s.outputs.fingerprint as string;
  images.push(fp);
  expect((await getImage(lxd, fp)).value.fingerprint).toBe(fp);
  expect(await listInstanceSnapshots(lxd, running)).toEqual(before);
  expect((await getInstance(lxd, running)).value.status).toBe("Running");
  // Once published, the instance running is no reason to fail a later check.
  expect((await e.diff({ sourceInstance: running, snapshotForPublish: true, compressionAlgorithm: "none" })).changes).toBe("none");
  await e.destroy();
  expect(await imageGone(fp)).toBe(true);
});

test("rejects bad publish inputs at check, naming the field", async () => {
  const e = new MiniEngine(host, "image", "pub-bad", "Image");
  const failures = async (inputs: Record<string, unknown>) => (await e.check(inputs)).failures;
  expect(await failures({ sourceSnapshot: "s0" })).toEqual(expect.arrayContaining([
    { property: "sourceSnapshot", reason: "sourceSnapshot names a snapshot of sourceInstance: give sourceInstance too" },
  ]));
  expect(await failures({ sourceInstance: stopped, file: "/nonexistent.tar.gz" })).toEqual([
    { property: "sourceInstance", reason: "sourceInstance conflicts: exactly one of file, source and sourceInstance must be given, but file and sourceInstance were provided" },
  ]);
  expect(await failures({ sourceInstance: stopped, sourceSnapshot: "a/b" })).toEqual([expect.objectContaining({ property: "sourceSnapshot" })]);
  expect((await failures({ file: "/nonexistent.tar.gz", properties: { os: "x" } })).map((f) => f.property)).toContain("properties");
});

test("rejects the publish at create too when the instance was started after the check; nothing is published", async () => {
  const e = new MiniEngine(host, "image", "pub-late", "Image");
  // A property only this test's image would carry (other tests on this daemon add and remove images meanwhile).
  const tag = randomName("late");
  const checked = await e.check({ sourceInstance: stopped, properties: { release: tag }, compressionAlgorithm: "none" });
  expect(checked.failures).toEqual([]);
  const published = async () => (await lxd.get<{ properties?: Record<string, string> }[]>("/1.0/images", { query: { recursion: "1" } })).metadata.filter((i) => i.properties?.release === tag);
  await startInstance(lxd, stopped);
  try {
    await expect(host.create(e.urn, checked.inputs)).rejects.toThrow(
      new RegExp(`Failed to create image "${stopped}" in project "default": instance "${stopped}" is running: .*snapshotForPublish: true`),
    );
    expect(await published()).toEqual([]);
  } finally {
    await stopInstance(lxd, stopped, { graceSec: 0 });
  }
});
