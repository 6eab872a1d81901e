/**
 * InstanceDevice, program side: the `InstanceDevice` resource class and its inputs. The provider host runs the
 * `instance-device` kind (provider/kinds/instance-device.ts), which PciDevice shares.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Finding, WeakeningClass } from "../provider/policy";
import type { ConnectionArgs } from "../provider/rules/connection";
import type { InstanceTypeHint } from "../provider/kinds/instance-device";
import { providerShim } from "./shim";
import { warnWeakened } from "./instance";

export type { InstanceDeviceInputs, InstanceDeviceOutputs } from "../provider/kinds/instance-device";

type Scalar = string | number | boolean;

/** Inputs of {@link InstanceDevice}. */
export interface InstanceDeviceArgs {
  /** Name of the existing instance to attach to (another stack or component may own it). Changing this forces replacement. */
  instance: pulumi.Input<string>;
  /** LXD project of the instance. Default `default`. Changing this forces replacement. */
  project?: pulumi.Input<string>;
  /**
   * LXD device name on the instance (1–63 letters, digits, `-`, `_`, `.`). Must not already be used on the
   * instance by anything else. Default: the resource name. Changing this forces replacement.
   */
  deviceName?: pulumi.Input<string>;
  /** LXD device `type`: `disk`, `nic`, `proxy`, `unix-char`, `gpu`, `usb`, `tpm`, … Updated in place. */
  type: pulumi.Input<string>;
  /**
   * The device's properties besides `type`, LXD keys verbatim (numbers and booleans become strings); e.g. a custom
   * volume: `{pool: "default", source: "data", path: "/data"}`. Judged by the hardening policy's device rows.
   * Updated in place (LXD hot-plugs what it can into a running container).
   */
  properties?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** Classes of confinement-weakening settings to accept (e.g. `devices` for a `unix-char`, `idmap` for `shift`). Default []. */
  securityOptOuts?: pulumi.Input<pulumi.Input<WeakeningClass>[]>;
  /**
   * When the instance is running: stop it, write the device, and start it again (a failed start removes the
   * device again and is reported). Default false: LXD hot-plugs into a running instance; a stopped one stays stopped.
   */
  restartIfRunning?: pulumi.Input<boolean>;
  /** Clean-shutdown grace before a stop is forced, in seconds (with `restartIfRunning`). Default 30. */
  stopGraceSec?: pulumi.Input<number>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * One LXD device of any type on an existing instance, marked `user.pulumi-lxd.device.<deviceName>` so that an
 * `Instance` resource on the same instance leaves it alone; judged by the hardening policy.
 */
export class InstanceDevice extends pulumi.dynamic.Resource {
  declare readonly instance: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  declare readonly deviceName: pulumi.Output<string>;
  declare readonly type: pulumi.Output<string>;
  declare readonly properties: pulumi.Output<Record<string, string>>;
  /** The LXD device as written: `type` plus the properties. */
  declare readonly device: pulumi.Output<Record<string, string>>;
  declare readonly resolvedInstanceType: pulumi.Output<InstanceTypeHint>;
  declare readonly ownerKey: pulumi.Output<string>;
  declare readonly weakened: pulumi.Output<Finding[]>;

  constructor(name: string, args: InstanceDeviceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("instance-device"),
      name,
      { ...args, deviceName: args.deviceName ?? name, device: undefined, resolvedInstanceType: undefined, ownerKey: undefined, weakened: undefined },
      opts,
      "lxd",
      "InstanceDevice",
    );
    const devices = pulumi.all([args.deviceName ?? name, args.type, args.properties ?? {}]).apply(([n, t, p]) => ({ [n]: { ...(p as Record<string, Scalar>), type: t } }));
    warnWeakened(this, {}, devices, args.securityOptOuts);
  }
}
