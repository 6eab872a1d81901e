/**
 * `getInstance`: an existing LXD instance (GET /1.0/instances/{name}?project=), read in the program. Also judges
 * what confinement it really runs with (the same `securityReport` an `Instance` resource gives, no opt-outs).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { ConfigMap, DeviceMap } from "../provider/lxd/types";
import { assess, securityReport, type SecurityReport } from "../provider/policy";
import { INSTANCE_NAME } from "../provider/rules/names";
import { isServerOwnedKey } from "../provider/rules/values";
import { checkName, lookUp, outputForm, projectOf, type NamedLookupArgs, type OutputArgs } from "./lookup";

/** Arguments of {@link getInstance}. */
export interface GetInstanceArgs extends NamedLookupArgs {
  /** Instance name. */
  name: string;
}

/** An LXD instance, in this package's terms (the same names as the `Instance` resource's outputs). */
export interface GetInstanceResult {
  name: string;
  /** The project it was found in. */
  project: string;
  /** `container` or `virtual-machine`. */
  type: string;
  description: string;
  /** LXD's status: `Running`, `Stopped`, `Frozen`, `Ready`, `Error`, … */
  status: string;
  /** True when the status is `Running` or `Ready`. */
  running: boolean;
  ephemeral: boolean;
  /** Architecture, as LXD names it (`x86_64`, `aarch64`, …). */
  architecture: string;
  /** Profiles, in the order LXD applies them. */
  profiles: string[];
  /** The instance's own config (LXD `config`) without server-owned keys (`volatile.*`, `image.*`). */
  config: ConfigMap;
  /** The server-owned keys of its config: `volatile.*` (LXD's runtime state) and `image.*` (the image's properties). */
  serverConfig: ConfigMap;
  /** The instance's own devices (LXD `devices`). */
  devices: DeviceMap;
  /** Config after its profiles are applied (LXD `expanded_config`), without server-owned keys. */
  expandedConfig: ConfigMap;
  /** Devices after its profiles are applied (LXD `expanded_devices`). */
  expandedDevices: DeviceMap;
  /** Fingerprint of the image it was created from (`volatile.base_image`); "" for an empty instance. */
  imageFingerprint: string;
  /** Cluster member holding it (`none` on a standalone server). */
  location: string;
  /** LXD's `created_at` and `last_used_at` (RFC 3339). */
  createdAt: string;
  lastUsedAt: string;
  /** What confinement it really has, judged by this package's hardening policy with no opt-outs. */
  securityReport: SecurityReport;
}

/** Wire fields beyond the client's `Instance` type. */
interface InstanceWire {
  name: string; type: string; description?: string; status: string; ephemeral?: boolean; architecture?: string;
  profiles?: string[]; config?: ConfigMap; devices?: DeviceMap; expanded_config?: ConfigMap; expanded_devices?: DeviceMap;
  location?: string; created_at?: string; last_used_at?: string; project?: string;
}

function split(config: ConfigMap | undefined): { own: ConfigMap; server: ConfigMap } {
  const own: ConfigMap = {};
  const server: ConfigMap = {};
  for (const [k, v] of Object.entries(config ?? {})) (isServerOwnedKey(k) ? server : own)[k] = v;
  return { own, server };
}

/**
 * Reads an existing instance.
 * @returns its definition and state; `undefined` with `allowMissing` when it (or its project) does not exist.
 * @throws Error `instance "<name>" was not found in project "<p>"` (an LxdError with status 404), or
 *   `Failed to look up instance "<name>" in project "<p>": <reason>`; `name must be …, but … was provided`.
 * @example const web = await getInstance({ name: "web", project: "tenant-a" }); web.securityReport.privileged
 */
export async function getInstance(args: GetInstanceArgs & { allowMissing: true }): Promise<GetInstanceResult | undefined>;
export async function getInstance(args: GetInstanceArgs): Promise<GetInstanceResult>;
export async function getInstance(args: GetInstanceArgs): Promise<GetInstanceResult | undefined> {
  checkName("name", args?.name, INSTANCE_NAME);
  const project = projectOf(args.project);
  return lookUp("instance", args.name, project, args, async (lxd) => {
    const { getInstance: get, hostHasAppArmor } = await import("../provider/lxd");
    const inst = (await get(lxd, args.name, { project })).value as unknown as InstanceWire;
    const config = split(inst.config);
    const expanded = split(inst.expanded_config);
    const expandedDevices = inst.expanded_devices ?? {};
    const findings = assess(expanded.own, expandedDevices, {});
    return {
      name: inst.name,
      project: inst.project || project,
      type: inst.type,
      description: inst.description ?? "",
      status: inst.status,
      running: inst.status === "Running" || inst.status === "Ready",
      ephemeral: inst.ephemeral ?? false,
      architecture: inst.architecture ?? "",
      profiles: inst.profiles ?? [],
      config: config.own,
      serverConfig: config.server,
      devices: inst.devices ?? {},
      expandedConfig: expanded.own,
      expandedDevices,
      imageFingerprint: config.server["volatile.base_image"] ?? "",
      location: inst.location ?? "",
      createdAt: inst.created_at ?? "",
      lastUsedAt: inst.last_used_at ?? "",
      securityReport: securityReport(inst.expanded_config ?? {}, findings, { apparmor: await hostHasAppArmor(lxd) }),
    } satisfies GetInstanceResult;
  });
}

/** {@link getInstance} for `Input` arguments: an `Output` that resolves once they are known. */
export function getInstanceOutput(args: OutputArgs<GetInstanceArgs> & { allowMissing: pulumi.Input<true> }): pulumi.Output<GetInstanceResult | undefined>;
export function getInstanceOutput(args: OutputArgs<GetInstanceArgs>): pulumi.Output<GetInstanceResult>;
export function getInstanceOutput(args: OutputArgs<GetInstanceArgs>): pulumi.Output<GetInstanceResult | undefined> {
  return outputForm<GetInstanceArgs, GetInstanceResult | undefined>(getInstance)(args);
}
