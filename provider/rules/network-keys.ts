/**
 * The config keys of each LXD network type, from LXD's network documentation (bridge, macvlan, sriov, physical,
 * ovn), as the Network kind validates them before any call to LXD. `user.*` keys pass for every type. A key ending
 * in `.*` is a prefix (`tunnel.NAME.*`, `bgp.peers.NAME.*`). Which keys are specific to one cluster member is
 * listed in {@link NETWORK_MEMBER_KEYS}. Pure data: loaded by the provider host and programs alike.
 */

/** The network types LXD manages. */
export const NETWORK_TYPES = ["bridge", "macvlan", "sriov", "physical", "ovn"] as const;
export type NetworkType = (typeof NETWORK_TYPES)[number];

const BRIDGE_KEYS = [
  "bgp.peers.*", "bgp.ipv4.nexthop", "bgp.ipv6.nexthop",
  "bridge.driver", "bridge.external_interfaces", "bridge.hwaddr", "bridge.mode", "bridge.mtu",
  "dns.domain", "dns.mode", "dns.search", "dns.zone.forward", "dns.zone.reverse.ipv4", "dns.zone.reverse.ipv6",
  "fan.overlay_subnet", "fan.type", "fan.underlay_subnet",
  "ipv4.address", "ipv4.dhcp", "ipv4.dhcp.expiry", "ipv4.dhcp.gateway", "ipv4.dhcp.ranges", "ipv4.firewall", "ipv4.nat",
  "ipv4.nat.address", "ipv4.nat.order", "ipv4.ovn.ranges", "ipv4.routes", "ipv4.routing",
  "ipv6.address", "ipv6.dhcp", "ipv6.dhcp.expiry", "ipv6.dhcp.ranges", "ipv6.dhcp.stateful", "ipv6.firewall", "ipv6.nat",
  "ipv6.nat.address", "ipv6.nat.order", "ipv6.ovn.ranges", "ipv6.routes", "ipv6.routing",
  "maas.subnet.ipv4", "maas.subnet.ipv6", "raw.dnsmasq",
  "security.acls", "security.acls.default.egress.action", "security.acls.default.egress.logged",
  "security.acls.default.ingress.action", "security.acls.default.ingress.logged",
  "tunnel.*",
];

const MACVLAN_KEYS = ["gvrp", "maas.subnet.ipv4", "maas.subnet.ipv6", "mtu", "parent", "vlan"];

const SRIOV_KEYS = ["maas.subnet.ipv4", "maas.subnet.ipv6", "mtu", "parent", "vlan"];

const PHYSICAL_KEYS = [
  "bgp.peers.*", "dns.nameservers", "gvrp", "ipv4.gateway", "ipv4.ovn.ranges", "ipv4.routes", "ipv4.routes.anycast",
  "ipv6.gateway", "ipv6.ovn.ranges", "ipv6.routes", "ipv6.routes.anycast", "maas.subnet.ipv4", "maas.subnet.ipv6",
  "mtu", "ovn.ingress_mode", "parent", "vlan",
];

const OVN_KEYS = [
  "bridge.hwaddr", "bridge.mtu", "dns.domain", "dns.search", "dns.zone.forward", "dns.zone.reverse.ipv4", "dns.zone.reverse.ipv6",
  "ipv4.address", "ipv4.dhcp", "ipv4.nat", "ipv4.nat.address", "ipv6.address", "ipv6.dhcp", "ipv6.dhcp.stateful", "ipv6.nat",
  "ipv6.nat.address", "network", "security.acls", "security.acls.default.egress.action", "security.acls.default.egress.logged",
  "security.acls.default.ingress.action", "security.acls.default.ingress.logged",
];

/** Config keys per network type (patterns: an exact key or `prefix.*`). */
export const NETWORK_KEYS: Record<NetworkType, readonly string[]> = {
  bridge: BRIDGE_KEYS, macvlan: MACVLAN_KEYS, sriov: SRIOV_KEYS, physical: PHYSICAL_KEYS, ovn: OVN_KEYS,
};

/**
 * Keys whose value is per cluster member (LXD sets them with `--target <member>`; in a cluster the network is
 * created on each member with its own value first). For later cluster work.
 */
export const NETWORK_MEMBER_KEYS: readonly string[] = ["bridge.external_interfaces", "parent", "bgp.ipv4.nexthop", "bgp.ipv6.nexthop"];

/**
 * Keys LXD fills itself when a network is created without them (a bridge gets `ipv4.address` / `ipv6.address`
 * picked from a free subnet, and `ipv4.nat` / `ipv6.nat` true with it): server-owned unless the user writes them.
 */
export const NETWORK_AUTO_KEYS: readonly string[] = ["ipv4.address", "ipv4.nat", "ipv6.address", "ipv6.nat"];

/** True when `key` is a valid config key of a network of type `type` (`user.*` always is). */
export function isNetworkKey(type: NetworkType, key: string): boolean {
  if (key.startsWith("user.")) return true;
  return NETWORK_KEYS[type].some((p) => (p.endsWith(".*") ? key.startsWith(p.slice(0, -1)) && key.length > p.length - 1 : key === p));
}
