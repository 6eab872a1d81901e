/**
 * StorageVolume, program side: the `StorageVolume` resource class and its inputs. The provider host runs the
 * `storage-volume` kind (provider/kinds/storage-volume.ts), whose header says what forces replacement, how size,
 * shrinking, deletion of a volume in use and adoption are handled, and what `size` does per driver.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Finding, WeakeningClass } from "../provider/policy";
import type { ConnectionArgs } from "../provider/rules/connection";
import { providerShim } from "./shim";
import { warnWeakened } from "./instance";

export type { StorageVolumeInputs, StorageVolumeOutputs, VolumeSource } from "../provider/kinds/storage-volume";

type Scalar = string | number | boolean;

/** Inputs of {@link StorageVolume}. */
export interface StorageVolumeArgs {
  /** The storage pool holding the volume (it must exist). Changing this forces replacement. */
  pool: pulumi.Input<string>;
  /**
   * Volume name (1–63 letters, digits, '.', '_' or '-'). Default: the resource name. Renamed in place (LXD
   * `POST …/volumes/custom/{name}`); LXD refuses while a running instance uses the volume.
   */
  name?: pulumi.Input<string>;
  /** LXD project. Default `default`. Changing this forces replacement. */
  project?: pulumi.Input<string>;
  /** LXD `content_type`: `filesystem` (mounted at a path) or `block` (a raw disk, for VMs). Default `filesystem`. Forces replacement. */
  contentType?: pulumi.Input<"filesystem" | "block">;
  /**
   * Size quota, an LXD size string (`"20MiB"`, `"10GiB"`; units B, kB…EB, KiB…EiB), LXD config `size`. Grows in
   * place; a smaller value is refused at preview (data loss) unless `allowShrink`. Default: the pool's
   * `volume.size`, or no quota. Enforced by btrfs/lvm/zfs/ceph; a `dir` pool enforces it only when its backing
   * filesystem has project quotas (see docs/storage-volume.md). Giving `config.size` too, with another value, is refused.
   */
  size?: pulumi.Input<string>;
  /**
   * Volume config (LXD keys verbatim, e.g. `snapshots.schedule` — a cron expression or `@daily`-style word —,
   * `snapshots.expiry` — `"2w"` —, `snapshots.pattern`, `block.filesystem`, `security.shifted`); numbers and
   * booleans become strings. `security.shifted` / `security.unmapped` are refused unless `securityOptOuts`
   * names `idmap`. Keys added outside the stack are drift and removed by the next update.
   */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** Description. Default "". */
  description?: pulumi.Input<string>;
  /**
   * Create the volume as a copy of another custom volume on the same server and project (any pool): `{pool,
   * name, volumeOnly?}`; `volumeOnly: true` leaves the source's snapshots behind (default: they are copied too).
   * Changing this forces replacement.
   */
  source?: pulumi.Input<{ pool: pulumi.Input<string>; name: pulumi.Input<string>; volumeOnly?: pulumi.Input<boolean> }>;
  /**
   * Cluster member to create the volume on (LXD `?target=<member>`, API extension `clustering`), for a local pool
   * (`dir`, `btrfs`, `lvm`, `zfs`) whose volumes live on one member. Default: the member the connection talks to.
   * A `@<group>` is refused (LXD 5.0 places no volume by group), and so is `target` on a server that is not
   * clustered. Changing this forces replacement: the volume is deleted and an empty one created on the new
   * member (its data is lost; LXD refuses the delete while an instance uses it). Naming the member it is already
   * on, or removing `target`, is no change. An instance that attaches the volume must run on the same member.
   */
  target?: pulumi.Input<string>;
  /** Let a smaller `size` through to LXD (which may refuse on some drivers, with its message). Default false. */
  allowShrink?: pulumi.Input<boolean>;
  /** Classes of confinement-weakening settings to accept (`idmap` for `security.shifted`/`security.unmapped`). Default []. */
  securityOptOuts?: pulumi.Input<pulumi.Input<WeakeningClass>[]>;
  /**
   * If a volume of this name exists, take it over instead of failing: its config is brought to the declared
   * one, and on destroy its previous config and description are put back and the volume (its data) is kept.
   * Default false.
   */
  adopt?: pulumi.Input<boolean>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * A custom storage volume. Attach it to an instance with an `InstanceDevice` of type `disk` with properties
 * `{pool, source: <volume name>, path}`. Destroying a volume that an instance or profile still uses fails before
 * anything changes, naming the users.
 */
export class StorageVolume extends pulumi.dynamic.Resource {
  declare readonly pool: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  declare readonly contentType: pulumi.Output<"filesystem" | "block">;
  declare readonly size: pulumi.Output<string | undefined>;
  declare readonly config: pulumi.Output<Record<string, string>>;
  declare readonly description: pulumi.Output<string>;
  /** What uses the volume (LXD `used_by`): `/1.0/instances/<name>`, `/1.0/profiles/<name>`. */
  declare readonly usedBy: pulumi.Output<string[]>;
  /** The config LXD holds, `size` and pool defaults included. */
  declare readonly effectiveConfig: pulumi.Output<Record<string, string>>;
  /** LXD's volume type (`custom`). */
  declare readonly type: pulumi.Output<string>;
  /** Cluster member holding the volume (LXD `location`; `none` on a single server). */
  declare readonly location: pulumi.Output<string>;
  /** Accepted findings of the hardening policy. */
  declare readonly weakened: pulumi.Output<Finding[]>;

  constructor(name: string, args: StorageVolumeArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("storage-volume"),
      name,
      {
        ...args, name: args.name ?? name,
        usedBy: undefined, effectiveConfig: undefined, lxdDefaults: undefined, type: undefined, location: undefined, weakened: undefined, adoptedFrom: undefined,
      },
      opts,
      "lxd",
      "StorageVolume",
    );
    warnWeakened(this, args.config, {}, args.securityOptOuts);
  }
}
