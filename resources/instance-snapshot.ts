/**
 * InstanceSnapshot, program side: the `InstanceSnapshot` resource class and its inputs. The provider host runs the
 * `instance-snapshot` kind (provider/kinds/instance-snapshot.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/rules/connection";
import { providerShim } from "./shim";

export type { InstanceSnapshotInputs, InstanceSnapshotOutputs } from "../provider/kinds/instance-snapshot";

/** Inputs of {@link InstanceSnapshot}. */
export interface InstanceSnapshotArgs {
  /** Name of the instance to snapshot (it must exist; pass `instance.name` so the snapshot is made after it). Changing this forces replacement. */
  instance: pulumi.Input<string>;
  /**
   * Snapshot name: 1–255 characters without spaces or slashes, not `.` or `..`. Default: the resource name.
   * Renamed in place (POST /1.0/instances/{instance}/snapshots/{name}).
   */
  name?: pulumi.Input<string>;
  /** LXD project of the instance. Default `default`. Changing this forces replacement. */
  project?: pulumi.Input<string>;
  /**
   * When LXD deletes the snapshot by itself: an RFC3339 timestamp (`2030-01-31T12:00:00Z`, any offset; stored and
   * compared in UTC), in the future when set or changed. Default: never. Updated in place (LXD `expires_at`,
   * extensions `snapshot_expiry`, `snapshot_expiry_creation`). Once LXD has deleted an expired snapshot, a
   * `pulumi refresh` drops it from the state and the next `pulumi up` takes it again.
   */
  expiresAt?: pulumi.Input<string>;
  /**
   * Also save the instance's running state (memory, processes) with CRIU. Default false. Needs a running instance
   * (a stopped one is refused at preview) and CRIU on the LXD server (LXD refuses at create: `Unable to create a
   * stateful snapshot. CRIU isn't installed`). Changing this forces replacement.
   */
  stateful?: pulumi.Input<boolean>;
  /**
   * Restore the instance from this snapshot: whenever this value changes to a new non-empty string, the update
   * restores the instance (PUT /1.0/instances/{instance} `{"restore": name}`) and records it in
   * `lastRestoredTrigger`. The value given when the snapshot is created is recorded only (nothing to restore
   * yet); removing it or setting "" restores nothing. Nothing else (no other change of this resource) ever restores.
   * A restore also brings back the instance's config and devices as they were in the snapshot.
   */
  restoreTrigger?: pulumi.Input<string>;
  /**
   * Allow a restore of a running instance. LXD stops it, restores it and starts it again (measured on LXD 5.0.2);
   * without this the restore of a running instance is refused (at preview when the instance runs then), naming this
   * input. A stopped instance stays stopped after a restore. Default false.
   */
  restartForRestore?: pulumi.Input<boolean>;
  /** If a snapshot of this name exists, take it over instead of failing. It is managed fully: destroy deletes it. Default false. */
  adopt?: pulumi.Input<boolean>;
  /** Wait for each LXD operation (create, rename, expiry, restore, delete), in seconds (-1: no limit). Default 600. */
  timeoutSec?: pulumi.Input<number>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * A snapshot of an LXD instance. Restoring is an explicit action (`restoreTrigger`), never a side effect of
 * another change.
 */
export class InstanceSnapshot extends pulumi.dynamic.Resource {
  declare readonly instance: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  /** The expiry as LXD reports it (RFC3339, UTC), or undefined when it never expires. */
  declare readonly expiresAt: pulumi.Output<string | undefined>;
  /** Whether LXD reports the snapshot as stateful. */
  declare readonly stateful: pulumi.Output<boolean>;
  /** When LXD took the snapshot (RFC3339, UTC). */
  declare readonly createdAt: pulumi.Output<string>;
  /** Disk usage in bytes, when the storage driver can tell (undefined on `dir` pools). */
  declare readonly size: pulumi.Output<number | undefined>;
  /** The `restoreTrigger` of the last restore this resource did (undefined before the first). */
  declare readonly lastRestoredTrigger: pulumi.Output<string | undefined>;
  /** When that restore was done (RFC3339, UTC). */
  declare readonly lastRestoredAt: pulumi.Output<string | undefined>;
  declare readonly adopted: pulumi.Output<boolean>;

  constructor(name: string, args: InstanceSnapshotArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("instance-snapshot"),
      name,
      {
        ...args, name: args.name ?? name, expiresAt: args.expiresAt, stateful: args.stateful,
        createdAt: undefined, size: undefined, lastRestoredTrigger: undefined, lastRestoredAt: undefined, adopted: undefined,
      },
      opts,
      "lxd",
      "InstanceSnapshot",
    );
  }
}
