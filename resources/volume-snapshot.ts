/**
 * VolumeSnapshot, program side: the `VolumeSnapshot` resource class and its inputs. The provider host runs the
 * `volume-snapshot` kind (provider/kinds/volume-snapshot.ts), whose header gives the exact restore semantics.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/rules/connection";
import { providerShim } from "./shim";

export type { VolumeSnapshotInputs, VolumeSnapshotOutputs } from "../provider/kinds/volume-snapshot";

/** Inputs of {@link VolumeSnapshot}. */
export interface VolumeSnapshotArgs {
  /** The pool of the volume. Changing this forces replacement. */
  pool: pulumi.Input<string>;
  /** The custom volume to snapshot. Changing this forces replacement (a new snapshot of the volume as it is then). */
  volume: pulumi.Input<string>;
  /** Snapshot name (1–63 letters, digits, '.', '_' or '-'). Default: the resource name. Renamed in place. */
  name?: pulumi.Input<string>;
  /** LXD project of the volume. Default `default`. Changing this forces replacement. */
  project?: pulumi.Input<string>;
  /** Description. Default "". Updated in place. */
  description?: pulumi.Input<string>;
  /**
   * When LXD deletes the snapshot by itself (LXD `expires_at`), RFC3339 (`"2030-01-31T12:00:00Z"`; offsets are
   * stored in UTC). Default "" = never. Updated in place.
   */
  expiresAt?: pulumi.Input<string>;
  /**
   * An opaque token: when an update changes it to a new non-empty value other than the one last restored for
   * (`restoredFor`; a value given at create counts), the volume is restored from this
   * snapshot (LXD `PUT …/volumes/custom/{volume}` `{restore}`), and only then — never at create, never when it is
   * removed, never as a side effect of another change. The content written since the snapshot is lost. LXD refuses
   * while a running instance uses the volume (stop it first). E.g. a date or a counter: `"2026-12-01"`, `"1"`.
   */
  restoreTrigger?: pulumi.Input<string>;
  /** If a snapshot of this name exists, take it over instead of failing; destroy then leaves it. Default false. */
  adopt?: pulumi.Input<boolean>;
  /**
   * Cluster member holding the volume (LXD `?target=<member>`, API extension `clustering`). Needed only when several
   * members hold a custom volume of that name on a local pool (LXD: "More than one cluster member has a volume
   * named …"); otherwise the snapshot finds its volume's member itself. A `@<group>`, or `target` on a server that
   * is not clustered, is refused at check. Changing it forces replacement; naming the member the volume is on, or
   * removing it, is no change.
   */
  target?: pulumi.Input<string>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/** A snapshot of a custom storage volume; `restoreTrigger` restores the volume from it as an explicit action. */
export class VolumeSnapshot extends pulumi.dynamic.Resource {
  declare readonly pool: pulumi.Output<string>;
  declare readonly volume: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  declare readonly description: pulumi.Output<string>;
  declare readonly expiresAt: pulumi.Output<string>;
  /** When LXD took it (RFC3339). */
  declare readonly createdAt: pulumi.Output<string>;
  /** Cluster member holding the volume and this snapshot (the volume's `location`, sent as `?target=`); "" on a single server. */
  declare readonly location: pulumi.Output<string>;
  /** The volume config the snapshot holds. */
  declare readonly config: pulumi.Output<Record<string, string>>;
  declare readonly contentType: pulumi.Output<string>;
  /** The `restoreTrigger` value whose restore last ran ("" = none yet). */
  declare readonly restoredFor: pulumi.Output<string>;

  constructor(name: string, args: VolumeSnapshotArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("volume-snapshot"),
      name,
      { ...args, name: args.name ?? name, createdAt: undefined, config: undefined, contentType: undefined, restoredFor: undefined, adopted: undefined, location: undefined },
      opts,
      "lxd",
      "VolumeSnapshot",
    );
  }
}
