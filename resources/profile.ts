/**
 * Profile, program side: the `Profile` resource class and its inputs. The provider host runs the `profile` kind
 * (provider/kinds/profile.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { SecurityReport, WeakeningClass } from "../provider/policy";
import type { ConnectionArgs } from "../provider/rules/connection";
import { providerShim } from "./shim";
import { warnWeakened } from "./instance";

export type { ProfileInputs, ProfileOutputs } from "../provider/kinds/profile";

type Scalar = string | number | boolean;

/** Inputs of {@link Profile}. */
export interface ProfileArgs {
  /** Profile name (1–63 characters, no spaces or slashes). Default: the resource name. `default` adopts the project's default profile. Renamed in place (not `default`). */
  name?: pulumi.Input<string>;
  /**
   * LXD project. Default `default`. The project must have `features.profiles=true` (its own profiles); otherwise
   * its profiles are the `default` project's and the profile is refused (declare it in `default`). Forces replacement.
   */
  project?: pulumi.Input<string>;
  /** Profile config (LXD keys verbatim); numbers and booleans are stored as strings. Weakening keys are refused unless opted out. */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** Devices: name → properties (`type` among them). */
  devices?: pulumi.Input<Record<string, pulumi.Input<Record<string, pulumi.Input<Scalar>>>>>;
  /** Description. Default "". */
  description?: pulumi.Input<string>;
  /** Classes of confinement-weakening settings to accept (see Instance). */
  securityOptOuts?: pulumi.Input<pulumi.Input<WeakeningClass>[]>;
  /** If a profile of this name exists, take it over instead of failing (always so for `default`). Default false. */
  adopt?: pulumi.Input<boolean>;
  /**
   * Apply a change that adds a weakening (an opted-out class) while instances already use the profile. Default
   * false: such a change fails the preview, naming the instances and the findings (they were not judged with it).
   */
  weakenInstancesInUse?: pulumi.Input<boolean>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/** An LXD profile. Weakening settings are refused unless opted out; `default` is adopted and restored on destroy. */
export class Profile extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  declare readonly config: pulumi.Output<Record<string, string>>;
  declare readonly devices: pulumi.Output<Record<string, Record<string, string>>>;
  declare readonly description: pulumi.Output<string>;
  declare readonly usedBy: pulumi.Output<string[]>;
  declare readonly securityReport: pulumi.Output<SecurityReport>;

  constructor(name: string, args: ProfileArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("profile"),
      name,
      { ...args, name: args.name ?? name, usedBy: undefined, securityReport: undefined, adoptedFrom: undefined },
      opts,
      "lxd",
      "Profile",
    );
    warnWeakened(this, args.config, args.devices, args.securityOptOuts);
  }
}
