/**
 * ServerSettings, program side: the `ServerSettings` resource class and its inputs. The provider host runs the
 * `server-settings` kind (provider/kinds/server-settings.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { applyServerOptOuts, judgeServerConfig, serverConfigNotes, type ServerOptOut } from "../provider/policy";
import type { ConnectionArgs } from "../provider/rules/connection";
import { normalizeConfig } from "../provider/rules/values";
import { providerShim } from "./shim";

export type { ServerSettingsInputs, ServerSettingsOutputs } from "../provider/kinds/server-settings";

type Scalar = string | number | boolean;

/** Inputs of {@link ServerSettings}. */
export interface ServerSettingsArgs {
  /**
   * Server config keys this stack manages (LXD's server keys verbatim: `core.https_address`,
   * `images.auto_update_interval`, `core.bgp_address`, `core.metrics_address`, …); numbers and booleans are
   * stored as strings; "" keeps a key unset. Keys not named here are never touched. At least one key.
   * Listener addresses are `[host][:port]`: a wildcard bind (`[::]:8443`, `0.0.0.0`, `:8443`, `[::]`) is refused
   * unless `securityOptOuts` lists `"wildcard-bind"`; `core.trust_password` unless it lists `"trust-password"`
   * (and then give the config as a secret: this class makes it one when it names `core.trust_password`).
   * Changed in place (PATCH /1.0 with only these keys).
   */
  config: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** Classes of weakening server settings to accept: `wildcard-bind`, `trust-password`. Default none. Reported in `warnings`. */
  securityOptOuts?: pulumi.Input<pulumi.Input<ServerOptOut>[]>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. Another server forces replacement. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * The server config keys a stack manages on one LXD server (one per server). The server is adopted, never
 * created or deleted: each key's value before the stack managed it is recorded and put back on destroy.
 */
export class ServerSettings extends pulumi.dynamic.Resource {
  /** The managed keys as LXD holds them (a write-only key set by the stack shows the stack's value). */
  declare readonly config: pulumi.Output<Record<string, string>>;
  /** Each managed key's value before the stack managed it ("" = unset): put back on destroy. */
  declare readonly previous: pulumi.Output<Record<string, string>>;
  /** Write-only keys (`core.trust_password`) that were set before the stack: left as the stack set them on destroy. */
  declare readonly previousUnreadable: pulumi.Output<string[]>;
  /** SHA-256 fingerprint of the server certificate (also the id). */
  declare readonly serverFingerprint: pulumi.Output<string>;
  /** Accepted weakenings and other notes (hostname binds, pprof off loopback, …). */
  declare readonly warnings: pulumi.Output<string[]>;

  constructor(name: string, args: ServerSettingsArgs, opts?: pulumi.CustomResourceOptions) {
    // A config that sets the trust password is a secret as a whole, so the password is never plain in the state.
    const config = pulumi.output(args.config).apply((c) => (c && "core.trust_password" in c && c["core.trust_password"] !== "" ? pulumi.secret(c) : c));
    super(
      providerShim("server-settings"),
      name,
      { ...args, config, previous: undefined, previousUnreadable: undefined, serverFingerprint: undefined, warnings: undefined },
      opts,
      "lxd",
      "ServerSettings",
    );
    pulumi.all([pulumi.output(args.config), pulumi.output(args.securityOptOuts ?? [])]).apply(([c, o]) => {
      const normal = normalizeConfig(c as Record<string, Scalar>);
      for (const w of applyServerOptOuts(judgeServerConfig(normal), o as string[], serverConfigNotes(normal)).warnings) pulumi.log.warn(w, this);
    });
  }
}
