/**
 * TrustCertificate, program side: the `TrustCertificate` resource class and its inputs. The provider host runs
 * the `trust-certificate` kind (provider/kinds/trust-certificate.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { applyServerOptOuts, judgeTrust, type TrustOptOut } from "../provider/policy";
import type { ConnectionArgs } from "../provider/rules/connection";
import { providerShim } from "./shim";

export type { TrustCertificateInputs, TrustCertificateOutputs } from "../provider/kinds/trust-certificate";

/** Inputs of {@link TrustCertificate}. */
export interface TrustCertificateArgs {
  /** The client certificate, PEM (the public certificate only; never the key). Changing it forces replacement (it is another fingerprint). */
  certificate: pulumi.Input<string>;
  /** Name in the trust store. Default: the resource name. Changed in place. */
  name?: pulumi.Input<string>;
  /** `client` (API access) or `metrics` (only /1.0/metrics; API extension `metrics`). Default `client`. Forces replacement (LXD cannot change it). */
  type?: pulumi.Input<"client" | "metrics">;
  /**
   * Limit the certificate to `projects` (API extension `certificate_project`). Default true. `false` gives full
   * control of the server and is refused unless `securityOptOuts` lists `"unrestricted"`. Changed in place.
   */
  restricted?: pulumi.Input<boolean>;
  /** Projects a restricted certificate may use (at least one when restricted). Default []. Changed in place. */
  projects?: pulumi.Input<pulumi.Input<string>[]>;
  /** `["unrestricted"]` to accept `restricted: false`. Default none. Reported in `warnings`. */
  securityOptOuts?: pulumi.Input<pulumi.Input<TrustOptOut>[]>;
  /** If the certificate is already trusted, take it over (its former name, restriction and projects are put back on destroy). Default false. */
  adopt?: pulumi.Input<boolean>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. Another server forces replacement. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/** A client or metrics certificate in an LXD server's trust store, restricted to projects by default. */
export class TrustCertificate extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly certificate: pulumi.Output<string>;
  declare readonly type: pulumi.Output<"client" | "metrics">;
  declare readonly restricted: pulumi.Output<boolean>;
  declare readonly projects: pulumi.Output<string[]>;
  /** SHA-256 fingerprint of the certificate (DER), lower-case hex; also the id. */
  declare readonly fingerprint: pulumi.Output<string>;
  /** Accepted weakenings (an unrestricted certificate). */
  declare readonly warnings: pulumi.Output<string[]>;

  constructor(name: string, args: TrustCertificateArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("trust-certificate"),
      name,
      { ...args, name: args.name ?? name, fingerprint: undefined, adoptedFrom: undefined, warnings: undefined },
      opts,
      "lxd",
      "TrustCertificate",
    );
    warnUnrestricted(this, args.restricted, args.securityOptOuts);
  }
}

/** Logs the warning of an accepted unrestricted certificate or token (inputs known at program time). */
export function warnUnrestricted(res: pulumi.Resource, restricted: pulumi.Input<boolean> | undefined, optOuts: pulumi.Input<pulumi.Input<TrustOptOut>[]> | undefined): void {
  pulumi.all([pulumi.output(restricted ?? true), pulumi.output(optOuts ?? [])]).apply(([r, o]) => {
    for (const w of applyServerOptOuts(judgeTrust(r as boolean), o as string[]).warnings) pulumi.log.warn(w, res);
  });
}
