/**
 * Instance: an LXD container (or virtual machine), hardened by default.
 *
 * LXD endpoints: POST /1.0/instances, GET|PUT|POST(rename)|DELETE /1.0/instances/{name},
 * PUT /1.0/instances/{name}/state, GET /1.0/images/aliases/{alias} (image lookup in the instance's project).
 *
 * Changing `project`, `type`, `image`, `imageServer`, `imageProtocol` or `ephemeral` forces replacement
 * (delete before create: LXD names are unique). `name` is renamed in place (the instance is stopped for the
 * rename and started again if it should run). Everything else is updated in place.
 */
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  checkWith, configKeySchema, diffProps, dropEmpty, normalizeConfig, normalizeDevices, normalizeProject, partialCreate, projectSchema,
  splitOwnership, stripUndefined, UNKNOWN,
} from "./common";
import { clientFor, connectionSchema, type ConnectionArgs, type ProviderConfig } from "./connection";
import {
  createInstance, deleteInstance, getInstance, getProject, resolveImageFingerprint, hostHasAppArmor, isConflict, isNotFound, isRunningStatus, renameInstance,
  startInstance, stopInstance, updateInstance, wrapLxdError, type ConfigMap, type DeviceMap, type Instance as LxdInstance, type LxdClient, 
} from "./lxd";
import {
  applyOptOuts, assess, hardenedConfig, idmapSizeFor, refusalMessage, securityReport, WEAKENING_CLASSES, type Nesting, type SecurityReport, type WeakeningClass,
} from "./security";
import { providerShim } from "./shim";

type Scalar = string | number | boolean;

/** Operation time limits, in seconds. Nothing else caps them (case C11). */
export interface InstanceTimeouts {
  /** Wait for the create operation (image unpack included). Default 600. */
  createSec?: number;
  /** Wait for a start. Default 600. */
  startSec?: number;
  /** Clean-shutdown grace before a stop is forced. Default 30. */
  stopGraceSec?: number;
  /** Wait for an update or rename. Default 600. */
  updateSec?: number;
  /** Wait for a delete. Default 600. */
  deleteSec?: number;
}

/** Inputs of {@link Instance}. */
export interface InstanceArgs {
  /** Instance name (LXD: 1–63 letters, digits and dashes, not starting with a digit or dash). Default: the resource name. Renamed in place. */
  name?: pulumi.Input<string>;
  /** LXD project. Default `default` (an empty project is the same). Changing it forces replacement. */
  project?: pulumi.Input<string>;
  /** `container` or `virtual-machine`. Default `container`. Changing it forces replacement. */
  type?: pulumi.Input<"container" | "virtual-machine">;
  /**
   * Image alias or fingerprint (full or unique prefix), looked up in the instance's project (its own images
   * when the project has `features.images=true`). With `imageServer`, an alias or fingerprint on that server.
   * Changing it forces replacement.
   */
  image: pulumi.Input<string>;
  /** Remote image server URL (e.g. a simplestreams server); omitted: a local image. Forces replacement. */
  imageServer?: pulumi.Input<string>;
  /** Protocol of `imageServer`: `simplestreams` (default) or `lxd`. Forces replacement. */
  imageProtocol?: pulumi.Input<"simplestreams" | "lxd">;
  /**
   * Instance config (LXD keys verbatim: `limits.memory`, `user.*`, `cloud-init.user-data`, …). Numbers and
   * booleans are stored as LXD stores them, as strings. Laid over the hardened defaults; a key that weakens
   * confinement is refused unless its class is in `securityOptOuts`. Keys this package does not know are
   * passed to LXD untouched.
   */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** Devices: name → properties (`type` among them), as in LXD. Device access to the host is a `devices` weakening. */
  devices?: pulumi.Input<Record<string, pulumi.Input<Record<string, pulumi.Input<Scalar>>>>>;
  /** Profiles, applied in order (later ones win). Default `["default"]`. */
  profiles?: pulumi.Input<pulumi.Input<string>[]>;
  /** Ephemeral instances are deleted by LXD when they stop. Default false. Forces replacement. */
  ephemeral?: pulumi.Input<boolean>;
  /** Free-form description. Default "". */
  description?: pulumi.Input<string>;
  /** Desired state: true = running (a `Ready` status counts), false = stopped and never started by the provider. Default true. */
  running?: pulumi.Input<boolean>;
  /**
   * What runs inside, for nesting: sets `security.nesting=true` and sizes the isolated idmap for it
   * (docker/userns 131072 ids; LXD depth 1 196608, depth 2 327680). Default: no nesting.
   */
  nesting?: pulumi.Input<Nesting>;
  /** Expose `/dev/lxd` (`security.devlxd`). Default false. */
  devLxd?: pulumi.Input<boolean>;
  /**
   * Set the default limits (`limits.cpu=1`, `limits.memory=1GiB`, `limits.processes=2000`) on the instance.
   * Default true; false leaves limits to profiles (instance config would override a profile's).
   */
  defaultLimits?: pulumi.Input<boolean>;
  /**
   * Classes of confinement-weakening settings to accept: `privileged`, `idmap`, `seccomp`, `apparmor`,
   * `capabilities`, `devices`, `nesting`, `raw`. Accepted settings appear in `securityReport.weakened` and as warnings.
   */
  securityOptOuts?: pulumi.Input<pulumi.Input<WeakeningClass>[]>;
  /** Operation time limits in seconds. */
  timeouts?: pulumi.Input<InstanceTimeouts>;
  /** If an instance of this name exists, take it over (update it to this definition) instead of failing. Default false. */
  adopt?: pulumi.Input<boolean>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/** Inputs after check: normalised, defaults applied. `config` is the desired instance-local config. */
export interface InstanceInputs {
  name: string;
  project: string;
  type: "container" | "virtual-machine";
  image: string;
  imageServer?: string;
  imageProtocol?: "simplestreams" | "lxd";
  config: ConfigMap;
  devices: DeviceMap;
  profiles: string[];
  ephemeral: boolean;
  description: string;
  running: boolean;
  nesting?: Nesting;
  devLxd: boolean;
  defaultLimits: boolean;
  securityOptOuts: WeakeningClass[];
  timeouts: InstanceTimeouts;
  adopt: boolean;
  connection?: ConnectionArgs;
}

/** State recorded after create/read/update. */
export interface InstanceOutputs extends InstanceInputs {
  /** LXD's status (`Running`, `Ready`, `Stopped`, …). */
  status: string;
  /** Fingerprint of the image the instance was created from (`volatile.base_image`). */
  imageFingerprint: string;
  /** Config after profiles are applied (server-owned keys left out). */
  expandedConfig: ConfigMap;
  /** Devices after profiles are applied. */
  expandedDevices: DeviceMap;
  /** What confinement the instance really has. */
  securityReport: SecurityReport;
}

const NAME_RE = /^[a-zA-Z][a-zA-Z0-9-]{0,62}$/;

function schema() {
  const scalar = z.union([z.string(), z.number(), z.boolean()]);
  const seconds = z.number().int().min(-1);
  return z
    .object({
      name: z.string().regex(NAME_RE, "must be 1–63 letters, digits or dashes, starting with a letter"),
      project: projectSchema(),
      type: z.enum(["container", "virtual-machine"]).default("container"),
      image: z.string().min(1, "must name an image alias or fingerprint"),
      imageServer: z.string().url().optional(),
      imageProtocol: z.enum(["simplestreams", "lxd"]).optional(),
      config: z.record(configKeySchema(), scalar).default({}),
      devices: z.record(z.string(), z.record(z.string(), scalar).refine((d) => typeof d.type === "string", "must have a type")).default({}),
      profiles: z.array(z.string().min(1)).default(["default"]),
      ephemeral: z.boolean().default(false),
      description: z.string().default(""),
      running: z.boolean().default(true),
      nesting: z
        .object({
          workload: z.enum(["docker", "lxd", "userns"]),
          depth: z.number().int().min(1).max(4).optional(),
          childInstances: z.number().int().min(1).max(64).optional(),
        })
        .strict()
        .optional(),
      devLxd: z.boolean().default(false),
      defaultLimits: z.boolean().default(true),
      securityOptOuts: z.array(z.enum(WEAKENING_CLASSES)).default([]),
      timeouts: z
        .object({ createSec: seconds, startSec: seconds, stopGraceSec: z.number().int().min(0), updateSec: seconds, deleteSec: seconds })
        .partial()
        .strict()
        .default({}),
      adopt: z.boolean().default(false),
      connection: connectionSchema().optional(),
    })
    .strict();
}

/** The desired instance-local config: hardened defaults, then the user's config over them. */
function desiredConfig(i: { type: InstanceInputs["type"]; nesting?: Nesting; devLxd: boolean; defaultLimits: boolean; config: ConfigMap }): ConfigMap {
  return dropEmpty({ ...hardenedConfig(i), ...i.config });
}

/** LXD status + config → outputs. */
async function outputsFrom(lxd: LxdClient, inst: LxdInstance, inputs: InstanceInputs): Promise<InstanceOutputs> {
  const own = splitOwnership(inst.config ?? {}, inst.devices ?? {});
  const expanded = splitOwnership(inst.expanded_config ?? {}, {});
  const expandedDevices = inst.expanded_devices ?? {};
  const findings = assess(expanded.config, expandedDevices).filter((f) => !(f.key === "config.security.nesting" && inputs.nesting));
  const report = securityReport(inst.expanded_config ?? {}, findings, { apparmor: await hostHasAppArmor(lxd) }, inputs.securityOptOuts ?? []);
  return stripUndefined({
    ...inputs,
    name: inst.name,
    config: own.config,
    devices: own.devices,
    profiles: inst.profiles ?? [],
    ephemeral: inst.ephemeral,
    description: inst.description ?? "",
    running: isRunningStatus(inst.status),
    status: inst.status,
    imageFingerprint: (inst.config ?? {})["volatile.base_image"] ?? "",
    expandedConfig: expanded.config,
    expandedDevices,
    securityReport: report,
  } satisfies InstanceOutputs);
}

/**
 * Instance creations on one LXD server, one at a time within this provider process. LXD 5.0.2 allocates an
 * isolated container's id range when the instance record is created and counts a container still being
 * created as using ids 0–65536, so two created at the same moment can get a range below the host's
 * subordinate ids and fail to start ("newuidmap: uid range … not allowed"). Starts still run in parallel.
 */
const creating = new Map<string, Promise<unknown>>();
function oneAtATime<T>(server: string, fn: () => Promise<T>): Promise<T> {
  const run = (creating.get(server) ?? Promise.resolve()).then(fn, fn);
  creating.set(server, run.catch(() => undefined));
  return run;
}

/**
 * Runs `fn` again while LXD answers that the instance is busy with another operation (e.g. the stop LXD
 * itself runs after a failed start), for up to `limitSec` seconds.
 */
async function whileBusy<T>(fn: () => Promise<T>, limitSec = 60): Promise<T> {
  const deadline = Date.now() + limitSec * 1000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof Error && /is busy running/i.test(err.message)) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

const idOf = (project: string, name: string) => `${project}/${name}`;
const DEFAULT_WAIT = 600;

/** The host's subordinate id range for root (local LXD only), or undefined when it cannot be read here. */
function localSubIdRange(conn: ConnectionArgs | undefined): number | undefined {
  if (conn?.url) return undefined;
  try {
    const line = fs.readFileSync("/etc/subuid", "utf8").split("\n").find((l) => l.startsWith("root:"));
    return line ? Number(line.split(":")[2]) : undefined;
  } catch {
    return undefined;
  }
}

class InstanceProvider {
  async check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { inputs: news, failures };
    // During preview some inputs may be unknown: judge and normalise what is known, carry the rest.
    const unknown = (...keys: string[]) => keys.some((k) => unknownKeys.includes(k));
    const config = unknown("config") ? (UNKNOWN as never as ConfigMap) : normalizeConfig(value.config);
    const devices = unknown("devices") ? (UNKNOWN as never as DeviceMap) : normalizeDevices(value.devices);
    if (!unknown("config", "devices", "securityOptOuts", "nesting")) {
      const findings = assess(config, devices).filter((f) => !(f.key === "config.security.nesting" && value.nesting));
      const { refused } = applyOptOuts(findings, value.securityOptOuts);
      for (const f of refused) failures.push({ property: f.key.startsWith("devices.") ? "devices" : "config", reason: refusalMessage(f) });
    }
    if (value.type === "virtual-machine" && value.nesting && !unknown("nesting")) failures.push({ property: "nesting", reason: "nesting applies to containers only, but type \"virtual-machine\" was provided" });
    if (value.imageProtocol && !value.imageServer) failures.push({ property: "imageProtocol", reason: "imageProtocol needs imageServer" });
    if (failures.length) return { inputs: news, failures };
    const inputs: InstanceInputs = stripUndefined({
      ...value,
      project: unknown("project") ? value.project! : normalizeProject(value.project),
      // The desired config depends on all of these: unknown if any of them is.
      config: unknown("config", "type", "nesting", "devLxd", "defaultLimits") ? (UNKNOWN as never) : desiredConfig({ ...value, config }),
      devices,
    });
    return { inputs: { ...news, ...inputs } };
  }

  async diff(_id: string, olds: InstanceOutputs, news: InstanceInputs): Promise<pulumi.dynamic.DiffResult> {
    return diffProps(olds, news,
      ["name", "config", "devices", "profiles", "description", "running", "project", "type", "image", "imageServer", "imageProtocol", "ephemeral"],
      ["project", "type", "image", "imageServer", "imageProtocol", "ephemeral"]);
  }

  async create(inputs: InstanceInputs, config?: ProviderConfig): Promise<pulumi.dynamic.CreateResult> {
    const lxd = clientFor(inputs.connection, config);
    const project = normalizeProject(inputs.project);
    const t = inputs.timeouts ?? {};
    const id = idOf(project, inputs.name);

    const size = Number(inputs.config["security.idmap.size"] ?? 0);
    const range = localSubIdRange(inputs.connection);
    if (size && range !== undefined && size > range) {
      throw new Error(`security.idmap.size ${size} (needed for ${inputs.nesting ? `nesting ${JSON.stringify(inputs.nesting)}` : "this config"}) exceeds the host's subordinate id range for root (${range} ids in /etc/subuid)`);
    }
    let source;
    if (inputs.imageServer) {
      source = { type: "image" as const, server: inputs.imageServer, protocol: inputs.imageProtocol ?? "simplestreams", ...(/^[0-9a-f]{12,64}$/.test(inputs.image) ? { fingerprint: inputs.image } : { alias: inputs.image }) };
    } else {
      const fingerprint = await resolveImageFingerprint(lxd, inputs.image, { project });
      if (!fingerprint) {
        const projectExists = await getProject(lxd, project).then(() => true, (err) => (isNotFound(err) ? false : Promise.reject(err)));
        throw new Error(projectExists
          ? `Failed to create instance "${inputs.name}" in project "${project}": image "${inputs.image}" was not found in project "${project}" (as an alias or a fingerprint)`
          : `Failed to create instance "${inputs.name}" in project "${project}": project "${project}" does not exist`);
      }
      source = { type: "image" as const, fingerprint };
    }

    try {
      await oneAtATime(lxd.endpoint, () => createInstance(lxd, {
        name: inputs.name, type: inputs.type, description: inputs.description, config: inputs.config, devices: inputs.devices,
        profiles: inputs.profiles, ephemeral: inputs.ephemeral, source,
      }, { project, timeoutSec: t.createSec ?? DEFAULT_WAIT }));
    } catch (err) {
      if (!(isConflict(err) && inputs.adopt)) {
        const wrapped = wrapLxdError(err, "create", "instance", inputs.name, project);
        if (isConflict(err)) wrapped.message += " (set adopt: true to bring the existing instance under management)";
        throw wrapped;
      }
      await this.converge(lxd, inputs, project);
      return { id, outs: await outputsFrom(lxd, (await getInstance(lxd, inputs.name, { project })).value, inputs) };
    }

    if (inputs.running) {
      try {
        await startInstance(lxd, inputs.name, { project, timeoutSec: t.startSec ?? DEFAULT_WAIT });
      } catch (startErr) {
        // Transactional: do not leave a half-made instance behind (case C02).
        const why = wrapLxdError(startErr, "start", "instance", inputs.name, project).message;
        try {
          await stopInstance(lxd, inputs.name, { project, graceSec: 0 }).catch(() => undefined);
          await whileBusy(() => deleteInstance(lxd, inputs.name, { project, timeoutSec: t.deleteSec ?? DEFAULT_WAIT }));
        } catch (cleanupErr) {
          if (!isNotFound(cleanupErr)) {
            throw partialCreate(`${why}; removing the created instance also failed (${(cleanupErr as Error).message}), so it is kept in state`, id, { ...inputs, status: "Unknown" });
          }
        }
        throw new Error(`${why}. The instance that LXD created was removed, so the next run starts clean.`);
      }
    }
    const inst = (await getInstance(lxd, inputs.name, { project })).value;
    return { id, outs: await outputsFrom(lxd, inst, inputs) };
  }

  async read(id: string, props: InstanceOutputs, config?: ProviderConfig): Promise<pulumi.dynamic.ReadResult> {
    const lxd = clientFor(props.connection, config);
    const project = normalizeProject(props.project);
    try {
      const inst = (await getInstance(lxd, props.name, { project })).value;
      const outs = await outputsFrom(lxd, inst, props);
      return { id, props: outs, inputs: inputsOf(outs) } as pulumi.dynamic.ReadResult;
    } catch (err) {
      if (isNotFound(err)) return { id: "" as string, props: {} };
      throw wrapLxdError(err, "read", "instance", props.name, project);
    }
  }

  async update(_id: string, olds: InstanceOutputs, news: InstanceInputs, config?: ProviderConfig): Promise<pulumi.dynamic.UpdateResult> {
    const lxd = clientFor(news.connection, config);
    const project = normalizeProject(news.project);
    const t = news.timeouts ?? {};
    if (olds.name !== news.name) {
      const cur = (await getInstance(lxd, olds.name, { project })).value;
      if (isRunningStatus(cur.status)) await stopInstance(lxd, olds.name, { project, graceSec: t.stopGraceSec ?? 30, timeoutSec: t.updateSec ?? DEFAULT_WAIT });
      try {
        await renameInstance(lxd, olds.name, news.name, { project, timeoutSec: t.updateSec ?? DEFAULT_WAIT });
      } catch (err) {
        throw wrapLxdError(err, "rename", "instance", olds.name, project);
      }
    }
    await this.converge(lxd, news, project);
    const inst = (await getInstance(lxd, news.name, { project })).value;
    return { outs: await outputsFrom(lxd, inst, news) };
  }

  /** Brings an existing instance to `want`: PUT with ETag (keeping server-owned keys and foreign devices), then start/stop. */
  private async converge(lxd: LxdClient, want: InstanceInputs, project: string): Promise<void> {
    const t = want.timeouts ?? {};
    const { value: cur, etag } = await getInstance(lxd, want.name, { project });
    const kept = splitOwnership(cur.config ?? {}, cur.devices ?? {});
    try {
      await updateInstance(lxd, want.name, {
        architecture: cur.architecture,
        config: { ...kept.foreignConfig, ...want.config },
        devices: { ...kept.foreignDevices, ...want.devices },
        profiles: want.profiles,
        ephemeral: want.ephemeral,
        description: want.description,
      }, etag, { project, timeoutSec: t.updateSec ?? DEFAULT_WAIT });
    } catch (err) {
      throw wrapLxdError(err, "update", "instance", want.name, project);
    }
    const running = isRunningStatus(cur.status); // a PUT does not start or stop an instance
    try {
      if (want.running && !running) await startInstance(lxd, want.name, { project, timeoutSec: t.startSec ?? DEFAULT_WAIT });
      if (!want.running && running) await stopInstance(lxd, want.name, { project, graceSec: t.stopGraceSec ?? 30, timeoutSec: t.updateSec ?? DEFAULT_WAIT });
    } catch (err) {
      throw wrapLxdError(err, want.running ? "start" : "stop", "instance", want.name, project);
    }
  }

  async delete(_id: string, props: InstanceOutputs, config?: ProviderConfig): Promise<void> {
    const lxd = clientFor(props.connection, config);
    const project = normalizeProject(props.project);
    const t = props.timeouts ?? {};
    try {
      const cur = (await getInstance(lxd, props.name, { project })).value;
      if (isRunningStatus(cur.status) || cur.status === "Frozen") {
        await stopInstance(lxd, props.name, { project, graceSec: t.stopGraceSec ?? 30, timeoutSec: t.deleteSec ?? DEFAULT_WAIT });
      }
      await whileBusy(() => deleteInstance(lxd, props.name, { project, timeoutSec: t.deleteSec ?? DEFAULT_WAIT }));
    } catch (err) {
      if (isNotFound(err)) return; // already gone (an ephemeral instance deletes itself on stop)
      throw wrapLxdError(err, "delete", "instance", props.name, project);
    }
  }
}

/** The inputs a refreshed state corresponds to (so that refresh itself shows no diff). */
function inputsOf(o: InstanceOutputs): InstanceInputs {
  const { status: _s, imageFingerprint: _f, expandedConfig: _c, expandedDevices: _d, securityReport: _r, ...inputs } = o;
  return inputs;
}

/** The implementation the shim loads in the provider host. */
export const provider = new InstanceProvider();

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
  declare readonly image: pulumi.Output<string>;
  declare readonly imageFingerprint: pulumi.Output<string>;
  declare readonly config: pulumi.Output<Record<string, string>>;
  declare readonly devices: pulumi.Output<Record<string, Record<string, string>>>;
  declare readonly profiles: pulumi.Output<string[]>;
  declare readonly running: pulumi.Output<boolean>;
  declare readonly status: pulumi.Output<string>;
  declare readonly expandedConfig: pulumi.Output<Record<string, string>>;
  declare readonly expandedDevices: pulumi.Output<Record<string, Record<string, string>>>;
  declare readonly securityReport: pulumi.Output<SecurityReport>;

  constructor(name: string, args: InstanceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("instance"),
      name,
      {
        ...args,
        name: args.name ?? name,
        status: undefined, imageFingerprint: undefined, expandedConfig: undefined, expandedDevices: undefined, securityReport: undefined,
      },
      opts,
      "lxd",
      "Instance",
    );
    warnWeakened(this, args.config, args.devices, args.securityOptOuts);
  }
}

/** Logs one warning per accepted weakening (inputs known at program time). */
export function warnWeakened(
  res: pulumi.Resource,
  config: InstanceArgs["config"],
  devices: InstanceArgs["devices"],
  optOuts: InstanceArgs["securityOptOuts"],
): void {
  pulumi.all([pulumi.output(config ?? {}), pulumi.output(devices ?? {}), pulumi.output(optOuts ?? [])]).apply(([c, d, o]) => {
    const { weakened } = applyOptOuts(assess(normalizeConfig(c), normalizeDevices(d)), o as WeakeningClass[]);
    for (const f of weakened) pulumi.log.warn(`${f.key} weakens confinement (opted out with "${f.class}"): ${f.reason}`, res);
  });
}

export { idmapSizeFor, UNKNOWN };
