/**
 * Instance, program side: the `Instance` resource class and its inputs. The provider host runs the `instance`
 * kind (provider/kinds/instance.ts); this module never loads the REST client.
 */
import * as pulumi from "@pulumi/pulumi";
import { applyOptOuts, assess, type Nesting, type SecurityReport, type WeakeningClass } from "../provider/policy";
import type { ConnectionArgs } from "../provider/rules/connection";
import { normalizeConfig, normalizeDevices } from "../provider/rules/values";
import type { InstanceTimeouts } from "../provider/kinds/instance";
import type { WaitCondition } from "../provider/kinds/instance-wait";
import { providerShim } from "./shim";

export type { InstanceTimeouts, InstanceInputs, InstanceOutputs } from "../provider/kinds/instance";
export type { WaitCondition } from "../provider/kinds/instance-wait";

type Scalar = string | number | boolean;

/** Inputs of {@link Instance}. */
export interface InstanceArgs {
  /**
   * Instance name (LXD: a hostname label, 1–63 letters, digits and dashes, starting with a letter, not ending with a
   * dash). Default: the resource name. Renamed in place (stopped for the rename, started again if it should run).
   */
  name?: pulumi.Input<string>;
  /** LXD project. Default `default` (an empty project is the same). Changing it forces replacement. */
  project?: pulumi.Input<string>;
  /** `container` or `virtual-machine`. Default `container`. Changing it forces replacement. */
  type?: pulumi.Input<"container" | "virtual-machine">;
  /**
   * Image alias or fingerprint (full or unique prefix), looked up in the instance's project (its own images
   * when the project has `features.images=true`). With `imageServer`, an alias or fingerprint on that server.
   * Omitted: an empty instance (LXD source type `none`), which is never started (`running` defaults to false and
   * must stay false). Changing it forces replacement.
   */
  image?: pulumi.Input<string>;
  /** Remote image server URL (e.g. a simplestreams server); omitted: a local image. Forces replacement. */
  imageServer?: pulumi.Input<string>;
  /** Protocol of `imageServer`: `simplestreams` (default) or `lxd`. Forces replacement. */
  imageProtocol?: pulumi.Input<"simplestreams" | "lxd">;
  /**
   * Instance config (LXD keys verbatim: `limits.memory`, `user.*`, `cloud-init.user-data`, …). Numbers and
   * booleans are stored as LXD stores them, as strings. Laid over the hardened defaults; a key that weakens
   * confinement is refused unless its class is in `securityOptOuts`, and so is a profile that weakens it (the
   * instance is judged with its profiles laid under it, read from LXD before every create and update). An empty
   * value never unsets a hardened default. Keys this package does not know are passed to LXD untouched.
   * Updated in place, three-way: only keys changed since the last apply are written, so keys set by others survive.
   */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** Devices: name → properties (`type` among them), as in LXD. Device access to the host is a `devices` weakening. */
  devices?: pulumi.Input<Record<string, pulumi.Input<Record<string, pulumi.Input<Scalar>>>>>;
  /** Profiles, applied in order (later ones win). Default `["default"]`. Each must exist in the instance's project. */
  profiles?: pulumi.Input<pulumi.Input<string>[]>;
  /** Ephemeral instances are deleted by LXD when they stop; they must be `running`. Default false. Forces replacement. */
  ephemeral?: pulumi.Input<boolean>;
  /** Free-form description. Default "". */
  description?: pulumi.Input<string>;
  /**
   * Desired state: true = running (a `Ready` status counts), false = stopped and never started by the provider.
   * Default true (false without `image`). Drift (started or stopped by hand) is corrected after a refresh.
   */
  running?: pulumi.Input<boolean>;
  /**
   * What runs inside, for nesting: sets `security.nesting=true` and sizes the isolated idmap for it
   * (docker/userns 131072 ids; LXD depth 1 196608, depth 2 327680). Default: no nesting. Removing it, or lowering
   * the size, would shrink the id map: refused unless `replaceOnIdmapShrink`.
   */
  nesting?: pulumi.Input<Nesting>;
  /**
   * Expose the guest API: `/dev/lxd` on LXD (`security.devlxd`), `/dev/incus` on Incus (`security.guestapi`); the
   * key of the server the instance is on is written. Default false. Setting either key in config instead is
   * refused (class `devlxd`). In place.
   */
  guestApi?: pulumi.Input<boolean>;
  /** The old name of {@link guestApi} (kept as an alias; when both are given they must agree). */
  devLxd?: pulumi.Input<boolean>;
  /**
   * Set the default limits (`limits.cpu=1`, `limits.memory=1GiB`, `limits.processes=2000`) on the instance.
   * Default true; false leaves limits to profiles (instance config would override a profile's).
   */
  defaultLimits?: pulumi.Input<boolean>;
  /**
   * Classes of confinement-weakening settings to accept (see the hardening policy: `privileged`, `idmap`, `seccomp`,
   * `apparmor`, `capabilities`, `devices`, `nesting`, `raw`, `kernel`, …). Accepted settings appear in
   * `securityReport.weakened` and as warnings.
   */
  securityOptOuts?: pulumi.Input<pulumi.Input<WeakeningClass>[]>;
  /** Operation time limits in seconds. */
  timeouts?: pulumi.Input<InstanceTimeouts>;
  /**
   * If an instance of this name exists, take it over (judged with its profiles, then updated to this definition)
   * instead of failing. A record LXD lost the storage of is replaced. Default false.
   */
  adopt?: pulumi.Input<boolean>;
  /**
   * Restart a running instance when keys that LXD applies only at start change (`security.idmap.*`, `raw.lxc`,
   * `security.privileged`, `security.syscalls.*`, `limits.kernel.*`, `linux.sysctl.*`, …), and when it is turned on
   * while keys are still pending from an earlier update (`restartRequired`). Default false: the change waits for the
   * next start and `restartRequired` says so.
   */
  restartOnChange?: pulumi.Input<boolean>;
  /**
   * Replace the instance (its data is lost) when its isolated id map would shrink (`security.idmap.size` lowered,
   * `nesting` removed). Default false: such a change is refused at preview (case C18).
   */
  replaceOnIdmapShrink?: pulumi.Input<boolean>;
  /**
   * Let destroy lift `security.protection.delete` (set it to false on the instance) and delete. Default false:
   * destroying a protected instance fails before anything is stopped (case C20).
   */
  liftDeleteProtection?: pulumi.Input<boolean>;
  /**
   * Conditions to wait for, in order, after the instance is created running and after an update starts or restarts
   * it; the create or update fails when one is not met in time, naming it and the time waited. Each takes
   * `timeoutSec` (default 300; -1 = no limit):
   * `{type: "ready"}` status `Ready` (API extension `instance_ready_state`; refused at preview on servers without it,
   * such as LXD 5.0), `{type: "agent"}` the VM agent answers (virtual machines only), `{type: "delay", seconds}`,
   * `{type: "exec", command, intervalSec?}` the command exits 0 (polled, default every second),
   * `{type: "ipv4" | "ipv6", nic}` the NIC (its name inside the instance) has a global address of that family.
   * Needs `running: true`. Default none. A change alone is no diff.
   */
  waitFor?: pulumi.Input<pulumi.Input<WaitCondition>[]>;
  /**
   * Cluster placement: a member name (`node2`) or `@<cluster group>` (`@gpu`), sent as `?target=` at create
   * (API extensions `clustering`, `clustering_groups`). A change is an update, never a replacement: the instance
   * is moved to the member (data kept); a group it already runs in is no change; a move to a group goes to the
   * group's online member with the fewest instances of the project. A running instance is moved only with
   * `allowRestartForMove` (LXD moves stopped containers only). Refused on a server that is not clustered.
   * Default: LXD chooses. See docs/cluster.md.
   */
  target?: pulumi.Input<string>;
  /** Allow a running instance to be stopped, moved to its new `target` member and started again. Default false. */
  allowRestartForMove?: pulumi.Input<boolean>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * An LXD instance (container by default), hardened by default: unprivileged, isolated idmap sized for its
 * nesting, LXD's seccomp policy with the compat deny list, `/dev/lxd` off, limits set. Settings that weaken
 * confinement are refused at preview unless their class is in `securityOptOuts`; accepted ones are reported in
 * `securityReport` and logged as warnings.
 */
export class Instance extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  declare readonly type: pulumi.Output<string>;
  declare readonly image: pulumi.Output<string | undefined>;
  declare readonly imageFingerprint: pulumi.Output<string>;
  declare readonly config: pulumi.Output<Record<string, string>>;
  declare readonly devices: pulumi.Output<Record<string, Record<string, string>>>;
  declare readonly profiles: pulumi.Output<string[]>;
  declare readonly running: pulumi.Output<boolean>;
  declare readonly status: pulumi.Output<string>;
  declare readonly expandedConfig: pulumi.Output<Record<string, string>>;
  declare readonly expandedDevices: pulumi.Output<Record<string, Record<string, string>>>;
  declare readonly securityReport: pulumi.Output<SecurityReport>;
  /** True when keys LXD applies only at start changed while the instance ran, and it has not restarted since. */
  declare readonly restartRequired: pulumi.Output<boolean>;
  /** Those keys. */
  declare readonly restartPendingKeys: pulumi.Output<string[]>;
  /** The cluster member the instance runs on (LXD's `location`); "" on a server that is not clustered. */
  declare readonly location: pulumi.Output<string>;

  constructor(name: string, args: InstanceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("instance"),
      name,
      {
        ...args,
        name: args.name ?? name,
        status: undefined, imageFingerprint: undefined, expandedConfig: undefined, expandedDevices: undefined, securityReport: undefined,
        restartRequired: undefined, restartPendingKeys: undefined, lastUsedAt: undefined, location: undefined,
      },
      opts,
      "lxd",
      "Instance",
    );
    warnWeakened(this, args.config, args.devices, args.securityOptOuts, { nesting: args.nesting, devLxd: args.guestApi ?? args.devLxd });
  }
}

/** Logs one warning per accepted weakening (inputs known at program time). */
export function warnWeakened(
  res: pulumi.Resource,
  config: InstanceArgs["config"],
  devices: InstanceArgs["devices"],
  optOuts: InstanceArgs["securityOptOuts"],
  asked: { nesting?: InstanceArgs["nesting"]; devLxd?: InstanceArgs["devLxd"] } = {},
): void {
  pulumi.all([pulumi.output(config ?? {}), pulumi.output(devices ?? {}), pulumi.output(optOuts ?? []), pulumi.output(asked.nesting), pulumi.output(asked.devLxd)])
    .apply(([c, d, o, nesting, devLxd]) => {
      const findings = assess(normalizeConfig(c), normalizeDevices(d), { nesting: nesting as Nesting | undefined, devLxd: devLxd as boolean | undefined });
      for (const f of applyOptOuts(findings, o as WeakeningClass[]).weakened) pulumi.log.warn(`${f.key} weakens confinement (opted out with "${f.class}"): ${f.reason}`, res);
    });
}
