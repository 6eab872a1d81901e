/**
 * InstanceExec, program side: the `InstanceExec` resource class and its inputs. The provider host runs the
 * `instance-exec` kind (provider/kinds/instance-exec.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/rules/connection";
import { providerShim } from "./shim";

export type { InstanceExecInputs, InstanceExecOutputs, ExecWhen } from "../provider/kinds/instance-exec";

type Scalar = string | number | boolean;

/** Inputs of {@link InstanceExec}. */
export interface InstanceExecArgs {
  /** Name of the instance to run the command in. It must be running: it is never started for this. Forces replacement. */
  instance: pulumi.Input<string>;
  /** LXD project of the instance. Default `default`. Forces replacement. */
  project?: pulumi.Input<string>;
  /** The program and its arguments (no shell unless you name one: `["sh", "-c", "…"]`). At least one element. */
  command: pulumi.Input<pulumi.Input<string>[]>;
  /** Environment variables (name → value; numbers and booleans become strings). Default none. */
  environment?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /**
   * Working directory inside the instance (absolute). Default: LXD's (the user's home, `/root` for root). API
   * extension `container_exec_user_group_cwd`. It must be a directory (symlinks followed) when the command runs: LXD
   * would run it in `/` instead, so the run fails naming `cwd` and the command is not run.
   */
  cwd?: pulumi.Input<string>;
  /** User id to run as, inside the instance. Default 0. */
  uid?: pulumi.Input<number>;
  /** Group id to run as. Default 0. */
  gid?: pulumi.Input<number>;
  /** Arbitrary values: any change runs the command again, whatever `when` says. */
  triggers?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /**
   * When it runs: `once` (default) at create only (and when `triggers` change); `onChange` also when `command`,
   * `environment`, `cwd`, `uid`, `gid` change; `onStart` also when the instance was started since the recorded
   * run (its `last_used_at` changed; seen at preview). With `once`, other changes are only recorded.
   */
  when?: pulumi.Input<"once" | "onChange" | "onStart">;
  /** A non-zero exit fails the resource with the command's stderr (its last 2000 bytes). Default true; false records the failing run. */
  failOnError?: pulumi.Input<boolean>;
  /** Seconds to wait for the command to end. Default 600; -1 = no limit. On timeout the command may still run inside. */
  timeoutSec?: pulumi.Input<number>;
  /**
   * Leave the command and its stderr out of error messages (which Pulumi prints and logs in plain text): they say
   * `<withheld: redactErrors>` instead (a `cwd` that is not a directory is not named either). Default: true when any
   * input of this resource is a secret (`pulumi.secret`), else false. A change alone is no diff.
   */
  redactErrors?: pulumi.Input<boolean>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * A command run inside an LXD instance (LXD's exec API, output recorded, no websockets). `stdout` and `stderr` are
 * always secret outputs (the command may print what its secret inputs gave it). Destroy does nothing in LXD.
 */
export class InstanceExec extends pulumi.dynamic.Resource {
  declare readonly instance: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  declare readonly command: pulumi.Output<string[]>;
  /** Standard output of the last run (UTF-8; the first 1 MiB kept). Secret. */
  declare readonly stdout: pulumi.Output<string>;
  /** Standard error of the last run (same limit). Secret. */
  declare readonly stderr: pulumi.Output<string>;
  /** Exit code of the last run. */
  declare readonly exitCode: pulumi.Output<number>;
  /** When the last run happened (ISO 8601, UTC). */
  declare readonly ranAt: pulumi.Output<string>;

  constructor(name: string, args: InstanceExecArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("instance-exec"),
      name,
      {
        ...args,
        redactErrors: args.redactErrors ?? pulumi.isSecret(pulumi.output(args)),
        stdout: undefined, stderr: undefined, exitCode: undefined, ranAt: undefined, instanceStartedAt: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "stdout", "stderr"] },
      "lxd",
      "InstanceExec",
    );
  }
}
