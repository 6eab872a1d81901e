/**
 * Check helper of the kinds that hold devices (instance, profile): fills the safe NIC defaults (provider/policy/nic.ts)
 * after looking up, in LXD, the networks the bridged nics attach to. A preview may read, never write. A network
 * LXD cannot be asked about (not there yet, server unreachable at preview) counts as not found.
 */
import { getNetwork, type DeviceMap } from "../lxd";
import { fillNicDefaults, nicNetworkNames, type NicNetwork } from "../policy";
import type { Scope } from "./contract";

/** `devices` with the spoofing filters filled in on bridged nics; `olds` = the devices of the previous state. */
export async function withNicDefaults(devices: DeviceMap, olds: unknown, open: () => Scope): Promise<DeviceMap> {
  const names = nicNetworkNames(devices);
  const networks: Record<string, NicNetwork | undefined> = {};
  if (names.length) {
    let scope: Scope | undefined;
    try {
      scope = open();
    } catch {
      scope = undefined;
    }
    for (const n of names) {
      try {
        networks[n] = scope ? (await getNetwork(scope.lxd, n, { project: scope.project })).value : undefined;
      } catch {
        networks[n] = undefined;
      }
    }
  }
  return fillNicDefaults(devices, networks, olds as DeviceMap | undefined);
}
