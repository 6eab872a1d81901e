/**
 * TrustToken, program side: the `TrustToken` resource class and its inputs. The provider host runs the
 * `trust-token` kind (provider/kinds/trust-token.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { TrustOptOut } from "../provider/policy";
import type { ConnectionArgs } from "../provider/rules/connection";
import { providerShim } from "./shim";
import { warnUnrestricted } from "./trust-certificate";

export type { TrustTokenInputs, TrustTokenOutputs } from "../provider/kinds/trust-token";

/** Inputs of {@link TrustToken}. */
export interface TrustTokenArgs {
  /** Name the client's certificate gets in the trust store when the token is used. Default: the resource name. Forces replacement. */
  name?: pulumi.Input<string>;
  /** Limit the certificate the token adds to `projects`. Default true. `false` is refused unless `securityOptOuts` lists `"unrestricted"`. Forces replacement. */
  restricted?: pulumi.Input<boolean>;
  /** Projects the added certificate may use (at least one when restricted). Default []. Forces replacement. */
  projects?: pulumi.Input<pulumi.Input<string>[]>;
  /** `["unrestricted"]` to accept `restricted: false`. Default none. Reported in `warnings`. */
  securityOptOuts?: pulumi.Input<pulumi.Input<TrustOptOut>[]>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. Another server forces replacement. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * A one-time trust token for a named client (`lxc config trust add`). The server must listen on the network
 * (`core.https_address`). `token` is a secret output; the resource is gone (and issued again by the next `up`)
 * once the token was used, revoked or expired; destroy revokes a pending token.
 */
export class TrustToken extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly restricted: pulumi.Output<boolean>;
  declare readonly projects: pulumi.Output<string[]>;
  /** The token, base64 as `lxc config trust add` prints it. Secret. */
  declare readonly token: pulumi.Output<string>;
  /** The pending LXD operation holding the token; also the id. */
  declare readonly operationId: pulumi.Output<string>;
  /** SHA-256 fingerprint of the server certificate, as the token carries it. */
  declare readonly serverFingerprint: pulumi.Output<string>;
  /** `host:port` addresses the token names. */
  declare readonly addresses: pulumi.Output<string[]>;
  /** RFC 3339 expiry, "" when tokens do not expire. */
  declare readonly expiresAt: pulumi.Output<string>;
  declare readonly warnings: pulumi.Output<string[]>;

  constructor(name: string, args: TrustTokenArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("trust-token"),
      name,
      {
        ...args, name: args.name ?? name, token: undefined, operationId: undefined, serverFingerprint: undefined,
        addresses: undefined, expiresAt: undefined, warnings: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "token"] },
      "lxd",
      "TrustToken",
    );
    warnUnrestricted(this, args.restricted, args.securityOptOuts);
  }
}
