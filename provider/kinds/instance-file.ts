/**
 * InstanceFile, host side: one file inside an instance, written through LXD's file API. Works on a stopped
 * instance without starting it (case C10: LXD reaches a stopped instance's filesystem itself and maps the ids with
 * the instance's id map; measured on LXD 5.0.2).
 *
 * LXD endpoints: GET /1.0/instances/{name} (the instance exists), GET|POST|DELETE /1.0/instances/{name}/files?path=…
 * (headers X-LXD-uid, X-LXD-gid, X-LXD-mode, X-LXD-type, X-LXD-write: overwrite). API extension `file_delete`.
 *
 * Changing `instance`, `project` or `path` (or the server) forces replacement (the old file is deleted, then the
 * new one written). Any other change rewrites the file; LXD applies owner and mode only to a file it creates, so a
 * file whose owner or mode must change is deleted and written again. The state never holds the content: only a salted SHA-256
 * of it (`contentHash`, with `hashSalt`), compared on refresh with a hash of the file read back, so that a file
 * changed or deleted outside the stack shows as drift.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { z } from "zod";
import {
  deleteInstanceFile, getInstance, getInstanceFile, isNotFound, makeInstanceDirectory, putInstanceFile, statInstanceFile,
  type LxdClient,
} from "../lxd";
import { INSTANCE_NAME, nameSchema, normalizeProject, projectSchema } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { modeString, normalizeInstancePath, parseMode } from "../rules/paths";
import { containsUnknown, UNKNOWN } from "../rules/values";
import { checkWith } from "../kit/check";
import type { Kind } from "../kit/contract";

/** Owner and mode of the directories `createParents` makes. */
export interface ParentDirectories {
  uid: number;
  gid: number;
  /** Four octal digits, e.g. "0755". */
  mode: string;
}

/** Inputs after check. */
export interface InstanceFileInputs {
  instance: string;
  project: string;
  /** Absolute, normalised path inside the instance. */
  path: string;
  /** The file's text (exactly one of `content` and `source`). */
  content?: string;
  /** A local file whose bytes are written (read at check and at create/update). */
  source?: string;
  uid: number;
  gid: number;
  /** Four octal digits, e.g. "0644". */
  mode: string;
  /** False, or the owner and mode of missing parent directories to make. */
  createParents: false | ParentDirectories;
  /** `sha256:<hex>` of `hashSalt` followed by the bytes to write: computed at check, never given. */
  contentHash: string;
  /** 16 random bytes (hex) salting {@link contentHash}, kept across updates. */
  hashSalt: string;
  connection?: ConnectionArgs;
}

/** State: the inputs without `content`, and what LXD holds. */
export interface InstanceFileOutputs extends InstanceFileInputs {
  /** Size of the file in LXD, in bytes. */
  size: number;
}

function schema() {
  const id = z.number().int().min(0).max(4294967294);
  const mode = z.union([z.string(), z.number()]);
  return z
    .object({
      instance: nameSchema(INSTANCE_NAME),
      project: projectSchema(),
      path: z.string(),
      content: z.string().optional(),
      source: z.string().min(1, "must be a path of a local file").optional(),
      uid: id.default(0),
      gid: id.default(0),
      mode: mode.default("0644"),
      createParents: z.union([z.boolean(), z.object({ uid: id.optional(), gid: id.optional(), mode: mode.optional() }).strict()]).default(false),
      connection: connectionSchema().optional(),
    })
    .strict();
}

/** `sha256:<hex>` of the salt's bytes followed by `data`. */
export function saltedHash(saltHex: string, data: Buffer): string {
  return `sha256:${createHash("sha256").update(Buffer.from(saltHex, "hex")).update(data).digest("hex")}`;
}

/** The bytes to write: `content` as UTF-8, or the `source` file (relative paths from the program's directory). */
function bytesOf(i: { content?: string; source?: string }): Buffer {
  if (i.content !== undefined) return Buffer.from(i.content, "utf8");
  return fs.readFileSync(nodePath.resolve(i.source!));
}

const DEFAULT_PARENT_MODE = "0755";

/** Makes the missing directories above `path`, from the top; existing ones are left as they are. */
async function makeParents(lxd: LxdClient, project: string, i: InstanceFileInputs): Promise<void> {
  if (!i.createParents) return;
  const segs = i.path.split("/").filter(Boolean).slice(0, -1);
  let dir = "";
  for (const seg of segs) {
    dir += `/${seg}`;
    try {
      const e = await statInstanceFile(lxd, i.instance, dir, { project });
      if (e.type !== "directory") throw new Error(`"${dir}" exists in the instance but is a ${e.type}, not a directory, so "${i.path}" cannot be written below it`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const p = i.createParents;
      await makeInstanceDirectory(lxd, i.instance, dir, { uid: p.uid, gid: p.gid, mode: parseInt(p.mode, 8) }, { project });
    }
  }
}

/** Writes the file (the instance must exist; it is never started). */
async function write(lxd: LxdClient, project: string, i: InstanceFileInputs): Promise<Buffer> {
  try {
    await getInstance(lxd, i.instance, { project });
  } catch (err) {
    if (isNotFound(err)) throw new Error(`instance "${i.instance}" does not exist in project "${project}"`);
    throw err;
  }
  const data = bytesOf(i);
  await makeParents(lxd, project, i);
  // LXD applies owner and mode only to a file it creates: a file there with another owner or mode is removed first.
  const mode = parseInt(i.mode, 8);
  try {
    const live = await statInstanceFile(lxd, i.instance, i.path, { project });
    if (live.type === "directory") throw new Error(`"${i.path}" is a directory in instance "${i.instance}", not a file`);
    if (live.uid !== i.uid || live.gid !== i.gid || live.mode !== mode || live.type !== "file") await deleteInstanceFile(lxd, i.instance, i.path, { project });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await putInstanceFile(lxd, i.instance, i.path, data, { uid: i.uid, gid: i.gid, mode }, { project });
  } catch (err) {
    if (isNotFound(err)) {
      const dir = nodePath.posix.dirname(i.path);
      throw new Error(`directory "${dir}" does not exist in instance "${i.instance}" (set createParents: true to make it)`);
    }
    // LXD may have made the file before it failed to give it its owner (a uid or gid outside the instance's id
    // map): remove what it left, so that nothing untracked stays behind.
    await deleteInstanceFile(lxd, i.instance, i.path, { project }).catch(() => undefined);
    if (/chown .*invalid argument/i.test(String((err as Error).message))) {
      throw new Error(`LXD could not give "${i.path}" the owner uid ${i.uid}, gid ${i.gid}: the ids must be inside the instance's id map (nothing was left at the path)`, { cause: err });
    }
    throw err;
  }
  return data;
}

/** The state from what LXD holds at the path, or undefined when no file is there. */
async function readBack(lxd: LxdClient, project: string, i: InstanceFileInputs): Promise<InstanceFileOutputs | undefined> {
  const e = await getInstanceFile(lxd, i.instance, i.path, { project });
  if (e.type !== "file") return undefined;
  const { content: _content, ...rest } = i;
  return {
    ...rest,
    uid: e.uid,
    gid: e.gid,
    mode: modeString(e.mode),
    contentHash: saltedHash(i.hashSalt, e.content),
    size: e.content.length,
  } satisfies InstanceFileOutputs;
}

export const instanceFileKind: Kind<InstanceFileInputs, InstanceFileOutputs> = {
  noun: "file",
  outputKeys: ["size"],
  diffKeys: ["instance", "project", "path", "uid", "gid", "mode", "contentHash", "createParents", "source"],
  replaceKeys: ["instance", "project", "path"],

  idOf: (p) => `${normalizeProject(p.project)}/${p.instance}${p.path}`,
  subject: (verb, p) => `${verb} file "${p.path}" in instance "${p.instance}"`,

  async check(news, { olds }) {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    const unknown = (...keys: string[]) => keys.some((k) => unknownKeys.includes(k));
    let path = value.path;
    if (!unknown("path")) {
      const r = normalizeInstancePath(value.path, "path", { file: true });
      if (r.error) failures.push({ property: "path", reason: r.error });
      else path = r.path!;
    }
    const modeOf = (raw: string | number, field: string): string => {
      if (containsUnknown(raw)) return UNKNOWN;
      const r = parseMode(raw, field);
      if (r.error) failures.push({ property: field, reason: r.error });
      return r.mode === undefined ? "" : modeString(r.mode);
    };
    const mode = modeOf(value.mode, "mode");
    let createParents: InstanceFileInputs["createParents"] = false;
    if (unknown("createParents")) createParents = UNKNOWN as never;
    else if (value.createParents) {
      const p = value.createParents === true ? {} : value.createParents;
      createParents = { uid: p.uid ?? 0, gid: p.gid ?? 0, mode: modeOf(p.mode ?? DEFAULT_PARENT_MODE, "createParents.mode") };
    }
    const hasContent = value.content !== undefined || unknown("content");
    const hasSource = value.source !== undefined || unknown("source");
    if (hasContent === hasSource) {
      failures.push({ property: hasContent ? "source" : "content", reason: `exactly one of content and source must be given, but ${hasContent ? "both were" : "neither was"} provided` });
    }
    const salt = typeof olds.hashSalt === "string" && /^[0-9a-f]{32}$/.test(olds.hashSalt) ? olds.hashSalt : randomBytes(16).toString("hex");
    let contentHash = UNKNOWN;
    if (!failures.length && !unknown("content", "source")) {
      try {
        contentHash = saltedHash(salt, bytesOf(value));
      } catch (err) {
        failures.push({ property: "source", reason: `source must be a readable local file, but ${JSON.stringify(value.source)} was provided (${(err as Error).message})` });
      }
    }
    if (failures.length) return { failures };
    return {
      inputs: {
        ...value,
        project: unknown("project") ? value.project! : normalizeProject(value.project),
        path, mode, createParents, contentHash, hashSalt: salt,
      },
    };
  },

  async create({ lxd, project }, inputs, accepted) {
    const data = await write(lxd, project, inputs);
    accepted({ contentHash: saltedHash(inputs.hashSalt, data), size: data.length, content: undefined });
    const outs = await readBack(lxd, project, inputs);
    if (!outs) throw new Error(`the file was written but LXD does not show a file at "${inputs.path}" afterwards`);
    return outs;
  },

  async read({ lxd, project }, props) {
    return readBack(lxd, project, props);
  },

  async update({ lxd, project }, _olds, news) {
    await write(lxd, project, news);
    const outs = await readBack(lxd, project, news);
    if (!outs) throw new Error(`the file was written but LXD does not show a file at "${news.path}" afterwards`);
    return outs;
  },

  async delete({ lxd, project }, props) {
    await deleteInstanceFile(lxd, props.instance, props.path, { project });
  },
};
