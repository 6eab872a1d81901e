/**
 * `getStoragePool`: an LXD storage pool (GET /1.0/storage-pools/{name}), read in the program (to manage a
 * pool, use the `StoragePool` resource). Pools are server-wide (no project).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { ConfigMap } from "../provider/lxd/types";
import { POOL_NAME } from "../provider/rules/names";
import { checkName, lookUp, outputForm, type LookupArgs, type OutputArgs } from "./lookup";

/** Arguments of {@link getStoragePool}. */
export interface GetStoragePoolArgs extends LookupArgs {
  /** Storage pool name. */
  name: string;
  /** Resolve to `undefined` instead of rejecting when the pool does not exist. Default false. */
  allowMissing?: boolean;
}

/** An LXD storage pool, in this package's terms. */
export interface GetStoragePoolResult {
  name: string;
  description: string;
  /** Storage driver: `dir`, `btrfs`, `lvm`, `zfs`, `ceph`, `cephfs`, … */
  driver: string;
  /** `Created`, `Pending`, `Errored`, `Unavailable`, … */
  status: string;
  /** LXD `config`, verbatim (`source`, `size`, `zfs.pool_name`, …). */
  config: ConfigMap;
  /** LXD's `used_by`: API paths of the instances, profiles, images and volumes using it, across projects. */
  usedBy: string[];
  /** Cluster members it is defined on (LXD's `locations`); empty on a standalone server. */
  locations: string[];
}

/**
 * Reads a storage pool.
 * @returns it; `undefined` with `allowMissing` when it does not exist.
 * @throws Error `storage pool "<name>" was not found` (an LxdError with status 404), or
 *   `Failed to look up storage pool "<name>": <reason>`; `name must be …, but … was provided`.
 */
export async function getStoragePool(args: GetStoragePoolArgs & { allowMissing: true }): Promise<GetStoragePoolResult | undefined>;
export async function getStoragePool(args: GetStoragePoolArgs): Promise<GetStoragePoolResult>;
export async function getStoragePool(args: GetStoragePoolArgs): Promise<GetStoragePoolResult | undefined> {
  checkName("name", args?.name, POOL_NAME);
  return lookUp("storage pool", args.name, undefined, args, async (lxd) => {
    const { getStoragePool: get } = await import("../provider/lxd");
    const p = (await get(lxd, args.name)).value;
    return {
      name: p.name,
      description: p.description ?? "",
      driver: p.driver ?? "",
      status: p.status ?? "",
      config: p.config ?? {},
      usedBy: p.used_by ?? [],
      locations: (p.locations ?? []).filter((l) => l !== "none"),
    } satisfies GetStoragePoolResult;
  });
}

/** {@link getStoragePool} for `Input` arguments: an `Output` that resolves once they are known. */
export function getStoragePoolOutput(args: OutputArgs<GetStoragePoolArgs> & { allowMissing: pulumi.Input<true> }): pulumi.Output<GetStoragePoolResult | undefined>;
export function getStoragePoolOutput(args: OutputArgs<GetStoragePoolArgs>): pulumi.Output<GetStoragePoolResult>;
export function getStoragePoolOutput(args: OutputArgs<GetStoragePoolArgs>): pulumi.Output<GetStoragePoolResult | undefined> {
  return outputForm<GetStoragePoolArgs, GetStoragePoolResult | undefined>(getStoragePool)(args);
}
