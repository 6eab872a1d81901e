/**
 * NetworkAcl, program side: the `NetworkAcl` resource class and its inputs. The provider host runs the
 * `network-acl` kind (provider/kinds/network-acl.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/rules/connection";
import type { AclRule } from "../provider/rules/acl-rules";
import { providerShim } from "./shim";

export type { NetworkAclInputs, NetworkAclOutputs } from "../provider/kinds/network-acl";
export type { AclRule } from "../provider/rules/acl-rules";

type Scalar = string | number | boolean;

/** One rule as a program writes it: LXD's rule fields in camelCase (`sourcePort` is LXD's `source_port`, …). */
export interface AclRuleArgs {
  /** `allow`, `reject` or `drop`. */
  action: pulumi.Input<AclRule["action"]>;
  /** Comma-separated CIDRs, addresses, ranges `a-b`, ACL names, `@internal` or `@external`. Default: any. */
  source?: pulumi.Input<string>;
  /** As `source`. */
  destination?: pulumi.Input<string>;
  /** `tcp`, `udp`, `icmp4` or `icmp6`. Default: any. */
  protocol?: pulumi.Input<NonNullable<AclRule["protocol"]>>;
  /** Ports or ranges, comma-separated (tcp/udp only). LXD `source_port`. */
  sourcePort?: pulumi.Input<string | number>;
  /** Ports or ranges, comma-separated (tcp/udp only). LXD `destination_port`. */
  destinationPort?: pulumi.Input<string | number>;
  /** ICMP type 0–255 (icmp4/icmp6 only). LXD `icmp_type`. */
  icmpType?: pulumi.Input<string | number>;
  /** ICMP code 0–255 (icmp4/icmp6 only). LXD `icmp_code`. */
  icmpCode?: pulumi.Input<string | number>;
  description?: pulumi.Input<string>;
  /** `enabled` (default), `disabled` or `logged`. */
  state?: pulumi.Input<AclRule["state"]>;
}

/** Inputs of {@link NetworkAcl}. */
export interface NetworkAclArgs {
  /** ACL name: 1–63 letters, digits or dashes, starting with a letter, not ending with a dash. Default: the resource name. Changing it forces replacement. */
  name?: pulumi.Input<string>;
  /** LXD project. Default `default`; another project needs `features.networks=true`. Changing it forces replacement. */
  project?: pulumi.Input<string>;
  /** Description. Default "". */
  description?: pulumi.Input<string>;
  /** Rules on traffic towards the NIC. Default none. Updated in place. */
  ingress?: pulumi.Input<pulumi.Input<AclRuleArgs>[]>;
  /** Rules on traffic leaving the NIC. Default none. Updated in place. */
  egress?: pulumi.Input<pulumi.Input<AclRuleArgs>[]>;
  /** ACL config (`user.*` keys). Default {}. */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * An LXD network ACL (API extension `network_acl`). Attach it with `security.acls` on a bridge or OVN NIC, or on a
 * network. A delete while anything uses it fails before anything changes, naming the users.
 */
export class NetworkAcl extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  declare readonly description: pulumi.Output<string>;
  declare readonly ingress: pulumi.Output<AclRule[]>;
  declare readonly egress: pulumi.Output<AclRule[]>;
  declare readonly config: pulumi.Output<Record<string, string>>;
  /** What uses the ACL (LXD's `used_by`). */
  declare readonly usedBy: pulumi.Output<string[]>;

  constructor(name: string, args: NetworkAclArgs, opts?: pulumi.CustomResourceOptions) {
    super(providerShim("network-acl"), name, { ...args, name: args.name ?? name, usedBy: undefined }, opts, "lxd", "NetworkAcl");
  }
}
