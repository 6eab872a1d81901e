/**
 * HardenedContainer: one LXD container with its own profile, hardened by default.
 *
 * Children: a {@link Profile} (named like the container, in the container's project) holding the resource
 * limits, the root disk on the chosen storage pool and the user's devices; and an {@link Instance} that gets
 * `extraProfiles` and then that profile — and NOT the project's `default` profile unless listed in
 * `extraProfiles`.
 *
 * Why not `default` + own: the `default` profile is shared, mutable state that other people (and `lxd init`)
 * edit. On most hosts it carries a NIC on `lxdbr0`, on some a privileged or nesting setting; whatever it holds
 * would silently become part of every container. With its own profile only, everything the container is made
 * of is in this program: the root disk, the devices, the limits — and the preview shows all of it. A user who
 * wants the default profile's NIC says so with `extraProfiles: ["default"]` (the own profile still comes last,
 * so its limits and root disk win).
 *
 * Data volumes (`volumes`): each is a {@link StorageVolume} (custom, filesystem) named `<container>-<key>` in the
 * container's project and pool, mounted by a `disk` device named `<key>` (`pool`, `source`, `path`, `readonly`) in
 * the instance's own devices (not the profile: the volume belongs to this container, and LXD's `used_by` then
 * names the instance). The instance depends on its volumes, so Pulumi creates them first and deletes the instance
 * before them (LXD refuses to delete a volume in use, and so does StorageVolume). The volumes depend on the
 * profile, so a rename never updates the profile and a volume of the same instance at the same time.
 *
 * Limits live in the profile (the instance is created with `defaultLimits: false`), so a restricted project's
 * "every instance must set limits.*" rule is met by the profile; the hardened security config (unprivileged,
 * isolated idmap sized for `nesting`, seccomp, `/dev/lxd` off) stays on the instance, where a profile cannot
 * weaken it.
 */
import * as pulumi from "@pulumi/pulumi";
import type { TenantProject } from "./tenant-project";
import { Instance, type InstanceTimeouts } from "../resources/instance";
import { Profile } from "../resources/profile";
import { StorageVolume } from "../resources/storage-volume";
import type { ConnectionArgs } from "../provider/rules/connection";
import { PROJECT_NAME } from "../provider/rules/names";
import { DEFAULT_LIMITS, WEAKENING_CLASSES, type Nesting, type SecurityReport, type WeakeningClass } from "../provider/policy";
import { checkKnown, instanceNameRule, isKnown, isSizeString, type Validation } from "./validation";
import { validateVolumes, type ContainerVolume } from "./volumes";

type Scalar = string | number | boolean;

/** Per-container resource limits (LXD instance keys `limits.cpu`, `limits.memory`, `limits.processes`), set in the container's profile. */
export interface ContainerLimits {
  /** `limits.cpu`: number of CPUs (e.g. `2`), or a CPU set (`"0-3"`, `"0,2"`). Default `1`. */
  cpu?: pulumi.Input<number | string>;
  /** `limits.memory`: a size with unit (`"512MiB"`, `"2GiB"`) or a percentage of host memory (`"50%"`). Default `"1GiB"`. */
  memory?: pulumi.Input<string>;
  /** `limits.processes`: the maximum number of processes. Default `2000`. */
  processes?: pulumi.Input<number>;
}

/**
 * Replicas of a {@link HardenedContainer} spread over cluster members: `count` containers named `<name>-1` …
 * `<name>-<count>`, sharing the component's profile.
 */
export interface ContainerReplicas {
  /** How many containers (1–64). A plain number: it decides how many resources the program declares. */
  count: number;
  /**
   * Where they run: a list of cluster member names, used round-robin (replica i on `targets[(i-1) % length]`), or
   * one `"@<cluster group>"` that every replica targets (LXD picks the member of the group for each).
   */
  targets: string[] | string;
}

/** Inputs of {@link HardenedContainer}. */
export interface HardenedContainerArgs {
  /**
   * Name of the container and of its profile (LXD: 1–63 letters, digits and dashes, starting with a letter).
   * Default: the resource name. Changing it renames both in place (the container is stopped for the rename).
   */
  name?: pulumi.Input<string>;
  /**
   * LXD project of the container and its profile. Default `default` (or the `tenant`'s project). The project must
   * have `features.profiles=true` (its own profiles): otherwise the container's profile is refused, since it would
   * land in the `default` project's profiles. Changing it forces replacement of both.
   */
  project?: pulumi.Input<string>;
  /**
   * A {@link TenantProject} to run in, instead of `project`: its restrictions are known here, so `nesting` or a
   * low-level key (`raw.*`, `linux.kernel_modules`, `security.idmap.*`) that the tenant does not allow
   * (`allowNesting: false`) fails at preview, naming the input to change, instead of at create with LXD's error.
   */
  tenant?: TenantProject;
  /**
   * Image alias or fingerprint, looked up in the container's project (its own images when the project has
   * `features.images=true`), or on `imageServer`. Changing it forces replacement of the container.
   */
  image: pulumi.Input<string>;
  /** Remote image server URL (simplestreams or LXD). Default: a local image. Changing it forces replacement. */
  imageServer?: pulumi.Input<string>;
  /** Protocol of `imageServer`: `simplestreams` (default) or `lxd`. Changing it forces replacement. */
  imageProtocol?: pulumi.Input<"simplestreams" | "lxd">;
  /** Desired state: `true` running (LXD's `Ready` counts), `false` stopped and never started. Default `true`. Updated in place. */
  running?: pulumi.Input<boolean>;
  /**
   * What runs inside, for nesting (`workload`: `docker`, `lxd` with `depth`/`childInstances`, or `userns`):
   * sets `security.nesting=true` and sizes the isolated idmap for it (docker/userns 131072 ids). Default: no
   * nesting. Updated in place (LXD applies a new idmap at the next start).
   */
  nesting?: pulumi.Input<Nesting>;
  /** Resource limits, set in the container's profile. Defaults: 1 CPU, 1GiB, 2000 processes. Updated in place. */
  limits?: ContainerLimits;
  /**
   * Storage pool of the root disk (the profile's `root` device, `pool=`). Default `default`. Changing it updates
   * the profile in place, which LXD refuses while the container's root volume is on the old pool: to move a
   * container to another pool, replace it (e.g. with a new `name`).
   */
  pool?: pulumi.Input<string>;
  /**
   * Root disk size (`size=` on the root device), e.g. `"10GiB"`. Default: none (the pool's default). Required in a
   * project with `limits.disk` set (LXD refuses instances without a root size there). Updated in place.
   */
  rootSize?: pulumi.Input<string>;
  /**
   * Devices (name → LXD device properties, `type` among them) added to the profile, e.g. a NIC on a managed
   * network. A device named `root` replaces the generated root disk. Devices that reach the host (unix-char,
   * gpu, a host path disk, …) are refused unless `devices` is in `securityOptOuts`. Default none. Updated in place.
   */
  devices?: pulumi.Input<Record<string, pulumi.Input<Record<string, pulumi.Input<Scalar>>>>>;
  /**
   * Instance config (LXD keys verbatim: `user.*`, `cloud-init.user-data`, `boot.autostart`, …), laid over the
   * hardened defaults on the instance. Weakening keys are refused unless their class is in `securityOptOuts`.
   * Default `{}`. Updated in place.
   */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /**
   * Classes of confinement-weakening settings to accept (`privileged`, `idmap`, `seccomp`, `apparmor`,
   * `capabilities`, `devices`, `nesting`, `raw`), for both the instance and its profile. Accepted settings are
   * listed in `securityReport.weakened` and logged as warnings. Default none.
   */
  securityOptOuts?: pulumi.Input<pulumi.Input<WeakeningClass>[]>;
  /**
   * Profiles applied before the container's own profile (later ones win; the own profile is always last).
   * Default `[]`: not even `default` (see the module comment). Updated in place.
   */
  extraProfiles?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Data volumes: name → `{size, path, pool?, config?, readOnly?}`. Each is a custom filesystem volume named
   * `<container>-<name>` (LXD volume name rule: 1–63 letters, digits, `.`, `_`, `-`) in the container's project,
   * on `pool` (default: this component's `pool`, else the `tenant`'s pool, else `default`), mounted at `path` by a
   * disk device `<name>` on the instance. The set of names must be known when the program runs (a plain object);
   * the fields may be outputs. Volume config is judged by the hardening policy (`security.shifted` needs `idmap`
   * in `securityOptOuts`). Adding a volume creates it and hot-plugs it; removing one unmounts it, then deletes it
   * with its data; `size` grows in place (shrinking is refused); `pool` forces replacement of the volume.
   * Renaming the container renames its volumes first, which LXD refuses while the container runs: stop it
   * (`lxc stop`) before the rename; the update starts it again.
   * Default: none.
   */
  volumes?: Record<string, ContainerVolume>;
  /** Description of the container and its profile. Default "". Updated in place. */
  description?: pulumi.Input<string>;
  /** Operation time limits, in seconds (create, start, stop grace, update, delete). Defaults: 600 s each, 30 s stop grace. */
  timeouts?: pulumi.Input<InstanceTimeouts>;
  /**
   * Cluster placement of the container: a member name or `"@<cluster group>"` (the Instance's `target`; a change
   * moves it, see docs/cluster.md). Default: LXD chooses. Not with `replicas`.
   */
  target?: pulumi.Input<string>;
  /** Allow a running container to be stopped and started again to move it to a new `target`. Default false. */
  allowRestartForMove?: pulumi.Input<boolean>;
  /**
   * Spread `count` containers over cluster members or a group instead of one container (see
   * {@link ContainerReplicas}). Default: one container named `name`, exactly as without clusters.
   */
  replicas?: ContainerReplicas;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * A hardened LXD container with its own profile: unprivileged, isolated idmap (sized for `nesting`), LXD's
 * seccomp policy plus the compat deny list, `/dev/lxd` off, limits and root disk in its profile, nothing
 * inherited from the `default` profile.
 *
 * Outputs: `instance`, `profile` and `storageVolumes` (the child resources), `name`, `project`, `status` (LXD's
 * status, `Running` once up), `volumes` (volume key → LXD volume name), `securityReport` (what confinement the
 * container really has, after profiles).
 */
export class HardenedContainer extends pulumi.ComponentResource {
  /** The container (with `replicas`: the first replica). */
  readonly instance: Instance;
  /** Every container: `[instance]`, or the replicas in order. */
  readonly instances: Instance[];
  /** The cluster member each container runs on (LXD's `location`; "" on a server that is not clustered). */
  readonly locations: pulumi.Output<string[]>;
  /** The container's own profile (limits, root disk, devices). */
  readonly profile: Profile;
  /** The data volumes (key of `volumes` → its StorageVolume). */
  readonly storageVolumes: Record<string, StorageVolume>;
  /** Key of `volumes` → the LXD name of its volume (`<container>-<key>`). `{}` without volumes. */
  readonly volumes: pulumi.Output<Record<string, string>>;
  /** Container name, as LXD has it. */
  readonly name: pulumi.Output<string>;
  /** Project of the container and its profile. */
  readonly project: pulumi.Output<string>;
  /** LXD's status of the container (`Running`, `Stopped`, …). */
  readonly status: pulumi.Output<string>;
  /** What confinement the container really has (effective config after profiles). */
  readonly securityReport: pulumi.Output<SecurityReport>;

  constructor(name: string, args: HardenedContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    validateHardenedContainerArgs(args, name);
    super("lxd:components:HardenedContainer", name, {}, opts);

    const resourceName = args.name ?? name;
    const limits = args.limits ?? {};
    const rootDisk = pulumi
      .all([args.pool ?? "default", args.rootSize])
      .apply(([pool, size]) => ({ type: "disk", path: "/", pool, ...(size ? { size } : {}) }));

    this.profile = new Profile(`${name}-profile`, {
      name: resourceName,
      project: args.tenant ? args.tenant.name : args.project,
      description: args.description,
      config: {
        "limits.cpu": limits.cpu ?? DEFAULT_LIMITS["limits.cpu"],
        "limits.memory": limits.memory ?? DEFAULT_LIMITS["limits.memory"],
        "limits.processes": limits.processes ?? DEFAULT_LIMITS["limits.processes"],
      },
      devices: pulumi.all([rootDisk, args.devices ?? {}]).apply(([root, devices]) => ({ root, ...devices })),
      securityOptOuts: args.securityOptOuts,
      connection: args.connection,
    }, { parent: this });

    const project = args.tenant ? args.tenant.name : args.project;
    const volumePool = args.pool ?? args.tenant?.pool ?? "default";
    this.storageVolumes = {};
    const mounts: Record<string, pulumi.Output<Record<string, string>>> = {};
    for (const [key, v] of Object.entries(args.volumes ?? {})) {
      const vol = new StorageVolume(`${name}-vol-${key}`, {
        name: pulumi.interpolate`${resourceName}-${key}`,
        pool: v.pool ?? volumePool,
        project,
        contentType: "filesystem",
        size: v.size,
        config: v.config,
        description: pulumi.interpolate`Data volume ${key} of container ${resourceName}`,
        securityOptOuts: args.securityOptOuts,
        connection: args.connection,
        // After the profile: a profile update and a volume rename touching the same instance at once collide in
        // LXD ("A matching non-reusable operation has now succeeded", measured on 5.0.2 when the container is renamed).
      }, { parent: this, dependsOn: [this.profile] });
      this.storageVolumes[key] = vol;
      mounts[key] = pulumi.all([vol.pool, vol.name, v.path, v.readOnly ?? false]).apply(([pool, source, path, ro]): Record<string, string> => ({
        type: "disk", pool, source, path, ...(ro ? { readonly: "true" } : {}),
      }));
    }
    const volumeList = Object.values(this.storageVolumes);

    const replicas = args.replicas;
    const spec = (i: number) => ({
      name: replicas ? pulumi.output(resourceName).apply((n) => `${n}-${i + 1}`) : resourceName,
      target: !replicas ? args.target : typeof replicas.targets === "string" ? replicas.targets : replicas.targets[i % replicas.targets.length],
    });
    const instanceArgs = (i: number) => ({
      ...spec(i),
      project,
      image: args.image,
      imageServer: args.imageServer,
      imageProtocol: args.imageProtocol,
      config: args.config,
      // Volume mounts are the instance's own devices (the profile keeps the root disk and the user's devices).
      ...(volumeList.length ? { devices: pulumi.all(mounts) } : {}),
      // The own profile's name is an output: the instance waits for the profile to exist.
      profiles: pulumi.all([args.extraProfiles ?? [], this.profile.name]).apply(([extra, own]) => [...extra, own]),
      description: args.description,
      running: args.running,
      nesting: args.nesting,
      defaultLimits: false,
      securityOptOuts: args.securityOptOuts,
      timeouts: args.timeouts,
      allowRestartForMove: args.allowRestartForMove,
      connection: args.connection,
    });
    // Volumes first, instance last; on destroy the instance goes before its volumes (volumes and replicas exclude
    // each other: validateHardenedContainerArgs).
    this.instances = replicas
      ? Array.from({ length: replicas.count }, (_, i) => new Instance(`${name}-${i + 1}`, instanceArgs(i), { parent: this }))
      : [new Instance(name, instanceArgs(0), { parent: this, dependsOn: volumeList })];
    this.instance = this.instances[0];
    this.locations = pulumi.all(this.instances.map((i) => i.location));

    this.name = this.instance.name;
    this.project = this.instance.project;
    this.status = this.instance.status;
    this.securityReport = this.instance.securityReport;
    this.volumes = pulumi.all(Object.fromEntries(Object.entries(this.storageVolumes).map(([k, v]) => [k, v.name])));
    this.registerOutputs({
      instance: this.instance,
      instances: this.instances,
      locations: this.locations,
      profile: this.profile,
      storageVolumes: this.storageVolumes,
      volumes: this.volumes,
      name: this.name,
      project: this.project,
      status: this.status,
      securityReport: this.securityReport,
    });
  }
}

const CPU_RE = /^(\d+|\d+(-\d+)?(,\d+(-\d+)?)*)$/;

/**
 * Checks the values of {@link HardenedContainerArgs} that are known when the program runs (outputs of other
 * resources are checked later, by the providers).
 * @param resourceName the component's resource name (the container's name when `name` is not given), for the
 *   volume names `<container>-<key>`.
 * @throws pulumi.InputPropertyError naming the first bad property.
 */
export function validateHardenedContainerArgs(args: HardenedContainerArgs, resourceName?: string): void {
  const rules: Validation[] = [
    instanceNameRule("name", args.name),
    ["image", args.image, (v) => typeof v === "string" && v.trim() !== "", "must name an image alias or fingerprint"],
    ["project", args.project, (v) => typeof v === "string" && (v === "" || PROJECT_NAME.re.test(v)), `must be "" (the default project) or a project name that ${PROJECT_NAME.mustBe.replace("must be non-empty, ", "is ")}`],
    ["pool", args.pool, (v) => typeof v === "string" && /^[^\s/]+$/.test(v), "must name a storage pool (non-empty, no spaces or slashes)"],
    ["rootSize", args.rootSize, isSizeString, "must be a size with a unit, such as \"10GiB\""],
    ["limits.cpu", args.limits?.cpu, (v) => (typeof v === "number" ? Number.isInteger(v) && v >= 1 : typeof v === "string" && CPU_RE.test(v)), "must be a number of CPUs (1 or more) or a CPU set such as \"0-3\""],
    ["limits.memory", args.limits?.memory, (v) => isSizeString(v) || (typeof v === "string" && /^\d{1,3}%$/.test(v)), "must be a size with a unit (\"512MiB\", \"2GiB\") or a percentage (\"50%\")"],
    ["limits.processes", args.limits?.processes, (v) => typeof v === "number" && Number.isInteger(v) && v >= 1, "must be a whole number of processes, 1 or more"],
    ["nesting.workload", nestingPart(args.nesting, "workload"), (v) => v === "docker" || v === "lxd" || v === "userns", "must be docker, lxd or userns"],
    ["nesting.depth", nestingPart(args.nesting, "depth"), (v) => typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 4, "must be a whole number from 1 to 4"],
    ["nesting.childInstances", nestingPart(args.nesting, "childInstances"), (v) => typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 64, "must be a whole number from 1 to 64"],
  ];
  checkKnown(rules);
  checkTenant(args);
  checkReplicas(args);
  if (args.replicas !== undefined && args.volumes !== undefined && Object.keys(args.volumes).length) {
    throw new pulumi.InputPropertyError({
      propertyPath: "volumes",
      reason: "volumes must not be given with replicas (each replica would need volumes of its own, on its own cluster member); give each replica's data a StorageVolume and an InstanceDevice, or drop replicas",
    });
  }
  const containerName = args.name === undefined ? resourceName : typeof args.name === "string" ? args.name : undefined;
  validateVolumes(args.volumes, "container", {
    containerName,
    deviceNames: ["root", ...(isPlainObject(args.devices) ? Object.keys(args.devices) : [])],
    snapshotsAllowed: args.tenant ? args.tenant.allowsSnapshots : undefined,
    snapshotsHint: "set allowSnapshots: true on the TenantProject",
  });
  checkKnown(listItems(args.securityOptOuts, "securityOptOuts", (v) => typeof v === "string" && (WEAKENING_CLASSES as readonly string[]).includes(v), `must be one of ${WEAKENING_CLASSES.join(", ")}`));
  checkKnown(listItems(args.extraProfiles, "extraProfiles", (v) => typeof v === "string" && /^[^\s/]{1,63}$/.test(v), "must be a profile name (1–63 characters, no spaces or slashes)"));
  if (isPlainObject(args.devices)) {
    for (const [dev, props] of Object.entries(args.devices)) {
      if (isPlainObject(props) && !("type" in props)) {
        throw new pulumi.InputPropertyError({ propertyPath: `devices.${dev}`, reason: "must have a type (disk, nic, …)" });
      }
      const type = isPlainObject(props) ? props.type : undefined;
      if (dev === "root" && typeof type === "string" && type !== "disk") {
        throw new pulumi.InputPropertyError({ propertyPath: "devices.root", reason: `must be a disk (it replaces the root disk), but type "${type}" was provided` });
      }
    }
  }
}

const TARGET_RE = /^@?[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;

/** Checks `replicas` (plain values: they decide how many containers the program declares) and `target`. */
function checkReplicas(args: HardenedContainerArgs): void {
  const fail = (propertyPath: string, reason: string) => {
    throw new pulumi.InputPropertyError({ propertyPath, reason });
  };
  if (typeof args.target === "string" && !TARGET_RE.test(args.target)) fail("target", `must be a cluster member name or "@<cluster group>", but ${JSON.stringify(args.target)} was provided`);
  const r = args.replicas;
  if (r === undefined) return;
  if (args.target !== undefined) fail("target", "must not be given with replicas (replicas.targets places them)");
  if (!isPlainObject(r)) fail("replicas", "must be an object {count, targets}");
  if (!(typeof r.count === "number" && Number.isInteger(r.count) && r.count >= 1 && r.count <= 64)) fail("replicas.count", `must be a whole number from 1 to 64, but ${JSON.stringify(r.count)} was provided`);
  const t = r.targets;
  if (typeof t === "string") {
    if (!/^@[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(t)) fail("replicas.targets", `must be a list of member names or one "@<cluster group>", but ${JSON.stringify(t)} was provided`);
  } else if (!Array.isArray(t) || !t.length) {
    fail("replicas.targets", "must be a non-empty list of cluster member names or one \"@<cluster group>\"");
  } else {
    t.forEach((m, i) => {
      if (typeof m !== "string" || !TARGET_RE.test(m)) fail(`replicas.targets[${i}]`, `must be a cluster member name or "@<cluster group>", but ${JSON.stringify(m)} was provided`);
    });
  }
  if (typeof args.name === "string" && args.name.length + 1 + String(r.count).length > 63) {
    fail("name", `must leave room for the replica suffix "-${r.count}" within 63 characters, but ${JSON.stringify(args.name)} was provided`);
  }
}

function nestingPart(nesting: HardenedContainerArgs["nesting"], key: keyof Nesting): unknown {
  return isPlainObject(nesting) ? (nesting as Record<string, unknown>)[key] : undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !pulumi.Output.isInstance(v);
}

/** One rule per known element of a plain list input (`path[i]`). */
function listItems(list: unknown, path: string, ok: (v: unknown) => boolean, reason: string): Validation[] {
  return Array.isArray(list) ? list.map((v, i): Validation => [`${path}[${i}]`, v, ok, reason]) : [];
}

/** Config keys a restricted project blocks as low-level (`restricted.containers.lowlevel=block`, LXD 5.0). */
const LOW_LEVEL_KEY = /^(raw\.|linux\.kernel_modules$|security\.idmap\.(size|base)$)/;

/**
 * Checks a container against the restrictions of the `tenant` it runs in, known at program time.
 * @throws pulumi.InputPropertyError naming `nesting` or the config key, and the TenantProject input that allows it.
 */
function checkTenant(args: HardenedContainerArgs): void {
  const t = args.tenant;
  if (!t) return;
  if (args.project !== undefined) {
    throw new pulumi.InputPropertyError({ propertyPath: "project", reason: "project must not be given with tenant (the container runs in the tenant's project)" });
  }
  if (t.allowsNesting !== false) return;
  if (args.nesting !== undefined) {
    throw new pulumi.InputPropertyError({
      propertyPath: "nesting",
      reason: "nesting needs the tenant project to allow it (restricted.containers.nesting, .interception and .lowlevel), but its TenantProject has allowNesting: false; set allowNesting: true on the TenantProject, or drop nesting",
    });
  }
  const config = args.config;
  if (config && isKnown(config) && typeof config === "object") {
    const key = Object.keys(config).find((k) => LOW_LEVEL_KEY.test(k));
    if (key) {
      throw new pulumi.InputPropertyError({
        propertyPath: `config.${key}`,
        reason: `config.${key} is a low-level key that the tenant project blocks (restricted.containers.lowlevel=block); set allowNesting: true on the TenantProject (which allows low-level keys), or drop the key`,
      });
    }
  }
}
