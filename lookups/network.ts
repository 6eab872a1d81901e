/**
 * `getNetwork`: an LXD network (GET /1.0/networks/{name}?project=), read in the program. Read-only: this package
 * creates no networks. LXD lists host interfaces too (unmanaged: `managed` false, type `physical`, `loopback`, …).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { ConfigMap } from "../provider/lxd/types";
import { NETWORK_NAME } from "../provider/rules/names";
import { checkName, lookUp, outputForm, projectOf, type NamedLookupArgs, type OutputArgs } from "./lookup";

/** Arguments of {@link getNetwork}. */
export interface GetNetworkArgs extends NamedLookupArgs {
  /** Network name (an interface name: 1–15 letters, digits, `.`, `_` or `-`). */
  name: string;
}

/** An LXD network, in this package's terms. */
export interface GetNetworkResult {
  name: string;
  /**
   * LXD's `project` of the network where the server reports it, else the project it was looked up in (a project
   * without `features.networks=true` sees the `default` project's networks).
   */
  project: string;
  description: string;
  /** Managed: `bridge`, `macvlan`, `sriov`, `ovn`, `physical`; unmanaged host interfaces: `physical`, `bridge`, `loopback`, … */
  type: string;
  /** True for networks LXD created and manages; false for host interfaces LXD only lists. */
  managed: boolean;
  /** `Created`, `Pending`, `Errored`, …; "" for unmanaged interfaces. */
  status: string;
  /** LXD `config`, verbatim (`ipv4.address`, `bridge.mtu`, …); empty for unmanaged interfaces. */
  config: ConfigMap;
  /** LXD's `used_by`: API paths of the instances and profiles using it. */
  usedBy: string[];
  /** Cluster members it is defined on (LXD's `locations`); empty on a standalone server. */
  locations: string[];
}

/**
 * Reads a network.
 * @returns it; `undefined` with `allowMissing` when it (or its project) does not exist.
 * @throws Error `network "<name>" was not found in project "<p>"` (an LxdError with status 404), or
 *   `Failed to look up network "<name>" in project "<p>": <reason>`; `name must be …, but … was provided`.
 */
export async function getNetwork(args: GetNetworkArgs & { allowMissing: true }): Promise<GetNetworkResult | undefined>;
export async function getNetwork(args: GetNetworkArgs): Promise<GetNetworkResult>;
export async function getNetwork(args: GetNetworkArgs): Promise<GetNetworkResult | undefined> {
  checkName("name", args?.name, NETWORK_NAME);
  const project = projectOf(args.project);
  return lookUp("network", args.name, project, args, async (lxd) => {
    const { getNetwork: get } = await import("../provider/lxd");
    const n = (await get(lxd, args.name, { project })).value;
    return {
      name: n.name,
      project: n.project || project,
      description: n.description ?? "",
      type: n.type ?? "",
      managed: n.managed ?? false,
      status: n.status ?? "",
      config: n.config ?? {},
      usedBy: n.used_by ?? [],
      locations: (n.locations ?? []).filter((l) => l !== "none"),
    } satisfies GetNetworkResult;
  });
}

/** {@link getNetwork} for `Input` arguments: an `Output` that resolves once they are known. */
export function getNetworkOutput(args: OutputArgs<GetNetworkArgs> & { allowMissing: pulumi.Input<true> }): pulumi.Output<GetNetworkResult | undefined>;
export function getNetworkOutput(args: OutputArgs<GetNetworkArgs>): pulumi.Output<GetNetworkResult>;
export function getNetworkOutput(args: OutputArgs<GetNetworkArgs>): pulumi.Output<GetNetworkResult | undefined> {
  return outputForm<GetNetworkArgs, GetNetworkResult | undefined>(getNetwork)(args);
}
