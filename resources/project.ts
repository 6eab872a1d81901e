/**
 * Project, program side: the `Project` resource class and its inputs. The provider host runs the `project` kind
 * (provider/kinds/project.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/rules/connection";
import { providerShim } from "./shim";

export type { ProjectInputs, ProjectOutputs } from "../provider/kinds/project";

type Scalar = string | number | boolean;

/** Inputs of {@link Project}. */
export interface ProjectArgs {
  /**
   * Project name (LXD: no slashes, spaces, underscores or quotes; not `*`, `.` or `..`). Default: the
   * resource name. `default` adopts LXD's default project. Renamed in place (LXD renames empty projects only);
   * renaming to or from `default` forces replacement.
   */
  name?: pulumi.Input<string>;
  /** Description. Default "". */
  description?: pulumi.Input<string>;
  /**
   * Project config, LXD keys verbatim: `features.*` (`features.images`, `features.profiles`,
   * `features.storage.volumes`, `features.networks`; booleans), `limits.*` (`limits.instances`,
   * `limits.memory`, …), `restricted` (boolean) and `restricted.*`, `user.*`, and any other key, which is
   * passed to LXD untouched for LXD to validate. Numbers and booleans are stored as strings.
   * `features.*` cannot change while the project holds anything; unset feature keys keep LXD's value.
   */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** If a project of this name exists, take it over (its former content is put back on destroy) instead of failing. Always so for `default`. Default false. */
  adopt?: pulumi.Input<boolean>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * An LXD project. `default` is adopted and put back on destroy; `features.*` changes on a project that holds
 * anything are refused with the list of what it holds.
 */
export class Project extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly description: pulumi.Output<string>;
  declare readonly config: pulumi.Output<Record<string, string>>;
  declare readonly effectiveConfig: pulumi.Output<Record<string, string>>;
  declare readonly usedBy: pulumi.Output<string[]>;

  constructor(name: string, args: ProjectArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("project"),
      name,
      { ...args, name: args.name ?? name, effectiveConfig: undefined, usedBy: undefined, adoptedFrom: undefined, serverFeatures: undefined },
      opts,
      "lxd",
      "Project",
    );
  }
}
