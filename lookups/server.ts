/**
 * `getServerInfo`: what the LXD (or Incus) server says about itself (GET /1.0), plus whether it confines instances
 * with AppArmor (its warnings, GET /1.0/warnings), read in the program. Works the same against Incus, LXD's fork:
 * `server` tells them apart.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Server } from "../provider/lxd/types";
import { lookupClient, redacted } from "./connection";
import type { LookupArgs, OutputArgs } from "./lookup";

/** Arguments of {@link getServerInfo}. */
export type GetServerInfoArgs = LookupArgs;

/** An LXD or Incus server, in this package's terms. Holds no certificate and no key (only the server certificate's fingerprint). */
export interface GetServerInfoResult {
  /** Where it was reached: `unix:<socket path>` or `https://host:port` (no credentials). */
  endpoint: string;
  /** Which daemon answered (LXD's `environment.server`): `lxd` or `incus`; `lxd` when the server does not say (older LXD). */
  server: string;
  /** `trusted` when this client's certificate (or the unix socket) is trusted; an untrusted client sees few facts. */
  auth: string;
  /** Server name (`environment.server_name`: the host name, or the cluster member name). */
  serverName: string;
  /** Daemon version (`environment.server_version`, e.g. `5.0.2`). */
  version: string;
  /** REST API version (`api_version`, `1.0`). */
  apiVersion: string;
  /** API extensions, as LXD lists them: the way to tell what a server supports (never guess by version). */
  apiExtensions: string[];
  /** True when the server is a cluster member. */
  clustered: boolean;
  /** Kernel version of the host. */
  kernelVersion: string;
  /** Architectures it can run instances of (`x86_64`, `i686`, …). */
  architectures: string[];
  /** Instance drivers (`lxc`, `qemu`, joined by ` | ` as LXD reports them). */
  driver: string;
  /** Storage drivers the server supports (`environment.storage_supported_drivers`; older servers: those in use). */
  storageDrivers: string[];
  /** Whether LXD confines instances with AppArmor on this host (false: it runs them without mandatory access control; also false for an untrusted client, which cannot read the warnings that tell). */
  appArmor: boolean;
  /** SHA-256 fingerprint of the server certificate (what a `connection.serverFingerprint` pins); "" when not reported. */
  certificateFingerprint: string;
}

/** GET /1.0 fields beyond the client's `Server` type. */
type ServerWire = Server & {
  environment?: Server["environment"] & {
    server?: string;
    architectures?: string[];
    storage_supported_drivers?: { Name: string; Version?: string; Remote?: boolean }[];
  };
};

/**
 * Reads the server's facts.
 * @throws Error `Failed to look up the LXD server at <endpoint>: <reason>` (credentials never included).
 * @example const info = await getServerInfo({}); if (!info.apiExtensions.includes("instance_ready_state")) …
 */
export async function getServerInfo(args: GetServerInfoArgs = {}): Promise<GetServerInfoResult> {
  let where = "";
  try {
    const lxd = await lookupClient(args.connection);
    where = ` at ${lxd.endpoint}`;
    const { hostHasAppArmor } = await import("../provider/lxd");
    const s = (await lxd.server()) as ServerWire;
    const env = s.environment ?? {};
    const supported = env.storage_supported_drivers?.map((d) => d.Name);
    return {
      endpoint: lxd.endpoint,
      server: env.server || "lxd",
      auth: s.auth,
      serverName: env.server_name ?? "",
      version: env.server_version ?? "",
      apiVersion: s.api_version,
      apiExtensions: s.api_extensions ?? [],
      clustered: env.server_clustered ?? false,
      kernelVersion: env.kernel_version ?? "",
      architectures: env.architectures ?? [],
      driver: env.driver ?? "",
      storageDrivers: (supported ?? (env.storage ? env.storage.split("|").map((d) => d.trim()) : [])).filter(Boolean).sort(),
      appArmor: s.auth === "trusted" ? await hostHasAppArmor(lxd) : false,
      certificateFingerprint: env.certificate_fingerprint ?? "",
    } satisfies GetServerInfoResult;
  } catch (err) {
    throw redacted(new Error(`Failed to look up the LXD server${where}: ${(err as Error).message}`));
  }
}

/** {@link getServerInfo} for `Input` arguments: an `Output` that resolves once they are known. */
export function getServerInfoOutput(args: OutputArgs<GetServerInfoArgs> = {}): pulumi.Output<GetServerInfoResult> {
  return pulumi.output(args).apply((a) => getServerInfo(a as GetServerInfoArgs));
}
