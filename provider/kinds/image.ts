/**
 * Image, host side: an LXD image, imported from a unified image tarball on the machine running Pulumi, copied
 * from another image server, or published from an instance or one of its snapshots; with the aliases that name it.
 *
 * LXD endpoints: POST /1.0/images (upload, pull from a server, or publish an instance/snapshot),
 * GET|PUT|DELETE /1.0/images/{fingerprint}, POST /1.0/images/aliases, GET|PUT|DELETE /1.0/images/aliases/{name};
 * for a publish also GET /1.0/instances/{i}/state and, with `snapshotForPublish`, POST|DELETE
 * /1.0/instances/{i}/snapshots (API extension `image_compression_algorithm` for `compressionAlgorithm`).
 *
 * Changing the file's content (`fileSha256`, computed in check), `source`, `sourceInstance`, `sourceSnapshot`,
 * `compressionAlgorithm`, `project` or the LXD server forces replacement (delete before create: aliases are
 * unique). `aliases`, alias descriptions, `public` and (for a published image) `properties` are updated in
 * place; a new `file` path with the same content changes nothing in LXD.
 *
 * Publishing a running instance is refused (LXD: "Cannot export a running instance as an image": its filesystem
 * would be copied while it changes), at preview when the instance runs then, unless `snapshotForPublish: true`:
 * then a temporary snapshot is taken, published and deleted. Every publish makes a new tarball (a new
 * fingerprint), so a published image is never adopted.
 *
 * An image whose fingerprint already exists in the project is adopted (`adopted: true`): the stack adds its
 * aliases to it and on destroy removes only those, never the image. An alias that exists and points at another
 * image is an error, never moved.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { z } from "zod";
import {
  copyImage, createImageAlias, createInstanceSnapshot, deleteImage, deleteInstanceSnapshot, getInstanceState, isRunningStatus, publishImage, deleteImageAlias, getImage, getImageAlias, importImageFile, isConflict, isNotFound,
  type Image as LxdImage, type LxdClient,
} from "../lxd";
import { INSTANCE_NAME, nameSchema, normalizeProject, projectSchema, SNAPSHOT_NAME } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { containsUnknown, sameJson, stripUndefined, UNKNOWN } from "../rules/values";
import { checkWith } from "../kit/check";
import { amend } from "../kit/errors";
import type { Kind } from "../kit/contract";

/** One alias of the image. */
export interface ImageAliasSpec {
  /** Alias name, unique in the project. */
  name: string;
  /** Alias description. Default "". */
  description?: string;
}

/** Where to copy the image from (instead of `file`). */
export interface ImageSource {
  /** Image server URL, e.g. `https://images.linuxcontainers.org` (simplestreams) or `https://host:8443` (LXD). */
  server: string;
  /** `simplestreams` (default) or `lxd`. */
  protocol?: "simplestreams" | "lxd";
  /** Alias of the image on that server (exactly one of `alias` and `fingerprint`). */
  alias?: string;
  /** Fingerprint (full or unique prefix, hex) of the image on that server. */
  fingerprint?: string;
  /** PEM certificate of an `lxd`-protocol server. */
  certificate?: string;
}

/** Inputs after check. */
export interface ImageInputs {
  file?: string;
  /** SHA-256 of `file` (hex), computed in check: the fingerprint LXD gives a unified tarball. */
  fileSha256?: string;
  source?: ImageSource;
  /** Instance to publish (in `project`). */
  sourceInstance?: string;
  /** Snapshot of `sourceInstance` to publish. */
  sourceSnapshot?: string;
  /** Publish a running `sourceInstance` through a temporary snapshot. */
  snapshotForPublish?: boolean;
  /** Properties of a published image. */
  properties?: Record<string, string>;
  compressionAlgorithm?: string;
  aliases: Required<ImageAliasSpec>[];
  project: string;
  public: boolean;
  timeoutSec: number;
  connection?: ConnectionArgs;
}

/** State. */
export interface ImageOutputs extends ImageInputs {
  /** Full fingerprint (SHA-256) of the image. */
  fingerprint: string;
  /** Size in bytes. */
  size: number;
  /** Architecture, as LXD names it (`x86_64`, `aarch64`, …). */
  architecture: string;
  /** True when the image existed before this stack: destroy removes only `addedAliases`, never the image. */
  adopted: boolean;
  /** Aliases this resource created (the ones it removes on destroy of an adopted image). */
  addedAliases: string[];
  /** `public` of an adopted image before it was adopted (put back on destroy). */
  adoptedPublic?: boolean;
}

function schema() {
  const alias = z
    .object({ name: z.string().regex(/^[^/\s]+$/, "must be non-empty, without spaces or slashes"), description: z.string().default("") })
    .strict();
  return z
    .object({
      file: z.string().min(1, "must be a path to a unified image tarball").optional(),
      fileSha256: z.string().optional(),
      source: z
        .object({
          server: z.string().regex(/^https:\/\/[^\s/]+(\/\S*)?$/, "must be an https:// URL"),
          protocol: z.enum(["simplestreams", "lxd"]).default("simplestreams"),
          alias: z.string().min(1).optional(),
          fingerprint: z.string().regex(/^[0-9a-f]{8,64}$/, "must be 8–64 lowercase hex digits").optional(),
          certificate: z.string().min(1).optional(),
        })
        .strict()
        .refine((s) => !!s.alias !== !!s.fingerprint, "must have exactly one of alias and fingerprint")
        .optional(),
      aliases: z
        .array(alias)
        .default([])
        .refine((a) => new Set(a.map((x) => x.name)).size === a.length, "must not name an alias twice"),
      sourceInstance: nameSchema(INSTANCE_NAME).optional(),
      sourceSnapshot: nameSchema(SNAPSHOT_NAME).optional(),
      snapshotForPublish: z.boolean().optional(),
      properties: z.record(z.string(), z.string()).optional(),
      compressionAlgorithm: z.string().regex(/^[a-z0-9][a-z0-9 .-]*$/, "must be a compression algorithm LXD knows (gzip, bzip2, xz, zstd, lzma, none, …)").optional(),
      project: projectSchema(),
      public: z.boolean().default(false),
      timeoutSec: z.number().int().min(-1).default(600),
      connection: connectionSchema().optional(),
    })
    .strict()
    .superRefine((v, ctx) => {
      const given = [v.file && "file", v.source && "source", v.sourceInstance && "sourceInstance"].filter(Boolean);
      if (given.length !== 1) {
        const one = "exactly one of file, source and sourceInstance must be given";
        if (given.length) ctx.addIssue({ code: "custom", path: [given[given.length - 1] as string], message: `conflicts: ${one}, but ${given.join(" and ")} were provided` });
        else ctx.addIssue({ code: "custom", path: ["file"], message: `(or source, or sourceInstance) is missing: ${one}, but none was provided` });
      }
      if (v.sourceSnapshot !== undefined && v.sourceInstance === undefined) {
        ctx.addIssue({ code: "custom", path: ["sourceSnapshot"], message: "names a snapshot of sourceInstance: give sourceInstance too" });
      }
      for (const k of ["snapshotForPublish", "properties", "compressionAlgorithm"] as const) {
        if (v[k] !== undefined && v.sourceInstance === undefined) {
          ctx.addIssue({ code: "custom", path: [k], message: `applies to an image published from an instance (sourceInstance), but ${JSON.stringify(v[k])} was provided for an image from ${v.file ? "a file" : "a server"}` });
        }
      }
    });
}

/** SHA-256 of a file, streamed. */
function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    fs.createReadStream(file)
      .on("error", reject)
      .on("data", (d) => h.update(d))
      .on("end", () => resolve(h.digest("hex")));
  });
}

const byName = (a: Required<ImageAliasSpec>[]) => [...a].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
const short = (fp: string) => fp.slice(0, 12);

/** PUT /1.0/images/{fingerprint} with `public` (and `properties`, when given) changed, everything else as read (If-Match). */
async function setPublic(lxd: LxdClient, fingerprint: string, isPublic: boolean, project: string, properties?: Record<string, string>): Promise<void> {
  const { value, etag } = await getImage(lxd, fingerprint, { project });
  if (value.public === isPublic && (properties === undefined || sameJson(value.properties ?? {}, properties))) return;
  const v = value as LxdImage & { expires_at?: string; profiles?: string[] };
  const put = stripUndefined({ auto_update: v.auto_update, properties: properties ?? v.properties ?? {}, public: isPublic, expires_at: v.expires_at, profiles: v.profiles });
  await lxd.request("PUT", `/1.0/images/${encodeURIComponent(fingerprint)}`, { project, etag, body: put });
}

/** PUT /1.0/images/aliases/{name} (target and description). */
async function setAliasDescription(lxd: LxdClient, name: string, target: string, description: string, project: string): Promise<void> {
  await lxd.request("PUT", `/1.0/images/aliases/${encodeURIComponent(name)}`, { project, body: { target, description } });
}

/**
 * Where each wanted alias stands: free, already on this image, or taken by another image (an error naming it).
 */
async function aliasPlan(lxd: LxdClient, wanted: Required<ImageAliasSpec>[], fingerprint: string | undefined, project: string): Promise<{ free: string[]; ours: string[] }> {
  const free: string[] = [];
  const ours: string[] = [];
  const taken: string[] = [];
  for (const a of wanted) {
    try {
      const cur = await getImageAlias(lxd, a.name, { project });
      if (fingerprint && cur.target === fingerprint) ours.push(a.name);
      else taken.push(`"${a.name}" (points at image ${short(cur.target)})`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      free.push(a.name);
    }
  }
  if (taken.length) {
    throw new Error(
      `alias${taken.length > 1 ? "es" : ""} ${taken.join(", ")} already exist${taken.length > 1 ? "" : "s"} in project "${project}" for another image; ` +
        "aliases are never moved: delete or rename the alias, or choose another name",
    );
  }
  return { free, ours };
}

function outputsFrom(img: LxdImage, inputs: ImageInputs, extra: { adopted: boolean; addedAliases: string[]; adoptedPublic?: boolean }): ImageOutputs {
  const mine = new Set(inputs.aliases.map((a) => a.name));
  // An adopted image may carry aliases that are not ours; an image this stack made has only ours, others are drift.
  const aliases = (img.aliases ?? []).filter((a) => !extra.adopted || mine.has(a.name)).map((a) => ({ name: a.name, description: a.description ?? "" }));
  return {
    ...inputs,
    aliases: byName(aliases),
    public: img.public,
    // Properties the stack declared are read back (drift shows); otherwise they are LXD's (from the instance's
    // `image.*` keys or the tarball's metadata.yaml) and not managed.
    properties: inputs.properties !== undefined ? (img.properties ?? {}) : undefined,
    fingerprint: img.fingerprint,
    size: img.size ?? 0,
    architecture: img.architecture ?? "",
    ...extra,
  } satisfies ImageOutputs;
}

/** What the image is called in messages before it has a fingerprint: its file, or its server and alias/fingerprint. */
const labelOf = (i: ImageInputs) =>
  i.file ?? (i.sourceInstance !== undefined ? `${i.sourceInstance}${i.sourceSnapshot ? `/${i.sourceSnapshot}` : ""}` : `${i.source?.server} ${i.source?.alias ?? i.source?.fingerprint}`);

/** Why a running instance is not published as it is. */
const runningReason = (instance: string) =>
  `instance "${instance}" is running: publishing it would copy a filesystem that changes while it is read (LXD refuses too: ` +
  `"Cannot export a running instance as an image"). Stop it, publish one of its snapshots (sourceSnapshot), or set ` +
  "snapshotForPublish: true to publish through a temporary snapshot";

/**
 * POST /1.0/images from an instance or a snapshot. A running instance without `sourceSnapshot` is refused, or
 * with `snapshotForPublish` published through a temporary snapshot (`publish-<random>`), deleted afterwards.
 * @returns the new image's fingerprint.
 */
async function publish(lxd: LxdClient, inputs: ImageInputs, project: string): Promise<string> {
  const instance = inputs.sourceInstance!;
  const post = (type: "instance" | "snapshot", name: string) => publishImage(lxd, stripUndefined({
    source: { type, name }, properties: inputs.properties, public: inputs.public, compression_algorithm: inputs.compressionAlgorithm,
  }), { project, timeoutSec: inputs.timeoutSec });
  if (inputs.sourceSnapshot) return post("snapshot", `${instance}/${inputs.sourceSnapshot}`);
  if (!isRunningStatus((await getInstanceState(lxd, instance, { project })).status)) return post("instance", instance);
  if (!inputs.snapshotForPublish) throw new Error(runningReason(instance));
  const temp = `publish-${randomBytes(6).toString("hex")}`;
  await createInstanceSnapshot(lxd, instance, { name: temp }, { project, timeoutSec: inputs.timeoutSec });
  try {
    return await post("snapshot", `${instance}/${temp}`);
  } finally {
    await deleteInstanceSnapshot(lxd, instance, temp, { project, timeoutSec: inputs.timeoutSec }).catch((err) => {
      if (!isNotFound(err)) throw amend(err, ` (deleting the temporary snapshot "${instance}/${temp}" taken for the publish)`);
    });
  }
}

export const imageKind: Kind<ImageInputs, ImageOutputs> = {
  noun: "image",
  outputKeys: ["fingerprint", "size", "architecture", "adopted", "addedAliases", "adoptedPublic"],
  diffKeys: ["file", "fileSha256", "source", "sourceInstance", "sourceSnapshot", "compressionAlgorithm", "properties", "aliases", "public", "timeoutSec", "project"],
  replaceKeys: ["fileSha256", "source", "sourceInstance", "sourceSnapshot", "compressionAlgorithm", "project"],
  idOf: (p) => `${normalizeProject(p.project)}/${p.fingerprint}`,
  // Created: named by its file or source; afterwards by its fingerprint.
  subject: (verb, p) => `${verb} image "${verb === "create" ? labelOf(p) : short((p as ImageOutputs).fingerprint ?? "")}"`,

  async check(news, { olds, open }) {
    const { value, failures } = checkWith(schema(), news);
    if (!value) return { failures };
    const inputs: ImageInputs = stripUndefined({ ...value, aliases: byName(value.aliases), project: normalizeProject(value.project), fileSha256: undefined });
    // A publish of a running instance is refused at preview when the instance runs then (a read; said again before the publish).
    const publishes = olds.sourceInstance !== value.sourceInstance || olds.sourceSnapshot !== value.sourceSnapshot;
    if (value.sourceInstance && !value.sourceSnapshot && !value.snapshotForPublish && publishes && !containsUnknown(value.sourceInstance) && !containsUnknown(news.connection)) {
      let running = false;
      try {
        running = isRunningStatus((await getInstanceState(open().lxd, value.sourceInstance, { project: inputs.project })).status);
      } catch {
        // Not there yet (created in the same run), or unreachable: said before the publish.
      }
      if (running) return { failures: [{ property: "sourceInstance", reason: `sourceInstance must name a stopped instance, but ${runningReason(value.sourceInstance)}` }] };
    }
    if (value.file !== undefined) {
      if (containsUnknown(value.file)) {
        inputs.fileSha256 = UNKNOWN;
      } else {
        try {
          inputs.fileSha256 = await sha256File(value.file);
        } catch (err) {
          const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `cannot be read (${(err as Error).message})`;
          return { failures: [{ property: "file", reason: `file "${value.file}" ${why} on the machine running Pulumi` }] };
        }
      }
    }
    return { inputs };
  },

  async create({ lxd, project }, inputs, accepted) {
    // Known fingerprint (file content, or a full fingerprint to copy): adopt the image if the project has it.
    const known = inputs.fileSha256 ?? (inputs.source?.fingerprint?.length === 64 ? inputs.source.fingerprint : undefined);
    let existing: LxdImage | undefined;
    if (known) {
      try {
        existing = (await getImage(lxd, known, { project })).value;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const plan = await aliasPlan(lxd, inputs.aliases, known, project);

    let fingerprint: string;
    const adopted = existing !== undefined;
    const adoptedPublic = existing?.public;
    if (existing) {
      fingerprint = existing.fingerprint;
    } else if (inputs.sourceInstance !== undefined) {
      fingerprint = await publish(lxd, inputs, project);
    } else if (inputs.file) {
      fingerprint = await importImageFile(lxd, inputs.file, { project, public: inputs.public, timeoutSec: inputs.timeoutSec });
    } else {
      const s = inputs.source!;
      fingerprint = await copyImage(lxd, {
        source: stripUndefined({ type: "image", mode: "pull", server: s.server, protocol: s.protocol ?? "simplestreams", alias: s.alias, fingerprint: s.fingerprint, certificate: s.certificate }),
        public: inputs.public,
      }, { project, timeoutSec: inputs.timeoutSec });
    }
    const added: string[] = [];
    const held = (): Partial<ImageOutputs> => ({ fingerprint, size: 0, architecture: "", adopted, addedAliases: [...added], adoptedPublic });
    // An image this stack imported is held from now on; an adopted one from the first alias this stack adds.
    if (!adopted) accepted(held());

    // Aliases (and `public` on an adopted image); undo on failure so nothing is left half made.
    try {
      for (const a of inputs.aliases) {
        if (plan.ours.includes(a.name)) {
          await setAliasDescription(lxd, a.name, fingerprint, a.description, project);
          continue;
        }
        try {
          await createImageAlias(lxd, { name: a.name, target: fingerprint, description: a.description }, { project });
          added.push(a.name);
          accepted(held());
        } catch (err) {
          if (!isConflict(err)) throw err;
          const cur = await getImageAlias(lxd, a.name, { project });
          if (cur.target !== fingerprint) throw new Error(`alias "${a.name}" was created meanwhile for image ${short(cur.target)}; aliases are never moved`);
          await setAliasDescription(lxd, a.name, fingerprint, a.description, project);
        }
      }
      if (adopted) await setPublic(lxd, fingerprint, inputs.public, project);
      // A published image has exactly the declared properties: Incus adds the instance's `image.*` keys (e.g. the
      // base image's `description`) to the ones the publish named; LXD 5.0 keeps only those named. A no-op on LXD.
      else if (inputs.sourceInstance !== undefined && inputs.properties !== undefined) await setPublic(lxd, fingerprint, inputs.public, project, inputs.properties);
    } catch (err) {
      try {
        for (const n of added) await deleteImageAlias(lxd, n, { project });
        if (!adopted) await deleteImage(lxd, fingerprint, { project });
      } catch (cleanupErr) {
        if (!isNotFound(cleanupErr)) {
          accepted(held()); // the kit keeps it in state as partially created
          throw amend(err, `; undoing the import also failed (${(cleanupErr as Error).message})`);
        }
      }
      accepted(false); // nothing is held any more
      throw amend(err, `. ${adopted ? "The aliases it added were removed." : "The image it imported was removed, so the next run starts clean."}`);
    }
    accepted(held());
    const img = (await getImage(lxd, fingerprint, { project })).value;
    return outputsFrom(img, inputs, { adopted, addedAliases: added, adoptedPublic });
  },

  async read({ lxd, project }, props) {
    const img = (await getImage(lxd, props.fingerprint, { project })).value;
    return outputsFrom(img, props, { adopted: props.adopted, addedAliases: props.addedAliases ?? [], adoptedPublic: props.adoptedPublic });
  },

  async update({ lxd, project }, olds, news) {
    const fingerprint = olds.fingerprint;
    const added = new Set(olds.addedAliases ?? []);
    const img = (await getImage(lxd, fingerprint, { project })).value;
    const have = new Map((img.aliases ?? []).map((a) => [a.name, a.description ?? ""]));
    const want = new Set(news.aliases.map((a) => a.name));
    // Removed from the program: delete the alias if this resource made it (or owns the whole image).
    for (const a of olds.aliases ?? []) {
      if (want.has(a.name) || !have.has(a.name)) continue;
      if (!olds.adopted || added.has(a.name)) await deleteImageAlias(lxd, a.name, { project });
      added.delete(a.name);
    }
    // Aliases on an image this stack made that nobody declared (drift): removed.
    if (!olds.adopted) for (const n of have.keys()) if (!want.has(n) && !(olds.aliases ?? []).some((a) => a.name === n)) await deleteImageAlias(lxd, n, { project });
    const plan = await aliasPlan(lxd, news.aliases.filter((a) => !have.has(a.name)), fingerprint, project);
    for (const a of news.aliases) {
      if (have.has(a.name)) {
        if (have.get(a.name) !== a.description) await setAliasDescription(lxd, a.name, fingerprint, a.description, project);
      } else if (plan.free.includes(a.name)) {
        await createImageAlias(lxd, { name: a.name, target: fingerprint, description: a.description }, { project });
        added.add(a.name);
      }
    }
    await setPublic(lxd, fingerprint, news.public, project, news.properties);
    const after = (await getImage(lxd, fingerprint, { project })).value;
    return outputsFrom(after, news, { adopted: olds.adopted, addedAliases: [...added].sort(), adoptedPublic: olds.adoptedPublic });
  },

  async delete({ lxd, project }, props) {
    if (props.adopted) {
      // Not ours: remove only the aliases this resource added, put `public` back, keep the image.
      for (const n of props.addedAliases ?? []) {
        try {
          const cur = await getImageAlias(lxd, n, { project });
          if (cur.target === props.fingerprint) await deleteImageAlias(lxd, n, { project });
        } catch (err) {
          if (!isNotFound(err)) throw err; // one alias already gone: the others still go
        }
      }
      if (props.adoptedPublic !== undefined) await setPublic(lxd, props.fingerprint, props.adoptedPublic, project);
      return;
    }
    await deleteImage(lxd, props.fingerprint, { project });
  },
};


