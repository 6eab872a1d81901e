/**
 * Network, program side: the `Network` resource class and its inputs. The provider host runs the `network` kind
 * (provider/kinds/network.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/rules/connection";
import type { NetworkType } from "../provider/rules/network-keys";
import { providerShim } from "./shim";

export type { NetworkInputs, NetworkOutputs } from "../provider/kinds/network";
export { NETWORK_KEYS, NETWORK_MEMBER_KEYS, NETWORK_AUTO_KEYS, NETWORK_TYPES, type NetworkType } from "../provider/rules/network-keys";

type Scalar = string | number | boolean;

/** Inputs of {@link Network}. */
export interface NetworkArgs {
  /** Network name: 1–15 letters, digits, `.`, `_` or `-` (a bridge is a host interface of that name). Default: the resource name. Changing it forces replacement. */
  name?: pulumi.Input<string>;
  /**
   * LXD project. Default `default`. Another project must have `features.networks=true` (else its networks are the
   * `default` project's and the network is refused). Changing it forces replacement.
   */
  project?: pulumi.Input<string>;
  /** `bridge` (default), `macvlan`, `sriov`, `physical` or `ovn`. Changing it forces replacement. */
  type?: pulumi.Input<NetworkType>;
  /**
   * Network config, LXD keys verbatim, checked against the keys LXD documents for `type` (a bridge: `ipv4.address`,
   * `ipv4.nat`, `ipv6.address`, `dns.mode`, `bridge.mtu`, `bridge.driver`, `bridge.external_interfaces`, …; macvlan:
   * `parent`, `mtu`, `vlan`, `gvrp`, …); `user.*` keys are free. Numbers and booleans are stored as strings.
   * LXD picks `ipv4.address`/`ipv6.address` (and NAT) for a bridge created without them: write `"none"` for a bridge
   * without addresses. Keys LXD filled itself are kept and never show as drift. Updated in place.
   */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** Description. Default "". Updated in place. */
  description?: pulumi.Input<string>;
  /**
   * On an LXD cluster: the member-specific keys, per member (`{node1: {"bridge.external_interfaces": "eth1"}}`). Only
   * the type's member-specific keys (`NETWORK_MEMBER_KEYS`): a bridge's `bridge.external_interfaces`,
   * `bgp.ipv4.nexthop`, `bgp.ipv6.nexthop`; `parent` for macvlan, sriov and physical. On a cluster these keys are
   * refused in `config`; on a server that is not clustered `members` is refused. Updated in place, member by member
   * (a key dropped here is unset on its member). Default: none.
   */
  members?: pulumi.Input<Record<string, pulumi.Input<Record<string, pulumi.Input<Scalar>>>>>;
  /** If a managed network of this name exists, take it over (its former content is put back on destroy) instead of failing. Default false. */
  adopt?: pulumi.Input<boolean>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/** An LXD managed network. A delete while instances or profiles use it fails before anything changes, naming them. */
export class Network extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  declare readonly type: pulumi.Output<NetworkType>;
  declare readonly config: pulumi.Output<Record<string, string>>;
  declare readonly description: pulumi.Output<string>;
  /** Always true for a network this resource holds. */
  declare readonly managed: pulumi.Output<boolean>;
  /** LXD's status: `Created`, `Pending`, `Errored`, `Unavailable`. */
  declare readonly status: pulumi.Output<string>;
  /** What uses the network (instance and profile URLs, as LXD's `used_by`). */
  declare readonly usedBy: pulumi.Output<string[]>;
  /** The whole config LXD holds, keys it picked itself included (`volatile.*` left out). */
  declare readonly effectiveConfig: pulumi.Output<Record<string, string>>;
  /** The member-specific keys the program declares, as each member has them (absent without `members`). */
  declare readonly members: pulumi.Output<Record<string, Record<string, string>> | undefined>;
  /** On a cluster: every member's member-specific keys as LXD has them. */
  declare readonly memberConfig: pulumi.Output<Record<string, Record<string, string>> | undefined>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("network"),
      name,
      { ...args, name: args.name ?? name, managed: undefined, status: undefined, usedBy: undefined, effectiveConfig: undefined, adoptedFrom: undefined, memberConfig: undefined },
      opts,
      "lxd",
      "Network",
    );
  }
}
