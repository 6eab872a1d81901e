/**
 * `getImage`: an image in a project's image store, by alias or fingerprint (GET /1.0/images/aliases/{alias}, then
 * GET /1.0/images/{fingerprint}?project=), read in the program. A project with `features.images=true` has its own
 * images; any other project sees the `default` project's.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { ConfigMap } from "../provider/lxd/types";
import { lookUp, outputForm, projectOf, type NamedLookupArgs, type OutputArgs } from "./lookup";

/** Arguments of {@link getImage}: exactly one of `alias` and `fingerprint`. */
export interface GetImageArgs extends NamedLookupArgs {
  /** Image alias (LXD: `/1.0/images/aliases/{name}`). */
  alias?: string;
  /** Image fingerprint: the full SHA-256 (64 hex digits) or a unique prefix of it. */
  fingerprint?: string;
}

/** An LXD image, in this package's terms (the same names as the `Image` resource's outputs where they overlap). */
export interface GetImageResult {
  /** Full fingerprint (SHA-256). */
  fingerprint: string;
  /** The project it was looked up in. */
  project: string;
  /** Its aliases in that project. */
  aliases: { name: string; description: string }[];
  /** Architecture, as LXD names it (`x86_64`, `aarch64`, …). */
  architecture: string;
  /** `container` or `virtual-machine`. */
  type: string;
  /** Size in bytes. */
  size: number;
  /** Whether untrusted clients may download it. */
  public: boolean;
  /** Whether LXD refreshes it from its source. */
  autoUpdate: boolean;
  /** True when LXD copied it on its own (to create an instance) and may expire it. */
  cached: boolean;
  /** Image properties (`os`, `release`, `description`, …), verbatim. */
  properties: ConfigMap;
  /** File name it was imported under, "" if none. */
  filename: string;
  /** LXD's `created_at`, `uploaded_at` and `last_used_at` (RFC 3339; Go's zero time when never). */
  createdAt: string;
  uploadedAt: string;
  lastUsedAt: string;
}

/** Wire fields beyond the client's `Image` type. */
interface ImageWire {
  fingerprint: string; filename?: string; size?: number; architecture?: string; public?: boolean; auto_update?: boolean;
  type?: string; properties?: ConfigMap; aliases?: { name: string; description?: string }[]; cached?: boolean;
  created_at?: string; uploaded_at?: string; last_used_at?: string; project?: string;
}

/**
 * Reads an image by alias or fingerprint.
 * @returns it; `undefined` with `allowMissing` when it (or its project) does not exist.
 * @throws Error `image "<alias or fingerprint>" was not found in project "<p>"` (an LxdError with status 404), or
 *   `Failed to look up image "<…>" in project "<p>": <reason>` (an ambiguous fingerprint prefix among them);
 *   `alias or fingerprint must be given (exactly one), but … was provided`.
 */
export async function getImage(args: GetImageArgs & { allowMissing: true }): Promise<GetImageResult | undefined>;
export async function getImage(args: GetImageArgs): Promise<GetImageResult>;
export async function getImage(args: GetImageArgs): Promise<GetImageResult | undefined> {
  const given = [args?.alias, args?.fingerprint].filter((v) => v !== undefined && v !== "");
  if (given.length !== 1) {
    throw new Error(`alias or fingerprint must be given (exactly one), but ${given.length ? "both" : "neither"} was provided`);
  }
  if (args.alias !== undefined && args.alias !== "" && !/^[^/\s]+$/.test(args.alias)) {
    throw new Error(`alias must be non-empty, without spaces or slashes, but ${JSON.stringify(args.alias)} was provided`);
  }
  if (args.fingerprint && !/^[0-9a-fA-F]{1,64}$/.test(args.fingerprint)) {
    throw new Error(`fingerprint must be 1–64 hex digits (a SHA-256 or a unique prefix of it), but ${JSON.stringify(args.fingerprint)} was provided`);
  }
  const project = projectOf(args.project);
  const ref = (args.alias || args.fingerprint!.toLowerCase()) as string;
  return lookUp("image", ref, project, args, async (lxd) => {
    const { getImage: get, getImageAlias } = await import("../provider/lxd");
    const fingerprint = args.alias ? (await getImageAlias(lxd, args.alias, { project })).target : ref;
    const img = (await get(lxd, fingerprint, { project })).value as unknown as ImageWire;
    return {
      fingerprint: img.fingerprint,
      project: img.project || project,
      aliases: (img.aliases ?? []).map((a) => ({ name: a.name, description: a.description ?? "" })).sort((a, b) => a.name.localeCompare(b.name)),
      architecture: img.architecture ?? "",
      type: img.type || "container",
      size: img.size ?? 0,
      public: img.public ?? false,
      autoUpdate: img.auto_update ?? false,
      cached: img.cached ?? false,
      properties: img.properties ?? {},
      filename: img.filename ?? "",
      createdAt: img.created_at ?? "",
      uploadedAt: img.uploaded_at ?? "",
      lastUsedAt: img.last_used_at ?? "",
    } satisfies GetImageResult;
  });
}

/** {@link getImage} for `Input` arguments: an `Output` that resolves once they are known. */
export function getImageOutput(args: OutputArgs<GetImageArgs> & { allowMissing: pulumi.Input<true> }): pulumi.Output<GetImageResult | undefined>;
export function getImageOutput(args: OutputArgs<GetImageArgs>): pulumi.Output<GetImageResult>;
export function getImageOutput(args: OutputArgs<GetImageArgs>): pulumi.Output<GetImageResult | undefined> {
  return outputForm<GetImageArgs, GetImageResult | undefined>(getImage)(args);
}
