/**
 * The Image resource against the real LXD, driven through Pulumi's own dynamic-provider host over gRPC the way
 * the engine drives it: Check (file hashed) → Create → Read → Diff → Update (aliases, public) → Diff → a changed
 * file forces replacement → Delete → nothing left. Also: adoption of an image that already exists (only our
 * aliases removed on destroy), an alias taken by another image, C05 (no project vs `default`), C09 (a project
 * with `features.images=true` holding its own copy; instances created in it by alias and by fingerprint through
 * the Instance provider), and bad inputs. Copying from a remote server is validated only (no network here).
 * Needs `bash scripts/lxd-setup.sh` and `npm run build` (the shim loads `dist/`).
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { providerShim } from "../../resources/shim";
import {
  LxdClient, createImageAlias, deleteImage, deleteImageAlias, deleteInstance, deleteProject, getImage, getImageAlias, getInstance,
  importImageFile, isNotFound, listProjects, stopInstance,
} from "../../provider/lxd";
import {
  dynamicResourceType, serializeProvider, startProviderHost, urn, withProvider, UNKNOWN,
  type PlainObject, type ProviderHost,
} from "../support/provider-host";
import { rejected } from "../support/provider-host";
import { gone, localClient } from "../support/lxd";

const IMAGE_TYPE = dynamicResourceType("lxd", "Image");
const PROJECT_TYPE = dynamicResourceType("lxd", "Project");
const INSTANCE_TYPE = dynamicResourceType("lxd", "Instance");
const rnd = () => `t-${randomBytes(4).toString("hex")}`;
const REPO = path.resolve(__dirname, "..", "..");

let host: ProviderHost;
let lxd: LxdClient;
const text: Record<string, string> = {};
let work: string;
let base: string;
/** Whatever a test leaves behind is removed in afterAll: images (project, fingerprint), aliases, instances, projects. */
const left = {
  images: [] as Array<{ project: string; fp: string }>,
  aliases: [] as Array<{ project: string; name: string }>,
  instances: [] as Array<{ project: string; name: string }>,
  projects: [] as string[],
};

beforeAll(async () => {
  lxd = localClient();
  for (const m of ["image", "project", "instance"] as const) text[m] = await serializeProvider(providerShim(m));
  host = await startProviderHost();
  work = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lxd-image-"));
  // One base image built by the project's own script; variants differ by one file, so each has its own fingerprint.
  base = path.join(work, "base");
  fs.mkdirSync(base);
  const tarball = execFileSync("bash", [path.join(REPO, "scripts/build-test-image.sh"), path.join(work, "base.tar.gz")], { encoding: "utf8" }).trim();
  execFileSync("tar", ["-C", base, "-xzf", tarball]);
});

afterAll(async () => {
  const quiet = (fn: () => Promise<unknown>) => fn().catch((err) => { if (!isNotFound(err)) throw err; });
  for (const i of left.instances) {
    await quiet(async () => {
      const { value } = await getInstance(lxd, i.name, { project: i.project });
      if (value.status !== "Stopped") await stopInstance(lxd, i.name, { project: i.project, graceSec: 0 });
      await deleteInstance(lxd, i.name, { project: i.project });
    });
  }
  for (const a of left.aliases) await quiet(() => deleteImageAlias(lxd, a.name, { project: a.project }));
  for (const i of left.images) await quiet(() => deleteImage(lxd, i.fp, { project: i.project }));
  for (const p of left.projects) await quiet(() => deleteProject(lxd, p));
  await host?.close();
  await lxd?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** A unified tarball at `file` (default: a new path) whose content is unique to `tag`; returns path and SHA-256. */
function makeTarball(tag: string, file = path.join(work, `${tag}.tar.gz`)): { file: string; sha: string } {
  fs.writeFileSync(path.join(base, "rootfs", "etc", "pulumi-lxd-variant"), `${tag}\n`);
  execFileSync("tar", ["-C", base, "--numeric-owner", "--owner=0", "--group=0", "-czf", file, "metadata.yaml", "rootfs"]);
  const sha = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  return { file, sha };
}

const with_ = (module: string, p: Record<string, unknown>) => withProvider(p, text[module]);

async function checked(module: string, u: string, news: Record<string, unknown>, olds: Record<string, unknown> = {}): Promise<PlainObject> {
  const r = await host.check(u, olds, with_(module, news));
  expect(r.failures).toEqual([]);
  return r.inputs;
}



describe("Image lifecycle through the provider host", () => {
  test("check → create → read → diff → update aliases/public → diff → changed file replaces → delete → nothing left", async () => {
    const u = urn(IMAGE_TYPE, "img");
    const a1 = rnd();
    const a2 = rnd();
    const { file, sha } = makeTarball(rnd());
    left.images.push({ project: "default", fp: sha });
    left.aliases.push({ project: "default", name: a1 }, { project: "default", name: a2 });

    const inputs = await checked("image", u, { file, aliases: [{ name: a1 }] });
    expect(inputs).toMatchObject({ file, fileSha256: sha, project: "default", public: false, aliases: [{ name: a1, description: "" }] });

    const { id, properties: outs } = await host.create(u, inputs);
    expect(id).toBe(`default/${sha}`);
    expect(outs).toMatchObject({ fingerprint: sha, adopted: false, addedAliases: [a1], aliases: [{ name: a1, description: "" }], architecture: os.arch() === "x64" ? "x86_64" : expect.any(String) });
    expect(outs.size).toBeGreaterThan(100_000);
    expect((await getImage(lxd, sha)).value.fingerprint).toBe(sha);
    expect((await getImageAlias(lxd, a1)).target).toBe(sha);

    const read = await host.read(id, u, outs, inputs);
    expect(read.id).toBe(id);
    expect(read.properties).toEqual(outs);
    expect((await host.diff(id, u, read.properties, await checked("image", u, { file, aliases: [{ name: a1 }] }, inputs))).changes).toBe("none");
    // C05: naming the default project changes nothing.
    const named = await checked("image", u, { file, aliases: [{ name: a1 }], project: "default" }, inputs);
    expect(await host.diff(id, u, outs, named)).toMatchObject({ changes: "none", replaces: [] });

    // Update in place: a second alias, a description, public.
    const news2 = await checked("image", u, { file, public: true, aliases: [{ name: a2, description: "two" }, { name: a1, description: "one" }] }, inputs);
    const d2 = await host.diff(id, u, outs, news2);
    expect(d2).toMatchObject({ changes: "some", replaces: [] });
    const outs2 = (await host.update(id, u, outs, news2)).properties;
    const img2 = (await getImage(lxd, sha)).value;
    expect(img2.public).toBe(true);
    expect((await getImageAlias(lxd, a1)).description).toBe("one");
    expect(await getImageAlias(lxd, a2)).toMatchObject({ target: sha, description: "two" });
    expect(outs2.aliases).toEqual([{ name: a1, description: "one" }, { name: a2, description: "two" }].sort((x, y) => (x.name < y.name ? -1 : 1)));
    expect((await host.diff(id, u, outs2, news2)).changes).toBe("none");
    expect((await host.diff(id, u, (await host.read(id, u, outs2, news2)).properties, news2)).changes).toBe("none");

    // Remove an alias in place.
    const news3 = await checked("image", u, { file, public: true, aliases: [{ name: a1, description: "one" }] }, news2);
    const outs3 = (await host.update(id, u, outs2, news3)).properties;
    expect(await gone(() => getImageAlias(lxd, a2))).toBe(true);
    expect(outs3.addedAliases).toEqual([a1]);
    expect((await host.diff(id, u, outs3, news3)).changes).toBe("none");

    // The file at the same path gets new content: replacement (delete before create: the alias moves with it).
    const next = makeTarball(rnd(), file);
    left.images.push({ project: "default", fp: next.sha });
    const news4 = await checked("image", u, { file, public: true, aliases: [{ name: a1, description: "one" }] }, news3);
    expect(news4.fileSha256).toBe(next.sha);
    const d4 = await host.diff(id, u, outs3, news4);
    expect(d4).toMatchObject({ changes: "some", replaces: ["fileSha256"], deleteBeforeReplace: true });
    await host.delete(id, u, outs3);
    expect(await gone(() => getImage(lxd, sha))).toBe(true);
    expect(await gone(() => getImageAlias(lxd, a1))).toBe(true);
    const created = await host.create(u, news4);
    expect(created.id).toBe(`default/${next.sha}`);
    expect((await getImageAlias(lxd, a1)).target).toBe(next.sha);
    expect((await getImage(lxd, next.sha)).value.public).toBe(true);

    await host.delete(created.id, u, created.properties);
    expect(await gone(() => getImage(lxd, next.sha))).toBe(true);
    expect(await gone(() => getImageAlias(lxd, a1))).toBe(true);
    // Already gone: still success; refresh says gone.
    await host.delete(created.id, u, created.properties);
    expect((await host.read(created.id, u, created.properties, news4)).id).toBe("");
  });

  test("an image that already exists is adopted: destroy removes only the aliases it added, never the image", async () => {
    const u = urn(IMAGE_TYPE, "adopted");
    const { file, sha } = makeTarball(rnd());
    const theirs = rnd();
    const mine = rnd();
    left.images.push({ project: "default", fp: sha });
    left.aliases.push({ project: "default", name: theirs }, { project: "default", name: mine });
    expect(await importImageFile(lxd, file)).toBe(sha);
    await createImageAlias(lxd, { name: theirs, target: sha });

    const inputs = await checked("image", u, { file, aliases: [{ name: mine, description: "ours" }, { name: theirs }] });
    const { id, properties: outs } = await host.create(u, inputs);
    expect(outs).toMatchObject({ fingerprint: sha, adopted: true, addedAliases: [mine] });
    expect((await host.diff(id, u, outs, inputs)).changes).toBe("none");
    expect((await host.diff(id, u, (await host.read(id, u, outs, inputs)).properties, inputs)).changes).toBe("none");

    await host.delete(id, u, outs);
    expect((await getImage(lxd, sha)).value.fingerprint).toBe(sha);
    expect((await getImageAlias(lxd, theirs)).target).toBe(sha);
    expect(await gone(() => getImageAlias(lxd, mine))).toBe(true);
    await deleteImage(lxd, sha);
  });

  test("fails when an alias exists for another image, naming the alias and that image; nothing is imported", async () => {
    const u = urn(IMAGE_TYPE, "taken");
    const other = (await getImageAlias(lxd, "pulumi-lxd-test")).target;
    const taken = rnd();
    left.aliases.push({ project: "default", name: taken });
    await createImageAlias(lxd, { name: taken, target: other });
    const { file, sha } = makeTarball(rnd());
    left.images.push({ project: "default", fp: sha });

    const inputs = await checked("image", u, { file, aliases: [{ name: taken }] });
    const err = await rejected(host.create(u, inputs));
    expect(err.partial).toBe(false);
    expect(err.message).toContain(`alias "${taken}" (points at image ${other.slice(0, 12)})`);
    expect(err.message).toContain("never moved");
    expect(await gone(() => getImage(lxd, sha))).toBe(true);
    expect((await getImageAlias(lxd, taken)).target).toBe(other);
    await deleteImageAlias(lxd, taken);
  });
});

describe("C09: a project with features.images=true holds its own copy; instances in it by alias and by fingerprint", () => {
  test("create project, import the image into it, create instances by alias and by fingerprint, clean up", async () => {
    const project = rnd();
    const alias = rnd();
    const { file, sha } = makeTarball(rnd());
    left.projects.push(project);
    left.images.push({ project, fp: sha });
    const pu = urn(PROJECT_TYPE, project);
    const iu = urn(IMAGE_TYPE, `${project}-img`);
    const byAlias = `c-${randomBytes(3).toString("hex")}`;
    const byFp = `c-${randomBytes(3).toString("hex")}`;
    left.instances.push({ project, name: byAlias }, { project, name: byFp });

    const pin = await checked("project", pu, { name: project, config: { "features.images": true, "features.profiles": true } });
    const p = await host.create(pu, pin);

    const iin = await checked("image", iu, { file, project, aliases: [{ name: alias }] });
    const img = await host.create(iu, iin);
    expect(img.id).toBe(`${project}/${sha}`);
    expect(img.properties.adopted).toBe(false);
    // The project's own copy: not in the default project.
    expect((await getImage(lxd, sha, { project })).value.fingerprint).toBe(sha);
    expect(await gone(() => getImage(lxd, sha, { project: "default" }))).toBe(true);
    expect(await gone(() => getImageAlias(lxd, alias, { project: "default" }))).toBe(true);

    // The project's default profile is its own and empty: the instances bring their root disk (and no NIC).
    const root = { root: { type: "disk", path: "/", pool: "default" } };
    const made: Array<{ u: string; id: string; outs: PlainObject }> = [];
    for (const [name, image] of [[byAlias, alias], [byFp, sha]] as const) {
      const u = urn(INSTANCE_TYPE, name);
      const inputs = await checked("instance", u, { name, project, image, devices: root });
      const c = await host.create(u, inputs);
      made.push({ u, id: c.id, outs: c.properties });
      expect(c.properties).toMatchObject({ project, imageFingerprint: sha });
      expect((await getInstance(lxd, name, { project })).value.status).toMatch(/Running|Ready/);
    }

    // The project now holds them: deleting it names them.
    const held = (await host.read(p.id, pu, p.properties, pin)).properties;
    expect(held.usedBy).toEqual(expect.arrayContaining([`/1.0/instances/${byAlias}?project=${project}`, `/1.0/instances/${byFp}?project=${project}`]));

    for (const m of made) await host.delete(m.id, m.u, m.outs);
    await host.delete(img.id, iu, img.properties);
    expect(await gone(() => getImage(lxd, sha, { project }))).toBe(true);
    await host.delete(p.id, pu, p.properties);
    expect(await listProjects(lxd)).not.toContain(project);
  });
});

describe("Image check", () => {
  const u = urn(IMAGE_TYPE, "bad");
  const failures = async (news: Record<string, unknown>) => (await host.check(u, {}, with_("image", news))).failures;

  test("rejects a file that does not exist, naming file", async () => {
    const missing = path.join(os.tmpdir(), `${rnd()}.tar.gz`);
    const f = await failures({ file: missing });
    expect(f).toEqual([{ property: "file", reason: expect.stringContaining(`"${missing}" does not exist`) }]);
  });

  test("rejects neither file nor source", async () => {
    expect((await failures({})).map((x) => x.property)).toEqual(["file"]);
  });

  test("rejects both file and source", async () => {
    const f = await failures({ file: "/x.tar.gz", source: { server: "https://images.example", alias: "debian/12" } });
    expect(f.map((x) => x.property)).toEqual(["source"]);
  });

  test("rejects a source with both alias and fingerprint, or neither", async () => {
    expect((await failures({ source: { server: "https://images.example", alias: "a", fingerprint: "abcdef0123" } })).map((x) => x.property)).toEqual(["source"]);
    expect((await failures({ source: { server: "https://images.example" } })).map((x) => x.property)).toEqual(["source"]);
  });

  test("rejects a source server that is not https, and an unknown protocol", async () => {
    expect((await failures({ source: { server: "http://images.example", alias: "a" } })).map((x) => x.property)).toEqual(["source.server"]);
    expect((await failures({ source: { server: "https://images.example", alias: "a", protocol: "oci" } })).map((x) => x.property)).toEqual(["source.protocol"]);
  });

  test("rejects an alias named twice and an alias name with a slash", async () => {
    const { file } = makeTarball(rnd());
    expect((await failures({ file, aliases: [{ name: "a" }, { name: "a" }] })).map((x) => x.property)).toEqual(["aliases"]);
    expect((await failures({ file, aliases: [{ name: "a/b" }] })).map((x) => x.property)).toEqual(["aliases.0.name"]);
  });

  test("a valid remote source passes check (copying needs a network, which these machines do not have)", async () => {
    const r = await host.check(u, {}, with_("image", { source: { server: "https://images.example", alias: "debian/12" }, aliases: [{ name: "deb" }] }));
    expect(r.failures).toEqual([]);
    expect(r.inputs).toMatchObject({ source: { server: "https://images.example", protocol: "simplestreams", alias: "debian/12" }, project: "default" });
    expect(r.inputs.fileSha256).toBeUndefined();
  });

  test("tolerates an unknown file during preview, and plans a replacement", async () => {
    const r = await host.check(u, {}, with_("image", { file: UNKNOWN }), { preview: true });
    expect(r.failures).toEqual([]);
    expect(r.inputs.fileSha256).toBe(UNKNOWN);
    const olds = { file: "/old.tar.gz", fileSha256: "a".repeat(64), aliases: [], project: "default", public: false, timeoutSec: 600, fingerprint: "a".repeat(64) };
    const d = await host.diff(`default/${"a".repeat(64)}`, u, with_("image", olds), r.inputs, { preview: true });
    expect(d).toMatchObject({ changes: "some", replaces: expect.arrayContaining(["fileSha256"]), deleteBeforeReplace: true });
  });
});
