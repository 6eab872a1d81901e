/**
 * TenantProject: a restricted LXD project for one tenant of a shared host, and its hardened `default` profile.
 *
 * Children: a {@link Project} with `restricted=true` and every `restricted.*` key written out (LXD 5.0 keys, see
 * {@link tenantRestrictions}), its own images, profiles and storage volumes (`features.images`,
 * `features.profiles`, `features.storage.volumes` = true, so one tenant can neither use nor replace another's
 * images or profiles), no own networks (`features.networks=false`), and project-wide limits; and the project's
 * `default` {@link Profile}, adopted (LXD creates it with the project; on destroy it is put back, never deleted)
 * and given a root disk on the pool, per-instance limits and an isolated idmap, so that what the tenant
 * launches by hand (`lxc launch … --project <name>`) passes the project's restrictions.
 *
 * What the restrictions block (LXD refuses the instance or profile at create/update):
 * privileged containers and containers with `security.idmap.isolated=false` (`restricted.containers.privilege=isolated`;
 * LXD 5.0 refuses only an explicit `false`, an unset key means a shared map — hence the `default` profile sets
 * it to `true`), low-level keys (`raw.lxc`, `raw.idmap`, `raw.apparmor`, `raw.seccomp`, `raw.qemu`,
 * `linux.kernel_modules`, `security.idmap.size`/`base`: `restricted.containers.lowlevel` and
 * `restricted.virtual-machines.lowlevel` = block), nesting and syscall interception (all three unless `allowNesting`), host device passthrough (`gpu`, `pci`, `usb`, `unix-char`,
 * `unix-block`, `unix-hotplug`, `infiniband` = block; disks only from a storage pool: `restricted.devices.disk=managed`),
 * host networking (`proxy` devices blocked; NICs blocked entirely unless `networks` names managed networks,
 * then only those: `restricted.devices.nic=managed` + `restricted.networks.access`), backups and direct
 * cluster-member targeting.
 *
 * Volumes (`volumes`): custom filesystem volumes of the project (`features.storage.volumes=true`: only the
 * tenant's instances see them), on the tenant's pool, created here and mounted nowhere: a tenant-level store the
 * tenant's containers mount by name (a `disk` device `{pool, source: <name>, path}`, which
 * `restricted.devices.disk=managed` allows). A container's own data belongs in {@link HardenedContainer}'s
 * `volumes`, which creates and mounts it for that container in the same project.
 *
 * Instances in the project must set `limits.cpu`, `limits.memory` and `limits.processes` (directly or by a
 * profile) because the project limits them; with `limits.disk`, also a root disk `size`. The `default`
 * profile does so; a {@link HardenedContainer} does so through its own profile (give it `rootSize` when the
 * project has `limits.disk`).
 */
import * as pulumi from "@pulumi/pulumi";
import { Profile } from "../resources/profile";
import { Project } from "../resources/project";
import { StorageVolume } from "../resources/storage-volume";
import type { ConnectionArgs } from "../provider/rules/connection";
import { PROJECT_NAME } from "../provider/rules/names";
import { DEFAULT_LIMITS } from "../provider/policy";
import type { ContainerLimits } from "./hardened-container";
import { checkKnown, isSizeString, type Validation } from "./validation";
import { validateVolumes, type TenantVolume } from "./volumes";

type Scalar = string | number | boolean;

/** Project-wide limits (LXD project keys `limits.*`: sums over all instances of the project). */
export interface TenantLimits {
  /** `limits.instances`: maximum number of instances (containers and VMs). Default `10`. */
  instances?: pulumi.Input<number>;
  /** `limits.containers`: maximum number of containers. Default: no separate limit. */
  containers?: pulumi.Input<number>;
  /** `limits.virtual-machines`: maximum number of virtual machines. Default: no separate limit. */
  virtualMachines?: pulumi.Input<number>;
  /** `limits.cpu`: maximum sum of the instances' `limits.cpu`. Default `10` (ten default-sized instances). */
  cpu?: pulumi.Input<number>;
  /** `limits.memory`: maximum sum of the instances' `limits.memory`, a size (`"10GiB"`). Default `"10GiB"`. */
  memory?: pulumi.Input<string>;
  /** `limits.processes`: maximum sum of the instances' `limits.processes`. Default `20000`. */
  processes?: pulumi.Input<number>;
  /**
   * `limits.disk`: maximum disk space of all the project's volumes and images, a size (`"50GiB"`). Default: none.
   * When set, every instance needs a root disk `size`: give `rootSize` (here and on each HardenedContainer).
   */
  disk?: pulumi.Input<string>;
}

/** Inputs of {@link TenantProject}. */
export interface TenantProjectArgs {
  /**
   * Project name (LXD: non-empty, no spaces, slashes, underscores or quotes). Default: the resource name.
   * Changing it renames the project in place, which LXD allows only while the project is empty.
   */
  name?: pulumi.Input<string>;
  /** Project description. Default "". Updated in place. */
  description?: pulumi.Input<string>;
  /** Project-wide limits. Defaults: 10 instances, 10 CPUs, 10GiB memory, 20000 processes. Updated in place. */
  limits?: TenantLimits;
  /**
   * Per-instance limits set in the project's `default` profile (what a tenant's own `lxc launch` gets).
   * Defaults: 1 CPU, 1GiB, 2000 processes. Updated in place.
   */
  instanceLimits?: ContainerLimits;
  /** Storage pool of the `default` profile's root disk. Default `default`. Updated in place. */
  pool?: pulumi.Input<string>;
  /** Root disk size in the `default` profile (`"10GiB"`). Default: none; required with `limits.disk`. Updated in place. */
  rootSize?: pulumi.Input<string>;
  /**
   * Managed networks (of the `default` project) the tenant's instances may attach NICs to
   * (`restricted.networks.access`; `restricted.devices.nic=managed`). Default `[]`: no NICs at all
   * (`restricted.devices.nic=block`). Updated in place.
   */
  networks?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Let the tenant run nesting containers (Docker, LXD inside): `restricted.containers.nesting=allow`,
   * `restricted.containers.interception=allow` (LXD's safe syscall interception; mount interception stays
   * blocked) and — because LXD 5.0 counts `security.idmap.size` as a low-level key and a nesting container
   * needs a larger isolated map than the default 65536 ids — `restricted.containers.lowlevel=allow`, which also
   * lets the tenant set `raw.lxc`, `raw.idmap` and `linux.kernel_modules`. Only for trusted tenants.
   * Default `false`. Updated in place.
   */
  allowNesting?: pulumi.Input<boolean>;
  /** Let the tenant take instance and volume snapshots (`restricted.snapshots=allow`). Default `false` (LXD's default). Updated in place. */
  allowSnapshots?: pulumi.Input<boolean>;
  /**
   * Tenant-level volumes: name → `{size, pool?, config?, description?}`. Each is a custom filesystem volume of
   * that name (1–63 letters, digits, `.`, `_`, `-`) in the project, on `pool` (default: this component's `pool`),
   * created but not mounted (mount one with a disk device `{type: "disk", pool, source: <name>, path}` in a
   * HardenedContainer's `devices` or an InstanceDevice). `size` is required (a project with `limits.disk` refuses
   * volumes without one). A `snapshots.schedule` needs `allowSnapshots: true`. The set of names must be known when
   * the program runs. Default: none.
   */
  volumes?: Record<string, TenantVolume>;
  /**
   * More project config, laid over what this component sets (LXD project keys verbatim: `user.*`,
   * `restricted.idmap.uid`, `limits.*`, even `restricted.*` — an override here loosens the tenant's
   * restrictions and is the user's explicit choice). Default `{}`. `features.*` cannot change once the
   * project holds anything.
   */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/** Defaults of the project-wide limits. */
export const DEFAULT_TENANT_LIMITS = { instances: 10, cpu: 10, memory: "10GiB", processes: 20000 } as const;

/**
 * The `restricted.*` config of a tenant project (LXD 5.0 keys; each written out, so that what the tenant may do
 * is visible in the program and in `lxc project show`, not left to LXD's defaults).
 */
export function tenantRestrictions(opts: { networks: string[]; allowNesting: boolean; allowSnapshots: boolean }): Record<string, string> {
  const allowIf = (b: boolean) => (b ? "allow" : "block");
  return {
    restricted: "true",
    "restricted.containers.privilege": "isolated",
    // LXD 5.0 counts security.idmap.size as low-level, and a nesting container needs a map larger than the
    // default 65536 ids: nesting therefore needs low-level keys allowed (raw.lxc included).
    "restricted.containers.lowlevel": allowIf(opts.allowNesting),
    "restricted.containers.nesting": allowIf(opts.allowNesting),
    "restricted.containers.interception": allowIf(opts.allowNesting),
    "restricted.virtual-machines.lowlevel": "block",
    "restricted.devices.disk": "managed",
    "restricted.devices.gpu": "block",
    "restricted.devices.pci": "block",
    "restricted.devices.usb": "block",
    "restricted.devices.unix-char": "block",
    "restricted.devices.unix-block": "block",
    "restricted.devices.unix-hotplug": "block",
    "restricted.devices.infiniband": "block",
    "restricted.devices.proxy": "block",
    "restricted.devices.nic": opts.networks.length ? "managed" : "block",
    ...(opts.networks.length ? { "restricted.networks.access": opts.networks.join(",") } : {}),
    "restricted.backups": "block",
    "restricted.snapshots": allowIf(opts.allowSnapshots),
    "restricted.cluster.target": "block",
  };
}

/**
 * A restricted LXD project for a tenant of a shared host, with its hardened `default` profile.
 *
 * Outputs: `name` (the project name, to give instances as `project`), `project`, `profile` and
 * `storageVolumes` (the child resources: the Project, its adopted `default` Profile, its volumes), `pool`,
 * `volumes` (volume key → LXD name).
 */
export class TenantProject extends pulumi.ComponentResource {
  /**
   * The project name, once the project exists and its default profile is hardened (pass it as `project` to
   * instances and containers: they then depend on both, so destroy removes them before the profile is put back).
   */
  readonly name: pulumi.Output<string>;
  /** The Project resource. */
  readonly project: Project;
  /** The project's `default` profile (adopted; put back, never deleted, on destroy). */
  readonly profile: Profile;
  /**
   * Whether the tenant may run nesting containers and set low-level keys (`allowNesting`), when known at program
   * time (undefined when `allowNesting` is an output). A {@link HardenedContainer} given this project as `tenant`
   * checks its `nesting` and low-level config against it at preview.
   */
  readonly allowsNesting: boolean | undefined;
  /**
   * Whether the tenant may take snapshots (`allowSnapshots`), when known at program time. A {@link HardenedContainer}
   * given this project as `tenant` refuses a volume `snapshots.schedule` at preview when this is false.
   */
  readonly allowsSnapshots: boolean | undefined;
  /** The tenant's storage pool (`pool`, default `default`): the default pool of its volumes and of HardenedContainer volumes in it. */
  readonly pool: pulumi.Output<string>;
  /** The tenant-level volumes (key of `volumes` → its StorageVolume). */
  readonly storageVolumes: Record<string, StorageVolume>;
  /** Names of the tenant-level volumes, as LXD has them (key → name). `{}` without volumes. */
  readonly volumes: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: TenantProjectArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    validateTenantProjectArgs(args);
    super("lxd:components:TenantProject", name, {}, opts);

    const limits = args.limits ?? {};
    const projectLimits = pulumi
      .all([limits.instances ?? DEFAULT_TENANT_LIMITS.instances, limits.containers, limits.virtualMachines, limits.cpu ?? DEFAULT_TENANT_LIMITS.cpu,
        limits.memory ?? DEFAULT_TENANT_LIMITS.memory, limits.processes ?? DEFAULT_TENANT_LIMITS.processes, limits.disk])
      .apply(([instances, containers, vms, cpu, memory, processes, disk]) => {
        const out: Record<string, Scalar> = { "limits.instances": instances, "limits.cpu": cpu, "limits.memory": memory, "limits.processes": processes };
        if (containers !== undefined) out["limits.containers"] = containers;
        if (vms !== undefined) out["limits.virtual-machines"] = vms;
        if (disk !== undefined) out["limits.disk"] = disk;
        return out;
      });
    const config = pulumi
      .all([projectLimits, args.networks ?? [], args.allowNesting ?? false, args.allowSnapshots ?? false, args.config ?? {}])
      .apply(([lim, networks, allowNesting, allowSnapshots, extra]) => ({
        "features.images": "true",
        "features.profiles": "true",
        "features.storage.volumes": "true",
        "features.networks": "false",
        ...lim,
        ...tenantRestrictions({ networks, allowNesting, allowSnapshots }),
        ...extra,
      }));

    this.project = new Project(name, {
      name: args.name ?? name,
      description: args.description,
      config,
      connection: args.connection,
    }, { parent: this });

    const il = args.instanceLimits ?? {};
    this.profile = new Profile(`${name}-default`, {
      name: "default",
      // The project's name is an output: the profile waits for the project to exist.
      project: this.project.name,
      description: this.project.name.apply((p) => `Hardened default profile of tenant project ${p}`),
      config: {
        "limits.cpu": il.cpu ?? DEFAULT_LIMITS["limits.cpu"],
        "limits.memory": il.memory ?? DEFAULT_LIMITS["limits.memory"],
        "limits.processes": il.processes ?? DEFAULT_LIMITS["limits.processes"],
        "security.idmap.isolated": "true",
        "security.devlxd": "false",
        "security.syscalls.deny_compat": "true",
      },
      devices: {
        root: pulumi.all([args.pool ?? "default", args.rootSize]).apply(([pool, size]) => ({ type: "disk", path: "/", pool, ...(size ? { size } : {}) })),
      },
      connection: args.connection,
    }, { parent: this });

    this.pool = pulumi.output(args.pool ?? "default");
    this.storageVolumes = {};
    for (const [key, v] of Object.entries(args.volumes ?? {})) {
      this.storageVolumes[key] = new StorageVolume(`${name}-vol-${key}`, {
        name: key,
        // The project's name is an output: the volume waits for the project, and goes before it on destroy.
        project: this.project.name,
        pool: v.pool ?? this.pool,
        contentType: "filesystem",
        size: v.size,
        config: v.config,
        description: v.description,
        connection: args.connection,
      }, { parent: this });
    }
    this.volumes = pulumi.all(Object.fromEntries(Object.entries(this.storageVolumes).map(([k, v]) => [k, v.name])));

    // The name resolves once the default profile holds its hardened config too: instances given `name` as their
    // project then depend on the profile, so they are created after it and deleted before it is emptied (Incus
    // refuses to empty it while an instance of the restricted project would lose its limits.cpu through it).
    this.name = pulumi.all([this.project.name, this.profile.name]).apply(([n]) => n);
    this.allowsNesting = args.allowNesting === undefined ? false : typeof args.allowNesting === "boolean" ? args.allowNesting : undefined;
    this.allowsSnapshots = args.allowSnapshots === undefined ? false : typeof args.allowSnapshots === "boolean" ? args.allowSnapshots : undefined;
    this.registerOutputs({ name: this.name, project: this.project, profile: this.profile, pool: this.pool, storageVolumes: this.storageVolumes, volumes: this.volumes });
  }
}

/**
 * Checks the values of {@link TenantProjectArgs} known when the program runs.
 * @throws pulumi.InputPropertyError naming the first bad property.
 */
export function validateTenantProjectArgs(args: TenantProjectArgs): void {
  const count = (min: number) => (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= min;
  const l = args.limits ?? {};
  const il = args.instanceLimits ?? {};
  const rules: Validation[] = [
    ["name", args.name, (v) => typeof v === "string" && PROJECT_NAME.re.test(v) && v !== "default", `must be a new project name (not "default"): it ${PROJECT_NAME.mustBe}`],
    ["pool", args.pool, (v) => typeof v === "string" && /^[^\s/]+$/.test(v), "must name a storage pool (non-empty, no spaces or slashes)"],
    ["rootSize", args.rootSize, isSizeString, "must be a size with a unit, such as \"10GiB\""],
    ["limits.instances", l.instances, count(0), "must be a whole number, 0 or more"],
    ["limits.containers", l.containers, count(0), "must be a whole number, 0 or more"],
    ["limits.virtualMachines", l.virtualMachines, count(0), "must be a whole number, 0 or more"],
    ["limits.cpu", l.cpu, count(1), "must be a whole number of CPUs, 1 or more"],
    ["limits.memory", l.memory, isSizeString, "must be a size with a unit, such as \"10GiB\""],
    ["limits.processes", l.processes, count(1), "must be a whole number of processes, 1 or more"],
    ["limits.disk", l.disk, isSizeString, "must be a size with a unit, such as \"50GiB\""],
    ["instanceLimits.cpu", il.cpu, (v) => (typeof v === "number" ? Number.isInteger(v) && v >= 1 : typeof v === "string" && /^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v)), "must be a number of CPUs (1 or more) or a CPU set such as \"0-3\""],
    ["instanceLimits.memory", il.memory, (v) => isSizeString(v) || (typeof v === "string" && /^\d{1,3}%$/.test(v)), "must be a size with a unit (\"1GiB\") or a percentage (\"50%\")"],
    ["instanceLimits.processes", il.processes, count(1), "must be a whole number of processes, 1 or more"],
  ];
  checkKnown(rules);
  if (Array.isArray(args.networks)) {
    checkKnown(args.networks.map((v, i): Validation => [`networks[${i}]`, v, (x) => typeof x === "string" && /^[^\s/,]+$/.test(x), "must be a network name (no spaces, slashes or commas)"]));
  }
  validateVolumes(args.volumes, "tenant", {
    snapshotsAllowed: args.allowSnapshots === undefined ? false : typeof args.allowSnapshots === "boolean" ? args.allowSnapshots : undefined,
    snapshotsHint: "set allowSnapshots: true",
  });
  if (typeof l.disk === "string" && args.rootSize === undefined) {
    throw new pulumi.InputPropertyError({
      propertyPath: "rootSize",
      reason: "rootSize is required with limits.disk (LXD refuses instances without a root disk size in a project with limits.disk), but none was provided",
    });
  }
}
