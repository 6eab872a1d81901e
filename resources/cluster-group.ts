/**
 * ClusterGroup, program side: the `ClusterGroup` resource class and its inputs. The provider host runs the
 * `cluster-group` kind (provider/kinds/cluster-group.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/rules/connection";
import { providerShim } from "./shim";

export type { ClusterGroupInputs, ClusterGroupOutputs } from "../provider/kinds/cluster-group";

/** Inputs of {@link ClusterGroup}. */
export interface ClusterGroupArgs {
  /** Cluster group name (1–63 letters, digits, '.' or '-'; not `default`). Default: the resource name. Forces replacement. */
  name?: pulumi.Input<string>;
  /** Description. Default "". */
  description?: pulumi.Input<string>;
  /**
   * Cluster member names that belong to the group. Each member keeps its other groups (the group is added to the
   * member's list; LXD's assign alone would replace it). Removing a member here removes only this group from it.
   * Default: none. API extension `clustering_groups`.
   */
  members?: pulumi.Input<pulumi.Input<string>[]>;
  /** How to reach LXD (any member of the cluster). Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * An LXD cluster group (not in a project). Instances target it as `target: "@<name>"`. Delete takes the group off
 * its members, then deletes it. Refused on a server that is not clustered.
 */
export class ClusterGroup extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly description: pulumi.Output<string>;
  /** Member names, sorted, as LXD lists them. */
  declare readonly members: pulumi.Output<string[]>;

  constructor(name: string, args: ClusterGroupArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("cluster-group"), name, { ...args, name: args.name ?? name }, opts, "lxd", "ClusterGroup");
  }
}
