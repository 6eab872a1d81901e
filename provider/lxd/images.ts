/** /1.0/images: import a unified tarball, copy from a remote server, get by fingerprint or alias, aliases, delete. */
import * as fs from "node:fs";
import { RawBody, type LxdClient, type RequestOptions } from "./client";
import { isNotFound } from "./errors";
import type { Image, ImageAlias, ImagesPostRemote } from "./types";

type Scope = Pick<RequestOptions, "project">;

/** GET an image by (full) fingerprint. @throws LxdError 404. */
export async function getImage(lxd: LxdClient, fingerprint: string, scope: Scope = {}): Promise<{ value: Image; etag: string }> {
  const r = await lxd.get<Image>(`/1.0/images/${encodeURIComponent(fingerprint)}`, scope);
  return { value: r.metadata, etag: r.etag };
}

/** GET an alias. @throws LxdError 404. */
export async function getImageAlias(lxd: LxdClient, name: string, scope: Scope = {}): Promise<ImageAlias> {
  return (await lxd.get<ImageAlias>(`/1.0/images/aliases/${encodeURIComponent(name)}`, scope)).metadata;
}

/**
 * Finds an image in a project by alias, full fingerprint or unique fingerprint prefix; undefined if absent.
 * Looked up in `scope.project` (the instance's project, where `features.images=true` gives it its own).
 */
export async function findImage(lxd: LxdClient, ref: { alias?: string; fingerprint?: string }, scope: Scope = {}): Promise<Image | undefined> {
  try {
    if (ref.alias) {
      const a = await getImageAlias(lxd, ref.alias, scope);
      return (await getImage(lxd, a.target, scope)).value;
    }
    if (ref.fingerprint) return (await getImage(lxd, ref.fingerprint, scope)).value;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  return undefined;
}

/**
 * The full fingerprint of an image named by alias, else by full or unique-prefix fingerprint, in a project;
 * undefined if neither exists. One request for an alias (its target), one for a fingerprint.
 */
export async function resolveImageFingerprint(lxd: LxdClient, ref: string, scope: Scope = {}): Promise<string | undefined> {
  try {
    return (await getImageAlias(lxd, ref, scope)).target;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!/^[0-9a-f]{1,64}$/i.test(ref)) return undefined;
  return (await findImage(lxd, { fingerprint: ref.toLowerCase() }, scope))?.fingerprint;
}

/**
 * Imports a unified image tarball (metadata.yaml + rootfs/) from a local file and waits.
 * @returns the image fingerprint LXD computed.
 */
export async function importImageFile(lxd: LxdClient, file: string, opts: Scope & { public?: boolean; timeoutSec?: number } = {}): Promise<string> {
  const size = fs.statSync(file).size;
  const r = await lxd.request<{ fingerprint: string }>("POST", "/1.0/images", {
    project: opts.project,
    timeoutSec: opts.timeoutSec,
    headers: { [await lxd.serverHeader("public")]: opts.public ? "1" : "0" },
    body: new RawBody(fs.createReadStream(file), size),
  });
  return r.metadata.fingerprint;
}

/** Copies an image from another server (simplestreams or LXD) and waits. @returns its fingerprint. */
export async function copyImage(lxd: LxdClient, post: ImagesPostRemote, opts: Scope & { timeoutSec?: number } = {}): Promise<string> {
  const r = await lxd.request<{ fingerprint: string }>("POST", "/1.0/images", { ...opts, body: post });
  return r.metadata.fingerprint;
}

/** POST /1.0/images/aliases. @throws LxdError 409 when the alias exists. */
export async function createImageAlias(lxd: LxdClient, alias: { name: string; target: string; description?: string }, scope: Scope = {}): Promise<void> {
  await lxd.request("POST", "/1.0/images/aliases", { ...scope, body: { description: "", ...alias } });
}

/** DELETE an alias. */
export async function deleteImageAlias(lxd: LxdClient, name: string, scope: Scope = {}): Promise<void> {
  await lxd.request("DELETE", `/1.0/images/aliases/${encodeURIComponent(name)}`, scope);
}

/** DELETE an image and wait. */
export async function deleteImage(lxd: LxdClient, fingerprint: string, scope: Scope = {}): Promise<void> {
  await lxd.request("DELETE", `/1.0/images/${encodeURIComponent(fingerprint)}`, scope);
}

/** Body of POST /1.0/images that publishes an instance or one of its snapshots as an image. */
export interface ImagesPostPublish {
  /** `instance` (stopped) or `snapshot` (`name` = `<instance>/<snapshot>`). */
  source: { type: "instance" | "snapshot"; name: string };
  /** Image properties (`os`, `release`, `description`, …); LXD stores them as given. */
  properties?: Record<string, string>;
  public?: boolean;
  /** `gzip`, `bzip2`, `xz`, `zstd`, `lzma`, `none`, … (extension `image_compression_algorithm`); default: the server's `images.compression_algorithm`. */
  compression_algorithm?: string;
}

/**
 * Publishes an instance (it must be stopped: LXD refuses a running one with `Cannot export a running instance
 * as an image`) or a snapshot as an image in the instance's project, and waits. Every publish makes a new
 * tarball, so the fingerprint differs each time. @returns its fingerprint.
 */
export async function publishImage(lxd: LxdClient, post: ImagesPostPublish, opts: Scope & { timeoutSec?: number } = {}): Promise<string> {
  const r = await lxd.request<{ fingerprint: string }>("POST", "/1.0/images", { ...opts, body: post });
  return r.metadata.fingerprint;
}
