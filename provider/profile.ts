/**
 * Profile: an LXD profile (config and devices shared by instances), checked by the hardening policy.
 *
 * LXD endpoints: POST /1.0/profiles, GET|PUT|POST(rename)|DELETE /1.0/profiles/{name}.
 *
 * Changing `project` (or the LXD server) forces replacement; `name` is renamed in place; the rest is updated
 * in place with ETags. The `default` profile of a project always exists: it is adopted (its content kept in
 * state) and updated, never created; on destroy its adopted content is put back, never deleted (case C06).
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  checkWith, configKeySchema, diffProps, dropEmpty, normalizeConfig, normalizeDevices, normalizeProject, projectSchema, stripUndefined, UNKNOWN, userConfig,
} from "./common";
import { clientFor, connectionSchema, type ConnectionArgs, type ProviderConfig } from "./connection";
import {
  createProfile, deleteProfile, getProfile, hostHasAppArmor, isConflict, isNotFound, renameProfile, updateProfile, wrapLxdError,
  type ConfigMap, type DeviceMap, type LxdClient,  type Profile as LxdProfile, type ProfilePut,
} from "./lxd";
import { applyOptOuts, assess, refusalMessage, securityReport, WEAKENING_CLASSES, type SecurityReport, type WeakeningClass } from "./security";
import { providerShim } from "./shim";
import { warnWeakened } from "./instance";

type Scalar = string | number | boolean;

/** Inputs of {@link Profile}. */
export interface ProfileArgs {
  /** Profile name. Default: the resource name. `default` adopts the project's default profile. Renamed in place (not `default`). */
  name?: pulumi.Input<string>;
  /** LXD project. Default `default`. Profiles are project-local only where the project has `features.profiles=true`. Forces replacement. */
  project?: pulumi.Input<string>;
  /** Profile config (LXD keys verbatim); numbers and booleans are stored as strings. Weakening keys are refused unless opted out. */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** Devices: name → properties (`type` among them). */
  devices?: pulumi.Input<Record<string, pulumi.Input<Record<string, pulumi.Input<Scalar>>>>>;
  /** Description. Default "". */
  description?: pulumi.Input<string>;
  /** Classes of confinement-weakening settings to accept (see Instance). */
  securityOptOuts?: pulumi.Input<pulumi.Input<WeakeningClass>[]>;
  /** If a profile of this name exists, take it over instead of failing (always so for `default`). Default false. */
  adopt?: pulumi.Input<boolean>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/** Inputs after check. */
export interface ProfileInputs {
  name: string;
  project: string;
  config: ConfigMap;
  devices: DeviceMap;
  description: string;
  securityOptOuts: WeakeningClass[];
  adopt: boolean;
  connection?: ConnectionArgs;
}

/** State. */
export interface ProfileOutputs extends ProfileInputs {
  /** Content the profile had before it was adopted (put back on destroy); absent for profiles this stack created. */
  adoptedFrom?: ProfilePut;
  /** Instances and other objects LXD lists as using the profile. */
  usedBy: string[];
  /** Confinement settings this profile carries. */
  securityReport: SecurityReport;
}

function schema() {
  const scalar = z.union([z.string(), z.number(), z.boolean()]);
  return z
    .object({
      name: z.string().regex(/^[^\s/]{1,63}$/, "must be 1–63 characters without spaces or slashes"),
      project: projectSchema(),
      config: z.record(configKeySchema(), scalar).default({}),
      devices: z.record(z.string(), z.record(z.string(), scalar).refine((d) => typeof d.type === "string", "must have a type")).default({}),
      description: z.string().default(""),
      securityOptOuts: z.array(z.enum(WEAKENING_CLASSES)).default([]),
      adopt: z.boolean().default(false),
      connection: connectionSchema().optional(),
    })
    .strict();
}

async function outputsFrom(lxd: LxdClient, p: LxdProfile, inputs: ProfileInputs, adoptedFrom?: ProfilePut): Promise<ProfileOutputs> {
  const config = userConfig(p.config);
  return stripUndefined({
    ...inputs,
    name: p.name,
    config,
    devices: p.devices ?? {},
    description: p.description ?? "",
    adoptedFrom,
    usedBy: p.used_by ?? [],
    securityReport: securityReport(config, assess(config, p.devices ?? {}), { apparmor: await hostHasAppArmor(lxd) }, inputs.securityOptOuts ?? []),
  } satisfies ProfileOutputs);
}

class ProfileProvider {
  async check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { inputs: news, failures };
    // During preview some inputs may be unknown: judge and normalise what is known, carry the rest.
    const unknown = (k: string) => unknownKeys.includes(k);
    const config = unknown("config") ? (UNKNOWN as never as ConfigMap) : dropEmpty(normalizeConfig(value.config));
    const devices = unknown("devices") ? (UNKNOWN as never as DeviceMap) : normalizeDevices(value.devices);
    if (!unknown("config") && !unknown("devices") && !unknown("securityOptOuts")) {
      for (const f of applyOptOuts(assess(config, devices), value.securityOptOuts).refused) {
        failures.push({ property: f.key.startsWith("devices.") ? "devices" : "config", reason: refusalMessage(f) });
      }
    }
    if (failures.length) return { inputs: news, failures };
    const project = unknown("project") ? value.project! : normalizeProject(value.project);
    return { inputs: { ...news, ...stripUndefined({ ...value, project, config, devices }) } };
  }

  async diff(_id: string, olds: ProfileOutputs, news: ProfileInputs): Promise<pulumi.dynamic.DiffResult> {
    const r = diffProps(olds, news, ["name", "config", "devices", "description", "project"], ["project"]);
    // The default profile cannot be renamed: moving to or from it means another profile.
    if (olds.name !== news.name && (olds.name === "default" || news.name === "default")) {
      return { ...r, changes: true, replaces: [...(r.replaces ?? []), "name"], deleteBeforeReplace: true };
    }
    return r;
  }

  async create(inputs: ProfileInputs, config?: ProviderConfig): Promise<pulumi.dynamic.CreateResult> {
    const lxd = clientFor(inputs.connection, config);
    const project = normalizeProject(inputs.project);
    const id = `${project}/${inputs.name}`;
    const put: ProfilePut = { config: inputs.config, devices: inputs.devices, description: inputs.description };
    if (inputs.name === "default" || inputs.adopt) {
      try {
        const { value, etag } = await getProfile(lxd, inputs.name, { project });
        const adoptedFrom: ProfilePut = { config: value.config ?? {}, devices: value.devices ?? {}, description: value.description ?? "" };
        await updateProfile(lxd, inputs.name, put, etag, { project });
        return { id, outs: await outputsFrom(lxd, (await getProfile(lxd, inputs.name, { project })).value, inputs, adoptedFrom) };
      } catch (err) {
        if (!isNotFound(err) || inputs.name === "default") throw wrapLxdError(err, "adopt", "profile", inputs.name, project);
      }
    }
    try {
      await createProfile(lxd, { name: inputs.name, ...put }, { project });
    } catch (err) {
      const wrapped = wrapLxdError(err, "create", "profile", inputs.name, project);
      if (isConflict(err)) wrapped.message += " (set adopt: true to bring the existing profile under management)";
      throw wrapped;
    }
    return { id, outs: await outputsFrom(lxd, (await getProfile(lxd, inputs.name, { project })).value, inputs) };
  }

  async read(id: string, props: ProfileOutputs, config?: ProviderConfig): Promise<pulumi.dynamic.ReadResult> {
    const lxd = clientFor(props.connection, config);
    const project = normalizeProject(props.project);
    try {
      const outs = await outputsFrom(lxd, (await getProfile(lxd, props.name, { project })).value, props, props.adoptedFrom);
      const { usedBy: _u, securityReport: _r, adoptedFrom: _a, ...inputs } = outs;
      return { id, props: outs, inputs };
    } catch (err) {
      if (isNotFound(err)) return { id: "", props: {} };
      throw wrapLxdError(err, "read", "profile", props.name, project);
    }
  }

  async update(_id: string, olds: ProfileOutputs, news: ProfileInputs, config?: ProviderConfig): Promise<pulumi.dynamic.UpdateResult> {
    const lxd = clientFor(news.connection, config);
    const project = normalizeProject(news.project);
    try {
      if (olds.name !== news.name) await renameProfile(lxd, olds.name, news.name, { project });
      const { etag } = await getProfile(lxd, news.name, { project });
      await updateProfile(lxd, news.name, { config: news.config, devices: news.devices, description: news.description }, etag, { project });
    } catch (err) {
      throw wrapLxdError(err, "update", "profile", news.name, project);
    }
    return { outs: await outputsFrom(lxd, (await getProfile(lxd, news.name, { project })).value, news, olds.adoptedFrom) };
  }

  async delete(_id: string, props: ProfileOutputs, config?: ProviderConfig): Promise<void> {
    const lxd = clientFor(props.connection, config);
    const project = normalizeProject(props.project);
    try {
      if (props.name === "default" || props.adoptedFrom) {
        // Never delete what LXD owns or what existed before this stack: put the adopted content back.
        const { etag } = await getProfile(lxd, props.name, { project });
        const back = props.adoptedFrom ?? { config: {}, devices: {}, description: "Default LXD profile" };
        await updateProfile(lxd, props.name, back, etag, { project });
        return;
      }
      await deleteProfile(lxd, props.name, { project });
    } catch (err) {
      if (isNotFound(err)) return;
      throw wrapLxdError(err, "delete", "profile", props.name, project);
    }
  }
}

/** The implementation the shim loads in the provider host. */
export const provider = new ProfileProvider();

/** An LXD profile. Weakening settings are refused unless opted out; `default` is adopted and restored on destroy. */
export class Profile extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  declare readonly config: pulumi.Output<Record<string, string>>;
  declare readonly devices: pulumi.Output<Record<string, Record<string, string>>>;
  declare readonly description: pulumi.Output<string>;
  declare readonly usedBy: pulumi.Output<string[]>;
  declare readonly securityReport: pulumi.Output<SecurityReport>;

  constructor(name: string, args: ProfileArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("profile"),
      name,
      { ...args, name: args.name ?? name, usedBy: undefined, securityReport: undefined, adoptedFrom: undefined },
      opts,
      "lxd",
      "Profile",
    );
    warnWeakened(this, args.config, args.devices, args.securityOptOuts);
  }
}
