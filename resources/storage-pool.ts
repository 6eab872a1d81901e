/**
 * StoragePool, program side: the `StoragePool` resource class and its inputs. The provider host runs the
 * `storage-pool` kind (provider/kinds/storage-pool.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/rules/connection";
import type { PoolDriver } from "../provider/rules/storage-pool";
import { providerShim } from "./shim";

export type { StoragePoolInputs, StoragePoolOutputs } from "../provider/kinds/storage-pool";
export type { PoolDriver } from "../provider/rules/storage-pool";

type Scalar = string | number | boolean;

/** Inputs of {@link StoragePool}. */
export interface StoragePoolArgs {
  /**
   * Pool name: 1–63 letters, digits, `.`, `_` or `-`, starting with a letter, digit or `_`. Default: the resource
   * name. `default` adopts the server's `default` pool (never deleted). Changing it forces replacement (LXD cannot
   * rename pools).
   */
  name?: pulumi.Input<string>;
  /** Storage driver (LXD `driver`): `dir`, `btrfs`, `lvm`, `zfs`, `ceph` or `cephfs`. Changing it forces replacement. */
  driver: pulumi.Input<PoolDriver>;
  /**
   * Pool config, LXD keys verbatim; the keys of the driver only (LXD 5.0's storage driver reference), plus
   * `user.*`: e.g. `source` (a directory, device, loop file, dataset or OSD pool; never a system directory or
   * LXD's own data), `size` (loop-backed pools: an LXD size such as `"10GiB"`), `btrfs.mount_options`,
   * `lvm.vg_name`, `zfs.pool_name`, `ceph.osd.pool_name`, `cephfs.path`, and volume defaults `volume.size`,
   * `volume.snapshots.schedule`, `volume.block.filesystem` (lvm, ceph), …. Numbers and booleans are stored as
   * strings. A different `source` forces replacement; other keys change in place where LXD allows it. Keys LXD
   * fills in (`source`, `size`, …) while left out here, and `volatile.*`, are LXD's. `source.wipe` (btrfs, lvm,
   * zfs) and `lvm.metadata_size` need API extensions `storage_pool_source_wipe` / `storage_lvm_metadatasize` (Incus
   * 6.0 has them, LXD 5.0 not: refused before any write there). Default `{}`.
   */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** Description. Default "". In place. */
  description?: pulumi.Input<string>;
  /**
   * On an LXD cluster: the member-specific keys, per member (`{node1: {source: "/srv/a"}, node2: {source: "/srv/b"}}`).
   * Only the driver's member-specific keys (`MEMBER_SPECIFIC_POOL_KEYS`): `source` (every local driver), `size`
   * (btrfs, lvm, zfs), `lvm.vg_name`, `lvm.thinpool_name`, `zfs.pool_name`; ceph and cephfs have none. On a cluster
   * these keys are refused in `config`; on a server that is not clustered `members` is refused. A member left out (or
   * a key left out) gets what LXD fills in, which is LXD's and never drift. A member's different `source` forces
   * replacement; `size` changes in place only where LXD resizes loop pools (`storage_pool_loop_resize`). Default: none.
   */
  members?: pulumi.Input<Record<string, pulumi.Input<Record<string, pulumi.Input<Scalar>>>>>;
  /**
   * If a pool of this name exists, take it over instead of failing: its driver (and `source`, when given) must
   * match; its former config and description are put back on destroy, and it is never deleted. Always so for
   * `default`. Default false.
   */
  adopt?: pulumi.Input<boolean>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. Another server forces replacement. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * An LXD storage pool (server-wide). `default` and pools taken over with `adopt` are never deleted; a pool in use
 * is never deleted (the delete fails first, naming what uses it).
 */
export class StoragePool extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly driver: pulumi.Output<PoolDriver>;
  /** The config the program owns, as LXD has it. */
  declare readonly config: pulumi.Output<Record<string, string>>;
  declare readonly description: pulumi.Output<string>;
  /** The pool's whole config as LXD has it (the keys LXD filled in, e.g. `source`, and `volatile.*`, included). */
  declare readonly effectiveConfig: pulumi.Output<Record<string, string>>;
  /** LXD's status of the pool: `Created`, `Pending`, `Errored`, `Unavailable`. */
  declare readonly status: pulumi.Output<string>;
  /** What uses the pool (profiles, instances, volumes, images), as LXD's API paths. */
  declare readonly usedBy: pulumi.Output<string[]>;
  /** Cluster members the pool is on (`["none"]` on a server that is not clustered). */
  declare readonly locations: pulumi.Output<string[]>;
  /** The member-specific keys the program declares, as each member has them (absent without `members`). */
  declare readonly members: pulumi.Output<Record<string, Record<string, string>> | undefined>;
  /** On a cluster: every member's member-specific keys as LXD has them (the `source` and `size` LXD filled in included). */
  declare readonly memberConfig: pulumi.Output<Record<string, Record<string, string>> | undefined>;

  constructor(name: string, args: StoragePoolArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("storage-pool"),
      name,
      {
        ...args, name: args.name ?? name,
        effectiveConfig: undefined, status: undefined, usedBy: undefined, locations: undefined, adoptedFrom: undefined, memberConfig: undefined,
      },
      opts,
      "lxd",
      "StoragePool",
    );
  }
}
