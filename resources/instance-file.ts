/**
 * InstanceFile, program side: the `InstanceFile` resource class and its inputs. The provider host runs the
 * `instance-file` kind (provider/kinds/instance-file.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/rules/connection";
import { providerShim } from "./shim";

export type { InstanceFileInputs, InstanceFileOutputs, ParentDirectories } from "../provider/kinds/instance-file";

/** Inputs of {@link InstanceFile}. */
export interface InstanceFileArgs {
  /** Name of the instance (container or VM) the file is in. It must exist; a stopped instance stays stopped. Forces replacement. */
  instance: pulumi.Input<string>;
  /** LXD project of the instance. Default `default`. Forces replacement. */
  project?: pulumi.Input<string>;
  /**
   * Absolute path of the file inside the instance. Normalised (`//`, `.` and `..` resolved); refused when its `..`
   * climbs above `/`, when it is `/` or ends with `/`. Forces replacement (the old file is deleted).
   */
  path: pulumi.Input<string>;
  /**
   * The file's text, written as UTF-8. Exactly one of `content` and `source`. Always stored as a secret in the
   * state's inputs, and never in its outputs (those hold only a salted SHA-256, `contentHash`).
   */
  content?: pulumi.Input<string>;
  /**
   * Path of a local file (on the machine running Pulumi; relative to the program's directory) whose bytes are
   * written, read at preview and at every apply: a change of its content shows as a diff. Exactly one of
   * `content` and `source`.
   */
  source?: pulumi.Input<string>;
  /** Owner's user id inside the instance (LXD header X-LXD-uid). Default 0. */
  uid?: pulumi.Input<number>;
  /** Owner's group id inside the instance (X-LXD-gid). Default 0. */
  gid?: pulumi.Input<number>;
  /**
   * Permission mode (X-LXD-mode): a number 0–0o777 (write `0o640`), or an octal string (`"0640"`). setuid, setgid
   * and sticky bits are refused (LXD's file API drops them: a perpetual diff). Default `"0644"`.
   */
  mode?: pulumi.Input<string | number>;
  /**
   * Make missing parent directories (one POST with X-LXD-type: directory each, top down; existing ones are left
   * as they are, and none is removed on delete). `true` = owner 0:0, mode `"0755"`; or give `{uid, gid, mode}`.
   * Default false: a missing directory fails the write.
   */
  createParents?: pulumi.Input<boolean | { uid?: pulumi.Input<number>; gid?: pulumi.Input<number>; mode?: pulumi.Input<string | number> }>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * A file inside an LXD instance, written through LXD's file API (running or stopped; never starts it). Any change
 * rewrites it; destroy deletes it. A file changed or deleted outside the stack shows as drift after a refresh.
 */
export class InstanceFile extends pulumi.dynamic.Resource {
  declare readonly instance: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  declare readonly path: pulumi.Output<string>;
  declare readonly uid: pulumi.Output<number>;
  declare readonly gid: pulumi.Output<number>;
  /** Four octal digits, e.g. "0644". */
  declare readonly mode: pulumi.Output<string>;
  /** `sha256:<hex>` of `hashSalt` followed by the file's bytes, as LXD holds them. */
  declare readonly contentHash: pulumi.Output<string>;
  declare readonly hashSalt: pulumi.Output<string>;
  /** Size in bytes. */
  declare readonly size: pulumi.Output<number>;

  constructor(name: string, args: InstanceFileArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("instance-file"),
      name,
      {
        ...args,
        content: args.content === undefined ? undefined : pulumi.secret(args.content),
        contentHash: undefined, hashSalt: undefined, size: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "content"] },
      "lxd",
      "InstanceFile",
    );
  }
}
