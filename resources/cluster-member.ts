/**
 * ClusterMember, program side: settings of an existing cluster member. The provider host runs the
 * `cluster-member` kind (provider/kinds/cluster-member.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/rules/connection";
import { providerShim } from "./shim";

export type { ClusterMemberInputs, ClusterMemberOutputs } from "../provider/kinds/cluster-member";

type Scalar = string | number | boolean;

/** Inputs of {@link ClusterMember}. Only the fields given are managed; the others are left as LXD has them. */
export interface ClusterMemberArgs {
  /** The member's `server_name` (it must exist: members join outside Pulumi). Default: the resource name. Forces replacement. */
  name?: pulumi.Input<string>;
  /** Member description. */
  description?: pulumi.Input<string>;
  /** The member's whole list of cluster groups (each must exist; at least one). API extension `clustering_groups`. */
  groups?: pulumi.Input<pulumi.Input<string>[]>;
  /** Failure domain (LXD `failure_domain`; API extension `clustering_failure_domains`). */
  failureDomain?: pulumi.Input<string>;
  /**
   * Member config keys to set (LXD keys verbatim, e.g. `scheduler.instance`: `all`, `manual`, `group`); only these
   * keys are managed, others are kept. A key given "" is removed. Numbers and booleans are stored as strings.
   */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /**
   * On delete, put back the values the member had when it was adopted, for the fields and keys managed here.
   * Default true; false leaves the member as it is. A member is never removed from the cluster.
   */
  restoreOnDelete?: pulumi.Input<boolean>;
  /** How to reach LXD (any member of the cluster). */
  connection?: pulumi.Input<ConnectionArgs>;
}

/** Settings of an LXD cluster member, written with a whole-member PUT. Adopted, never created or deleted. */
export class ClusterMember extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly description: pulumi.Output<string | undefined>;
  declare readonly groups: pulumi.Output<string[] | undefined>;
  declare readonly failureDomain: pulumi.Output<string | undefined>;
  declare readonly config: pulumi.Output<Record<string, string> | undefined>;
  /** LXD's status: `Online`, `Offline`, `Evacuated`, … */
  declare readonly status: pulumi.Output<string>;
  declare readonly roles: pulumi.Output<string[]>;
  declare readonly url: pulumi.Output<string>;

  constructor(name: string, args: ClusterMemberArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("cluster-member"),
      name,
      { ...args, name: args.name ?? name, adoptedFrom: undefined, status: undefined, roles: undefined, url: undefined },
      opts,
      "lxd",
      "ClusterMember",
    );
  }
}
