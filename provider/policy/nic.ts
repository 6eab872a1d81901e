/**
 * Safe NIC defaults: a nic on a bridge gets LXD's spoofing filters switched on unless the user sets them
 * (`security.mac_filtering`, `security.ipv4_filtering`, `security.ipv6_filtering`). Switching one off is a finding of
 * class `network` (./table.ts). Pure: the caller looks the networks up (provider/kit/nic-defaults.ts).
 *
 * Which keys are filled, and why (measured on LXD 5.0.2 with its xtables firewall driver, see docs/network.md):
 * - `security.mac_filtering=true` on every bridged nic (nictype bridged, or a `network` that is a managed bridge).
 * - `security.ipv4_filtering=true` only when the managed bridge has an IPv4 address (`ipv4.address` set and not
 *   `none`): on a bridge without one, LXD accepts the key but then drops every IPv4 and ARP packet the instance
 *   sends (it has no address it may use), which breaks an L2-only bridge.
 * - `security.ipv6_filtering=true` only when the managed bridge has an IPv6 address: on a bridge with
 *   `ipv6.address=none`, LXD 5.0.2 fails to start the nic (its ip6tables chain for the bridge does not exist).
 * - a nic whose parent is not a managed bridge (a host bridge LXD does not manage) gets `security.mac_filtering` only.
 * - a nic on a network that is not there yet (created in the same run) gets what its previous state had, else
 *   `security.mac_filtering` only: the choice is made when the nic is first planned and then kept.
 * - a nic on a managed network of another type (macvlan, sriov, ovn, physical) and nics of other nictypes get nothing.
 * A key the user wrote is never changed (an empty value or a false spelling is the policy's finding).
 */
import type { ConfigMap, DeviceMap } from "../lxd";
import { isBridgedNic, NIC_FILTER_KEYS } from "./table";
import { isUnknownMap, PREVIEW_UNKNOWN } from "./values";

/** What the defaults need to know of a network: LXD's GET /1.0/networks/{name}, or undefined when it is not there. */
export interface NicNetwork {
  type: string;
  managed: boolean;
  config?: ConfigMap;
}

/** True when an address key of a bridge gives the bridge an address (set, not `none`). */
const hasAddress = (v: string | undefined) => v !== undefined && v !== "" && v !== "none";

/** The network a bridged nic attaches to: its `network`, else its `parent`; undefined when it is a preview unknown. */
export function nicNetworkName(d: Record<string, string>): string | undefined {
  const n = d.network || d.parent;
  return n === undefined || n === "" || n === PREVIEW_UNKNOWN ? undefined : n;
}

/**
 * The filter keys to fill on one bridged nic, given its network (`undefined` = not found, or a preview unknown).
 * @returns the keys (a subset of NIC_FILTER_KEYS), or [] for a nic that gets none
 */
export function nicFilterDefaults(d: Record<string, string>, net: NicNetwork | undefined, old?: Record<string, string>): string[] {
  if (!isBridgedNic(d)) return [];
  if (net === undefined) {
    const same = old && isBridgedNic(old) && old.network === d.network && old.parent === d.parent;
    const kept = same ? NIC_FILTER_KEYS.filter((k) => old![k] === "true") : [];
    return kept.length ? kept : ["security.mac_filtering"];
  }
  if (!net.managed) return ["security.mac_filtering"];
  if (net.type !== "bridge") return [];
  const c = net.config ?? {};
  return [
    "security.mac_filtering",
    ...(hasAddress(c["ipv4.address"]) ? ["security.ipv4_filtering"] : []),
    ...(hasAddress(c["ipv6.address"]) ? ["security.ipv6_filtering"] : []),
  ];
}

/**
 * The devices with the filter defaults filled in on each bridged nic (keys the user wrote are left as written).
 * @param networks the networks by name, as looked up (absent = not found)
 * @param olds the devices of the previous state (for nics whose network is not there yet)
 */
export function fillNicDefaults(devices: DeviceMap, networks: Record<string, NicNetwork | undefined>, olds?: DeviceMap): DeviceMap {
  if (isUnknownMap(devices)) return devices;
  const out: DeviceMap = {};
  for (const [name, d] of Object.entries(devices)) {
    if (isUnknownMap(d)) {
      out[name] = d;
      continue;
    }
    const net = nicNetworkName(d);
    const old = olds && !isUnknownMap(olds) && !isUnknownMap(olds[name]) ? olds[name] : undefined;
    const fill = nicFilterDefaults(d, net === undefined ? undefined : networks[net], old);
    out[name] = { ...d };
    for (const k of fill) if (!(k in d)) out[name][k] = "true";
  }
  return out;
}

/** The network names the bridged nics of `devices` attach to (for the caller to look up). */
export function nicNetworkNames(devices: DeviceMap): string[] {
  if (isUnknownMap(devices)) return [];
  return [...new Set(Object.values(devices).filter((d) => !isUnknownMap(d) && isBridgedNic(d)).map(nicNetworkName).filter((n): n is string => n !== undefined))];
}
