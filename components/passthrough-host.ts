/**
 * PassthroughHost: prepares a Linux host (Debian/Ubuntu with GRUB) for PCI passthrough to LXD virtual machines.
 *
 * Three @pulumi/command steps, on the host over SSH (`remote.Command`) or on this machine (`local.Command`):
 *   1. detect  – read-only facts as JSON: CPU vendor, IOMMU platform (ACPI DMAR/IVRS), boot loader, /proc/cmdline,
 *                IOMMU groups from sysfs, target devices (id, driver, group, boot_vga), kernel, Secure Boot state.
 *                Re-runs when the detect script or `rerunToken` changes.
 *   2. apply   – rendered from the detection; idempotent; writes only files whose content differs, runs
 *                update-grub / update-initramfs / sysctl only when their inputs changed, never reboots.
 *                Trigger: a SHA-256 of the rendered script, so it re-runs exactly when the wanted host state changes.
 *   3. verify  – driver, IOMMU group and group viability of every target, missing kernel args, rebootRequired.
 *                Re-runs after every apply and when `rerunToken` changes.
 * Refusals (unsupported boot loader, boot VGA device, a group shared with devices in use, storage in use,
 * unknown devices) fail the deployment before anything is written; the apply script checks them again on the host.
 * Removing the component leaves the host files in place (see the README for reverting by hand).
 *
 * `@pulumi/command` is an optional peer dependency needed by this component only: it is loaded when a
 * PassthroughHost is constructed, not when the package is imported (see {@link loadCommand}).
 */
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import {
  parseApplyResult,
  parseDetection,
  parseVerifyResult,
  type ApplyResult,
  type DetectionResult,
  type VerifyResult,
} from "./passthrough/detection";
import { checkKernelArg } from "./passthrough/kernel-cmdline";
import { checkPciAddress, checkPciId, uniqueSorted } from "../provider/rules/pci";
import { planHost, type HostPlan, type PlanOptions } from "./passthrough/plan";
import { renderApplyScript, renderDetectScript, renderVerifyScript } from "./passthrough/scripts";

/** Inputs of {@link PassthroughHost}. */
export interface PassthroughHostArgs {
  /**
   * SSH connection to the host (`@pulumi/command` remote connection: host, port, user, privateKey or password, …).
   * Always stored as a secret. The user must be root, or set `useSudo`. When omitted, the scripts run on the
   * machine running Pulumi (`local.Command`). Switching between local and remote replaces the three command
   * resources; changing the connection's fields re-runs them.
   * @default undefined (local)
   */
  connection?: pulumi.Input<PassthroughConnection>;
  /**
   * PCI addresses to hand to vfio-pci through `driver_override`, as `BB:DD.F` or `DDDD:BB:DD.F` (hex; normalised to
   * lower case with domain `0000`). Use this to claim one of several identical devices. Needs vfio-pci as a
   * loadable module (Debian); refused when it is built into the kernel.
   * Changing it re-runs all three steps (the detect script names the devices).
   * @default []
   */
  pciAddresses?: pulumi.Input<string[]>;
  /**
   * vendor:device ids (`vvvv:pppp`, four hex digits each) claimed by vfio-pci with `options vfio-pci ids=` (or
   * `vfio-pci.ids=` on the kernel command line when vfio-pci is built in). Claims every device with that id.
   * Changing it re-runs all three steps.
   * @default []
   */
  pciIds?: pulumi.Input<string[]>;
  /**
   * Extra kernel arguments appended with the IOMMU ones (single tokens; `amd_iommu=on` is refused, it is not a
   * kernel value). Changing it re-runs apply (update-grub) and verify.
   * @default []
   */
  extraKernelArgs?: string[];
  /**
   * Rebind the target devices to vfio-pci during apply when an IOMMU is already active: unbinds them from their
   * current driver at once. Leave off for a device the host is using (for example the NIC you connect through);
   * the boot configuration binds it at the next boot either way. Changing it re-runs apply and verify.
   * @default false
   */
  bindNow?: boolean;
  /**
   * Also write LXD's production server settings: sysctls (`fs.inotify.*`, `vm.max_map_count`,
   * `kernel.dmesg_restrict`, `net.core.bpf_jit_limit`, neighbour table sizes, key limits) to
   * `/etc/sysctl.d/60-<fileStem>.conf`, applied at once, and nofile/memlock limits to
   * `/etc/security/limits.d/60-<fileStem>.conf` (new sessions). Turning it off removes both files (values already
   * applied stay until reboot). Changing it re-runs apply and verify.
   * @default false
   */
  lxdServerSettings?: boolean;
  /**
   * sysctl values that replace or extend LXD's suggestions, e.g. `{ "kernel.dmesg_restrict": "0" }`.
   * Only used with `lxdServerSettings`. Changing it re-runs apply and verify.
   * @default {}
   */
  sysctlOverrides?: Record<string, string>;
  /**
   * Stem of every managed file name (`/etc/default/grub.d/<stem>.cfg`, `/etc/modprobe.d/<stem>.conf`, …):
   * lower-case letters, digits, `-` and `_`, at most 40. Changing it writes new files and leaves the old ones.
   * @default "pulumi-passthrough"
   */
  fileStem?: string;
  /**
   * Run the scripts through `sudo -n` (password-less sudo) on the remote host; ignored without `connection`.
   * Changing it re-runs all three steps.
   * @default false
   */
  useSudo?: boolean;
  /**
   * Any value; changing it re-runs detect and verify (for example a timestamp after rebooting the host), so the
   * outputs reflect the running kernel. Apply re-runs only if the re-detected plan differs.
   * @default undefined
   */
  rerunToken?: pulumi.Input<string>;
}

/** The peer dependency range this component is tested with (package.json `peerDependencies`). */
const COMMAND_PEER_RANGE = "^1.2.1";

/**
 * Loads `@pulumi/command` (an optional peer dependency) from the program's node_modules.
 * Throws a ResourceError naming the package and the install command when it is not installed; any other
 * load failure is rethrown as is.
 */
function loadCommand(owner?: pulumi.Resource): typeof command {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("@pulumi/command") as typeof command;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== "MODULE_NOT_FOUND" || !/['"]@pulumi\/command['"]/.test(e.message)) throw err;
    throw new pulumi.ResourceError(
      `PassthroughHost needs the package @pulumi/command (${COMMAND_PEER_RANGE}), an optional peer dependency of ` +
        `pulumi-lxd-hardened that is not installed: run \`npm install @pulumi/command@"${COMMAND_PEER_RANGE}"\` in the Pulumi program`,
      owner,
    );
  }
}

/**
 * The command resource of one step (`@pulumi/command`'s `remote.Command` over SSH, or `local.Command`), typed here
 * by what this component uses, so that the package's public types do not need the optional peer installed.
 */
export type StepCommand = pulumi.CustomResource & { readonly stdout: pulumi.Output<string>; readonly stderr: pulumi.Output<string> };

/**
 * The SSH connection of `@pulumi/command`'s `remote.Command` (its `types.input.remote.ConnectionArgs`), the fields
 * this component documents; passed on as given (and kept secret).
 */
export interface PassthroughConnection {
  /** Host name or address of the machine to prepare. */
  host: pulumi.Input<string>;
  /** SSH port. Default 22. */
  port?: pulumi.Input<number>;
  /** SSH user. Default root. */
  user?: pulumi.Input<string>;
  /** Password (prefer a key). */
  password?: pulumi.Input<string>;
  /** Private key, PEM text. */
  privateKey?: pulumi.Input<string>;
  /** Passphrase of `privateKey`. */
  privateKeyPassword?: pulumi.Input<string>;
  /** SSH agent socket path. */
  agentSocketPath?: pulumi.Input<string>;
  /** How many dial errors to tolerate before failing (`@pulumi/command` default 10; -1 = no limit). */
  dialErrorLimit?: pulumi.Input<number>;
  /** Seconds per dial attempt (`@pulumi/command` default 15). */
  perDialTimeout?: pulumi.Input<number>;
}

/** Validated, normalised choices (known values only). */
interface Choices {
  addresses: string[];
  ids: string[];
}

const STEM = /^[a-z0-9][a-z0-9_-]{0,39}$/;

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Validate a list of addresses or ids; throws `InputPropertyError` naming the offending element. */
export function validateList(
  property: "pciAddresses" | "pciIds",
  values: unknown,
): string[] {
  if (values === undefined) return [];
  if (!Array.isArray(values)) {
    throw new pulumi.InputPropertyError({ propertyPath: property, reason: `${property} must be a list of strings` });
  }
  const check = property === "pciAddresses" ? checkPciAddress : checkPciId;
  return uniqueSorted(
    values.map((v, i) => {
      const r = check(v);
      if (!r.ok) throw new pulumi.InputPropertyError({ propertyPath: `${property}[${i}]`, reason: r.reason });
      return r.value;
    }),
  );
}

/** Validate the plain (non-Input) props; throws `InputPropertyError`. */
export function validatePlainArgs(args: PassthroughHostArgs): Omit<PlanOptions, "addresses" | "ids" | "owner"> {
  const fileStem = args.fileStem ?? "pulumi-passthrough";
  if (!STEM.test(fileStem)) {
    throw new pulumi.InputPropertyError({
      propertyPath: "fileStem",
      reason: `fileStem must be 1-40 of a-z 0-9 - _ starting with a letter or digit, but ${JSON.stringify(fileStem)} was provided`,
    });
  }
  const extraKernelArgs = (args.extraKernelArgs ?? []).map((a, i) => {
    const r = checkKernelArg(a);
    if (!r.ok) throw new pulumi.InputPropertyError({ propertyPath: `extraKernelArgs[${i}]`, reason: r.reason });
    return r.value;
  });
  const sysctlOverrides = args.sysctlOverrides ?? {};
  for (const [k, v] of Object.entries(sysctlOverrides)) {
    if (!/^[a-z0-9_]+(?:[./][a-z0-9_-]+)+$/.test(k) || typeof v !== "string" || !/^[0-9A-Za-z_. -]{1,64}$/.test(v)) {
      throw new pulumi.InputPropertyError({
        propertyPath: `sysctlOverrides.${k}`,
        reason: `sysctl overrides must map dotted keys to short plain values, but ${JSON.stringify(k)}: ${JSON.stringify(v)} was provided`,
      });
    }
  }
  return { extraKernelArgs, fileStem, lxdServerSettings: args.lxdServerSettings ?? false, sysctlOverrides };
}

/**
 * Plan the host, or throw a `ResourceError` listing every refusal. Thrown inside the component's `apply`, it fails
 * the deployment before the apply command is registered, so nothing is written to the host.
 */
export function planOrRefuse(d: DetectionResult, options: PlanOptions, resource?: pulumi.Resource): HostPlan {
  const plan = planHost(d, options);
  if (plan.refusals.length > 0) {
    throw new pulumi.ResourceError(
      `Refusing to prepare the host for PCI passthrough (nothing was changed): ${plan.refusals.join("; ")}`,
      resource,
    );
  }
  return plan;
}

/** Prepares a host for PCI passthrough; see the file header for the steps. */
export class PassthroughHost extends pulumi.ComponentResource {
  /** Parsed detect output: facts about the host before apply. */
  public readonly detection: pulumi.Output<DetectionResult>;
  /** Kernel arguments the host must boot with. */
  public readonly kernelArgs: pulumi.Output<string[]>;
  /** What the last apply changed (empty when the host already matched). */
  public readonly changes: pulumi.Output<string[]>;
  /** True until the host has booted with the arguments and every target is bound to vfio-pci. Never rebooted for you. */
  public readonly rebootRequired: pulumi.Output<boolean>;
  /** Every target bound to vfio-pci and every IOMMU group viable. */
  public readonly viable: pulumi.Output<boolean>;
  /** IOMMU groups of the targets, with every member's driver. */
  public readonly iommuGroups: pulumi.Output<VerifyResult["iommuGroups"]>;
  /** Each target: address, id, driver, IOMMU group, viability and the reason when not viable. */
  public readonly devices: pulumi.Output<VerifyResult["devices"]>;
  /** Raw apply result. */
  public readonly applyResult: pulumi.Output<ApplyResult>;
  /** The three command resources, e.g. to make a reboot step depend on `commands.verify`. */
  public readonly commands: { detect: StepCommand; apply: StepCommand; verify: StepCommand };

  constructor(name: string, args: PassthroughHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-lxd-hardened:index:PassthroughHost", name, {}, opts);
    const cmd = loadCommand(this);

    const plain = validatePlainArgs(args);
    // Known lists are validated now, before any resource exists; Output lists when they resolve (same errors).
    if (args.pciAddresses !== undefined && !pulumi.Output.isInstance(args.pciAddresses) && Array.isArray(args.pciAddresses)) {
      validateList("pciAddresses", args.pciAddresses);
    }
    if (args.pciIds !== undefined && !pulumi.Output.isInstance(args.pciIds) && Array.isArray(args.pciIds)) {
      validateList("pciIds", args.pciIds);
    }
    const choices: pulumi.Output<Choices> = pulumi
      .all([args.pciAddresses ?? [], args.pciIds ?? []])
      .apply(([a, i]) => ({ addresses: validateList("pciAddresses", a), ids: validateList("pciIds", i) }));

    const owner = `PassthroughHost ${name}`;
    const runner = args.connection && args.useSudo ? "sudo -n bash -s" : "bash -s";
    const connection = args.connection ? pulumi.secret(args.connection) : undefined;
    const step = (
      stepName: string,
      script: pulumi.Input<string>,
      triggers: pulumi.Input<unknown>[],
      dependsOn: pulumi.Resource[],
    ): StepCommand => {
      const common = { create: runner, stdin: script, triggers, logging: cmd.types.enums.local.Logging.Stderr };
      const o: pulumi.CustomResourceOptions = { parent: this, dependsOn };
      return connection
        ? new cmd.remote.Command(`${name}-${stepName}`, { ...common, connection }, o)
        : new cmd.local.Command(`${name}-${stepName}`, common, o);
    };

    const detectScript = choices.apply((c) => renderDetectScript(c));
    const detect = step("detect", detectScript, [detectScript.apply(sha256), args.rerunToken ?? ""], []);
    this.detection = detect.stdout.apply(parseDetection);

    const planned = pulumi.all([this.detection, choices]).apply(([d, c]) => {
      const plan = planOrRefuse(d, { ...plain, ...c, owner }, this);
      const applyScript = renderApplyScript({ ...c, kernelArgs: plan.kernelArgs, files: plan.files, bindNow: args.bindNow ?? false });
      const verifyScript = renderVerifyScript({ ...c, kernelArgs: plan.kernelArgs });
      return { plan, applyScript, verifyScript };
    });
    this.kernelArgs = planned.plan.kernelArgs;

    const applyScript = planned.applyScript;
    const apply = step("apply", applyScript, [applyScript.apply(sha256)], [detect]);
    this.applyResult = apply.stdout.apply(parseApplyResult);
    this.changes = this.applyResult.changes;

    const verifyScript = planned.verifyScript;
    const verify = step(
      "verify",
      verifyScript,
      [apply.stdout, verifyScript.apply(sha256), args.rerunToken ?? ""],
      [apply],
    );
    this.commands = { detect, apply, verify };
    const verified = verify.stdout.apply(parseVerifyResult);
    this.rebootRequired = verified.rebootRequired;
    this.viable = verified.viable;
    this.iommuGroups = verified.iommuGroups;
    this.devices = verified.devices;

    this.registerOutputs({
      detection: this.detection,
      kernelArgs: this.kernelArgs,
      changes: this.changes,
      rebootRequired: this.rebootRequired,
      viable: this.viable,
      iommuGroups: this.iommuGroups,
      devices: this.devices,
    });
  }
}
