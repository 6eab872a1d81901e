/**
 * PciDevice, program side: the `PciDevice` resource class and its inputs. The provider host runs the
 * `pci-device` kind (provider/kinds/pci-device.ts), whose header says what LXD supports per instance type and
 * why no raw LXC lines are ever generated.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/rules/connection";
import type { GpuType, InstanceTypeHint, PciDeviceKind } from "../provider/kinds/pci-device";
import { providerShim } from "./shim";

export type { GpuType, InstanceTypeHint, PciDeviceKind, PciDeviceInputs, PciDeviceOutputs } from "../provider/kinds/pci-device";

/** Inputs of {@link PciDevice}. */
export interface PciDeviceArgs {
  /** Name of the existing instance to attach to. Changing this forces replacement. */
  instance: pulumi.Input<string>;
  /** LXD project of the instance. Default `default`. Changing this forces replacement. */
  project?: pulumi.Input<string>;
  /**
   * LXD device name on the instance (1–63 letters, digits, `-`, `_`, `.`, starting with a letter or digit).
   * Must not already be used on the instance by anything else. Default: the resource name. Changing this
   * forces replacement.
   */
  deviceName?: pulumi.Input<string>;
  /** LXD device type: `gpu`, `pci` (virtual machines only) or `unix-char` (containers only). */
  kind: pulumi.Input<PciDeviceKind>;
  /**
   * The instance type this device is meant for. Optional: when given, combinations LXD does not support are
   * refused at preview; in any case the real type is read from LXD at create and a mismatch is refused.
   */
  instanceType?: pulumi.Input<InstanceTypeHint>;
  /**
   * `gpu` only — LXD `gputype`: `physical` (whole GPU; containers and VMs), `mig` (an NVIDIA MIG instance;
   * containers only), `mdev` / `sriov` (mediated device / virtual function; VMs only). Default `physical`.
   */
  gputype?: pulumi.Input<GpuType>;
  /**
   * `gpu`: the GPU's PCI address (LXD `pci`); `pci`: the device to pass through (LXD `address`).
   * Format `BB:DD.F` or `DDDD:BB:DD.F` in hex, stored as `DDDD:BB:DD.F` lower case (domain `0000` by default).
   */
  pci?: pulumi.Input<string>;
  /** `gpu` only — PCI vendor id (LXD `vendorid`), four hex digits, e.g. `10de`; stored lower case. */
  vendorId?: pulumi.Input<string>;
  /** `gpu` only — PCI product id (LXD `productid`), four hex digits; stored lower case. */
  productId?: pulumi.Input<string>;
  /** `gpu` only — the DRM card id (LXD `id`, the N of `/dev/dri/cardN`), a non-negative integer. */
  cardId?: pulumi.Input<number>;
  /** `gpu` with gputype `mdev` — the mdev profile to create (LXD `mdev`), e.g. `i915-GVTg_V5_4`. */
  mdev?: pulumi.Input<string>;
  /** `gpu` with gputype `mig` — the MIG instance UUID (LXD `mig.uuid`), optionally prefixed `MIG-`. */
  migUuid?: pulumi.Input<string>;
  /** `gpu` with gputype `mig` — MIG compute instance id (LXD `mig.ci`); needs `migGi`, excludes `migUuid`. */
  migCi?: pulumi.Input<number>;
  /** `gpu` with gputype `mig` — MIG GPU instance id (LXD `mig.gi`); needs `migCi`, excludes `migUuid`. */
  migGi?: pulumi.Input<number>;
  /** `unix-char` only — host path of the character device (LXD `source`). At least one of `source`, `path`. */
  source?: pulumi.Input<string>;
  /** `unix-char` only — path inside the container (LXD `path`). Default: `source`. */
  path?: pulumi.Input<string>;
  /** `unix-char` only — device major number (LXD `major`). Default: read from `source` on the host. */
  major?: pulumi.Input<number>;
  /** `unix-char` only — device minor number (LXD `minor`). Default: read from `source` on the host. */
  minor?: pulumi.Input<number>;
  /** `unix-char` and container `gpu` — owner uid of the node inside the container (LXD `uid`). Default 0. */
  uid?: pulumi.Input<number>;
  /** `unix-char` and container `gpu` — group gid of the node inside the container (LXD `gid`). Default 0. */
  gid?: pulumi.Input<number>;
  /** `unix-char` and container `gpu` — octal file mode of the node (LXD `mode`), e.g. `"0660"`. Default `0660`. */
  mode?: pulumi.Input<string>;
  /** `unix-char` only — whether the device must exist for the container to start (LXD `required`). Default true. */
  required?: pulumi.Input<boolean>;
  /**
   * When the instance is running: stop it, attach (or change) the device, and start it again, so that LXD's
   * start-time validation is reported here (and the device removed again if the start fails). Without it, a
   * running container gets the device hot-plugged (LXD validates it then); a stopped instance is not started.
   * Default false.
   */
  restartIfRunning?: pulumi.Input<boolean>;
  /** Clean-shutdown grace before a stop is forced, in seconds (with `restartIfRunning`). Default 30. */
  stopGraceSec?: pulumi.Input<number>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * One host device attached to an existing LXD instance: a `gpu` (physical/mig for containers,
 * physical/mdev/sriov for VMs), a `pci` pass-through (VMs only) or a `unix-char` node (containers only).
 * Unsupported combinations and malformed PCI addresses, ids and paths are refused at preview; the real
 * instance type is checked at create. Device access is a `devices` weakening by nature: this resource is the
 * explicit intent, and `securityNote` states the access it grants. The device is marked with
 * `user.pulumi-lxd.device.<deviceName>` so that an `Instance` resource on the same instance leaves it alone.
 * It never generates `raw.lxc` `lxc.cgroup.devices.allow` / `lxc.mount.entry` lines: they do nothing useful
 * for unprivileged containers and break on cgroup2 hosts.
 */
export class PciDevice extends pulumi.dynamic.Resource {
  declare readonly instance: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  declare readonly deviceName: pulumi.Output<string>;
  declare readonly kind: pulumi.Output<PciDeviceKind>;
  declare readonly device: pulumi.Output<Record<string, string>>;
  declare readonly resolvedInstanceType: pulumi.Output<InstanceTypeHint>;
  declare readonly ownerKey: pulumi.Output<string>;
  declare readonly securityNote: pulumi.Output<string>;

  constructor(name: string, args: PciDeviceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("pci-device"),
      name,
      { ...args, deviceName: args.deviceName ?? name, device: undefined, resolvedInstanceType: undefined, ownerKey: undefined, securityNote: undefined },
      opts,
      "lxd",
      "PciDevice",
    );
    this.securityNote.apply((n) => { if (n) pulumi.log.info(n, this); });
  }
}
