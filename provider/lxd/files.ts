/**
 * /1.0/instances/{name}/files: files and directories inside an instance, running or stopped (LXD reaches a
 * stopped instance's filesystem without starting it; ids are mapped with the instance's id map, measured on
 * LXD 5.0.2). API extensions: `file_delete` (DELETE), `file_symlinks`.
 *
 * - GET ?path=… : a file's bytes (headers `X-LXD-uid`, `X-LXD-gid`, `X-LXD-mode` in octal, `X-LXD-type`), or a
 *   directory's listing as a JSON envelope (`X-LXD-type: directory`). 404 when nothing is at the path.
 * - POST ?path=… : writes a file (`X-LXD-type: file`, `X-LXD-write: overwrite`) or makes a directory
 *   (`X-LXD-type: directory`; an existing directory is left as it is). The parent must exist (404 otherwise).
 *   The body must be `application/octet-stream`: LXD 5.0.2 reads a form-encoded body as a form and writes 0 bytes.
 * - HEAD ?path=… : the headers of GET without the content (API extension `instance_file_head`).
 * - DELETE ?path=… : removes a file or an empty directory.
 */
import type { LxdClient, RequestOptions } from "./client";

type Scope = Pick<RequestOptions, "project" | "target">;

/** Owner and permissions of a file or directory, as LXD's headers give them (ids inside the instance). */
export interface FileOwnership {
  uid: number;
  gid: number;
  /** Permission bits, e.g. 0o644. */
  mode: number;
}

/** What GET of a path returns. */
export interface InstanceFileEntry extends FileOwnership {
  type: "file" | "directory" | "symlink" | string;
  /** The bytes of a file (a symlink's target for a symlink); empty for a directory. */
  content: Buffer;
}

const filesPath = (instance: string) => `/1.0/instances/${encodeURIComponent(instance)}/files`;

/**
 * GET a path inside the instance.
 * @throws LxdError 404 when nothing is at the path or the instance does not exist.
 */
export async function getInstanceFile(lxd: LxdClient, instance: string, path: string, scope: Scope = {}): Promise<InstanceFileEntry> {
  const r = await lxd.raw("GET", filesPath(instance), { ...scope, query: { path } });
  const p = await prefix(lxd);
  const type = r.headers[`${p}type`] ?? "file";
  return {
    type,
    uid: Number(r.headers[`${p}uid`] ?? 0),
    gid: Number(r.headers[`${p}gid`] ?? 0),
    mode: parseInt(r.headers[`${p}mode`] ?? "0", 8),
    content: type === "directory" ? Buffer.alloc(0) : r.body,
  };
}

/**
 * Type, owner and mode of a path without its content: HEAD (API extension `instance_file_head`), else GET.
 * @throws LxdError 404 when nothing is at the path or the instance does not exist.
 */
export async function statInstanceFile(lxd: LxdClient, instance: string, path: string, scope: Scope = {}): Promise<Omit<InstanceFileEntry, "content">> {
  if (!(await lxd.hasExtension("instance_file_head"))) {
    const { content: _content, ...rest } = await getInstanceFile(lxd, instance, path, scope);
    return rest;
  }
  const r = await lxd.raw("HEAD", filesPath(instance), { ...scope, query: { path } });
  const p = await prefix(lxd);
  return {
    type: r.headers[`${p}type`] ?? "file",
    uid: Number(r.headers[`${p}uid`] ?? 0),
    gid: Number(r.headers[`${p}gid`] ?? 0),
    mode: parseInt(r.headers[`${p}mode`] ?? "0", 8),
  };
}

/**
 * Writes (or overwrites) a file with `data`, owner and mode. LXD (5.0.2) applies owner and mode only when it
 * creates the file: an existing file keeps its own (see the InstanceFile kind, which deletes it first).
 * @throws LxdError 404 when its directory does not exist.
 */
export async function putInstanceFile(lxd: LxdClient, instance: string, path: string, data: Buffer, own: FileOwnership, scope: Scope = {}): Promise<void> {
  await lxd.raw("POST", filesPath(instance), {
    ...scope, query: { path }, body: data,
    headers: await withPrefix(lxd, { type: "file", write: "overwrite", ...ownership(own) }),
  });
}

/** Makes one directory (its parent must exist). An existing directory is left unchanged by LXD. */
export async function makeInstanceDirectory(lxd: LxdClient, instance: string, path: string, own: FileOwnership, scope: Scope = {}): Promise<void> {
  await lxd.raw("POST", filesPath(instance), { ...scope, query: { path }, headers: await withPrefix(lxd, { type: "directory", ...ownership(own) }) });
}

/** Removes a file or an empty directory. @throws LxdError 404 when nothing is there. */
export async function deleteInstanceFile(lxd: LxdClient, instance: string, path: string, scope: Scope = {}): Promise<void> {
  await lxd.raw("DELETE", filesPath(instance), { ...scope, query: { path } });
}

function ownership(own: FileOwnership): Record<string, string> {
  return { uid: String(own.uid), gid: String(own.gid), mode: `0${own.mode.toString(8)}` };
}

/** The server's header prefix: `x-lxd-` on LXD, `x-incus-` on Incus (LxdClient.serverHeader). */
async function prefix(lxd: LxdClient): Promise<string> {
  return (await lxd.serverHeader("")).toLowerCase();
}

async function withPrefix(lxd: LxdClient, h: Record<string, string>): Promise<Record<string, string>> {
  const p = await prefix(lxd);
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [`${p}${k}`, v]));
}
