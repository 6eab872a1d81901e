/**
 * Project: an LXD project (its own instances, and its own images, profiles, storage volumes and networks
 * where its `features.*` say so), with limits and restrictions.
 *
 * LXD endpoints: POST /1.0/projects, GET|PUT|POST(rename)|DELETE /1.0/projects/{name}.
 *
 * Changing the LXD server forces replacement, as does renaming to or from `default`; any other `name` change
 * is a rename in place (LXD renames only empty projects). Description and config are updated in place with
 * ETags. The `default` project always exists: it is adopted (its former config kept in state), updated, and
 * put back on destroy, never created or deleted.
 *
 * `features.*` are structural: LXD refuses to change them once the project holds anything, and fills in its
 * own (`features.images`, `features.profiles`, `features.storage.volumes`) at creation. Feature keys the
 * program does not set keep the value LXD gave them (recorded in `serverFeatures`); removing a feature key
 * from the program keeps the project's current value rather than flipping the feature.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { checkWith, diffProps, normalizeConfig, sameJson, stripUndefined } from "./common";
import { clientFor, connectionSchema, type ConnectionArgs, type ProviderConfig } from "./connection";
import {
  createProject, deleteProject, getProject, isConflict, isNotFound, renameProject, updateProject, wrapLxdError,
  type ConfigMap, type LxdClient,  type Project as LxdProject, type ProjectPut,
} from "./lxd";
import { providerShim } from "./shim";

type Scalar = string | number | boolean;

/** Inputs of {@link Project}. */
export interface ProjectArgs {
  /**
   * Project name (LXD: no slashes, spaces, underscores or quotes; not `*`, `.` or `..`). Default: the
   * resource name. `default` adopts LXD's default project. Renamed in place (LXD renames empty projects only);
   * renaming to or from `default` forces replacement.
   */
  name?: pulumi.Input<string>;
  /** Description. Default "". */
  description?: pulumi.Input<string>;
  /**
   * Project config, LXD keys verbatim: `features.*` (`features.images`, `features.profiles`,
   * `features.storage.volumes`, `features.networks`; booleans), `limits.*` (`limits.instances`,
   * `limits.memory`, …), `restricted` (boolean) and `restricted.*`, `user.*`, and any other key, which is
   * passed to LXD untouched for LXD to validate. Numbers and booleans are stored as strings.
   * `features.*` cannot change while the project holds anything; unset feature keys keep LXD's value.
   */
  config?: pulumi.Input<Record<string, pulumi.Input<Scalar>>>;
  /** If a project of this name exists, take it over (its former content is put back on destroy) instead of failing. Always so for `default`. Default false. */
  adopt?: pulumi.Input<boolean>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/** Inputs after check. */
export interface ProjectInputs {
  name: string;
  description: string;
  config: ConfigMap;
  adopt: boolean;
  connection?: ConnectionArgs;
}

/** State. */
export interface ProjectOutputs extends ProjectInputs {
  /** Config and description the project had before it was adopted (put back on destroy); absent for projects this stack created. */
  adoptedFrom?: ProjectPut;
  /** `features.*` values LXD chose (at creation or before adoption) for keys the program does not set: kept on every update. */
  serverFeatures: ConfigMap;
  /** The project's whole config as LXD has it (LXD's feature defaults included). */
  effectiveConfig: ConfigMap;
  /** What LXD lists as using the project (instances, images, profiles, volumes, networks), as API paths. */
  usedBy: string[];
}

/** LXD's project name rules (lxd/api_project.go projectValidateName). */
const NAME_RE = /^[^\s/_'"]+$/; // PROJECT_NAME_RE, non-empty
const BOOLEAN_KEY = (k: string) => k.startsWith("features.") || k === "restricted";

function schema() {
  const scalar = z.union([z.string(), z.number(), z.boolean()]);
  return z
    .object({
      name: z
        .string()
        .regex(NAME_RE, "must be non-empty, without spaces, slashes, underscores or quotes")
        .refine((n) => !["*", ".", ".."].includes(n), "must not be \"*\", \".\" or \"..\""),
      description: z.string().default(""),
      config: z
        .record(z.string().min(1), scalar)
        .default({})
        .superRefine((c, ctx) => {
          for (const [k, v] of Object.entries(c)) {
            if (BOOLEAN_KEY(k) && !["true", "false"].includes(String(v))) {
              ctx.addIssue({ code: "custom", path: [k], message: `must be true or false, but ${JSON.stringify(v)} was provided` });
            }
          }
        }),
      adopt: z.boolean().default(false),
      connection: connectionSchema().optional(),
    })
    .strict();
}

const isFeature = (k: string) => k.startsWith("features.");
const featuresOf = (c: ConfigMap): ConfigMap => Object.fromEntries(Object.entries(c).filter(([k]) => isFeature(k)));

/** The config to PUT: LXD's feature values for keys the program leaves unset, then the program's config. */
function putConfig(inputs: ProjectInputs, serverFeatures: ConfigMap): ConfigMap {
  return { ...serverFeatures, ...inputs.config };
}

/** The part of LXD's config the program owns: all but the feature keys LXD chose, while unchanged. */
function ownedConfig(lxdConfig: ConfigMap, inputs: ProjectInputs, serverFeatures: ConfigMap): ConfigMap {
  const out: ConfigMap = {};
  for (const [k, v] of Object.entries(lxdConfig)) {
    if (!(k in inputs.config) && serverFeatures[k] === v) continue;
    out[k] = v;
  }
  return out;
}

/** Feature keys of `current` that the program does not set: they keep their value (features are structural). */
function keptFeatures(current: ConfigMap, inputs: ProjectInputs): ConfigMap {
  return Object.fromEntries(Object.entries(featuresOf(current)).filter(([k]) => !(k in inputs.config)));
}

/** The objects a project holds, as LXD lists them in `used_by`, minus the project's own default profile (always there). */
function contents(p: LxdProject): string[] {
  return (p.used_by ?? []).filter((u) => !/^\/1\.0\/profiles\/default(\?|$)/.test(u));
}

/** `/1.0/instances/c1?project=p` → `instance "c1"`; other API paths likewise, unknown ones verbatim. */
export function describeUsedBy(url: string): string {
  const [p] = url.split("?");
  const seg = p.replace(/^\/1\.0\//, "").split("/").map(decodeURIComponent);
  const kinds: Record<string, string> = {
    instances: "instance", containers: "instance", "virtual-machines": "instance", images: "image", profiles: "profile",
    networks: "network", "network-acls": "network ACL", "network-zones": "network zone",
  };
  if (seg[0] === "storage-pools" && seg[2] === "volumes") return `storage volume "${seg.slice(3).join("/")}" in pool "${seg[1]}"`;
  if (seg[0] === "images" && seg[1]) return `image ${seg[1].slice(0, 12)}`;
  if (kinds[seg[0]] && seg[1]) return `${kinds[seg[0]]} "${seg.slice(1).join("/")}"`;
  return url;
}

function holding(p: LxdProject): string {
  return contents(p).map(describeUsedBy).join(", ");
}

function outputsFrom(p: LxdProject, inputs: ProjectInputs, serverFeatures: ConfigMap, adoptedFrom?: ProjectPut): ProjectOutputs {
  return stripUndefined({
    ...inputs,
    name: p.name,
    description: p.description ?? "",
    config: ownedConfig(p.config ?? {}, inputs, serverFeatures),
    adoptedFrom,
    serverFeatures,
    effectiveConfig: p.config ?? {},
    usedBy: p.used_by ?? [],
  } satisfies ProjectOutputs);
}

class ProjectProvider {
  async check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
    const { value, failures } = checkWith(schema(), news);
    if (!value) return { inputs: news, failures };
    return { inputs: { ...news, ...stripUndefined({ ...value, config: normalizeConfig(value.config) }) } };
  }

  async diff(_id: string, olds: ProjectOutputs, news: ProjectInputs): Promise<pulumi.dynamic.DiffResult> {
    const r = diffProps(olds, news, ["name", "description", "config"], []);
    // The default project cannot be renamed, created or deleted: moving to or from it means another project.
    if (olds.name !== news.name && (olds.name === "default" || news.name === "default")) {
      return { ...r, changes: true, replaces: [...(r.replaces ?? []), "name"], deleteBeforeReplace: true };
    }
    return r;
  }

  async create(inputs: ProjectInputs, config?: ProviderConfig): Promise<pulumi.dynamic.CreateResult> {
    const lxd = clientFor(inputs.connection, config);
    if (inputs.name === "default" || inputs.adopt) {
      try {
        return await this.adopt(lxd, inputs);
      } catch (err) {
        if (!isNotFound(err) || inputs.name === "default") throw wrapLxdError(err, "adopt", "project", inputs.name);
      }
    }
    try {
      await createProject(lxd, { name: inputs.name, description: inputs.description, config: inputs.config });
    } catch (err) {
      const wrapped = wrapLxdError(err, "create", "project", inputs.name);
      if (isConflict(err)) wrapped.message += " (set adopt: true to bring the existing project under management)";
      throw wrapped;
    }
    const p = (await getProject(lxd, inputs.name)).value;
    const serverFeatures = keptFeatures(p.config ?? {}, inputs);
    return { id: p.name, outs: outputsFrom(p, inputs, serverFeatures) };
  }

  /** Takes over an existing project: records its content, then PUTs ours (keeping features it does not set). */
  private async adopt(lxd: LxdClient, inputs: ProjectInputs): Promise<pulumi.dynamic.CreateResult> {
    const { value, etag } = await getProject(lxd, inputs.name);
    const adoptedFrom: ProjectPut = { config: value.config ?? {}, description: value.description ?? "" };
    const serverFeatures = keptFeatures(adoptedFrom.config, inputs);
    await this.checkFeatureChange(value, putConfig(inputs, serverFeatures), "adopt");
    await updateProject(lxd, inputs.name, { config: putConfig(inputs, serverFeatures), description: inputs.description }, etag);
    const p = (await getProject(lxd, inputs.name)).value;
    return { id: p.name, outs: outputsFrom(p, inputs, serverFeatures, adoptedFrom) };
  }

  /** Fails clearly (instead of LXD's 400 naming one key) when `features.*` would change on a project that holds anything. */
  private async checkFeatureChange(cur: LxdProject, want: ConfigMap, verb: string): Promise<void> {
    const have = featuresOf(cur.config ?? {});
    const wanted = featuresOf(want);
    const changed = [...new Set([...Object.keys(have), ...Object.keys(wanted)])]
      .filter((k) => (have[k] ?? "") !== (wanted[k] ?? ""))
      .sort();
    const held = contents(cur);
    if (!changed.length || !held.length) return;
    const isInstance = (u: string) => /^\/1\.0\/(instances|containers|virtual-machines)\//.test(u);
    const instances = held.filter(isInstance).map(describeUsedBy);
    const others = held.filter((u) => !isInstance(u)).map(describeUsedBy);
    const what = [instances.length ? `instances: ${instances.join(", ")}` : "", others.length ? `other objects: ${others.join(", ")}` : ""]
      .filter(Boolean)
      .join("; ");
    throw new Error(
      `Failed to ${verb} project "${cur.name}": ${changed.join(", ")} cannot change because the project is not empty (${what}). ` +
        "LXD changes project features only on empty projects: move or delete what it holds first, or use a new project.",
    );
  }

  async read(_id: string, props: ProjectOutputs, config?: ProviderConfig): Promise<pulumi.dynamic.ReadResult> {
    const lxd = clientFor(props.connection, config);
    try {
      const p = (await getProject(lxd, props.name)).value;
      const outs = outputsFrom(p, props, props.serverFeatures ?? {}, props.adoptedFrom);
      const { adoptedFrom: _a, serverFeatures: _s, effectiveConfig: _e, usedBy: _u, ...inputs } = outs;
      // The id follows the name: an Update cannot change the id, a refresh after a rename does.
      return { id: p.name, props: outs, inputs };
    } catch (err) {
      if (isNotFound(err)) return { id: "", props: {} };
      throw wrapLxdError(err, "read", "project", props.name);
    }
  }

  async update(_id: string, olds: ProjectOutputs, news: ProjectInputs, config?: ProviderConfig): Promise<pulumi.dynamic.UpdateResult> {
    const lxd = clientFor(news.connection, config);
    let cur: LxdProject;
    try {
      cur = (await getProject(lxd, olds.name)).value;
    } catch (err) {
      throw wrapLxdError(err, "update", "project", olds.name);
    }
    // Features LXD chose stay; a feature key the program stops setting keeps the project's current value.
    const serverFeatures = { ...keptFeatures(cur.config ?? {}, news) };
    const want = putConfig(news, serverFeatures);
    await this.checkFeatureChange(cur, want, "update");
    if (olds.name !== news.name) {
      try {
        await renameProject(lxd, olds.name, news.name);
      } catch (err) {
        const wrapped = wrapLxdError(err, "rename", "project", olds.name);
        const held = holding(cur);
        if (held) wrapped.message += ` (it holds ${held})`;
        throw wrapped;
      }
    }
    try {
      const { value, etag } = await getProject(lxd, news.name);
      if (!sameJson(value.config ?? {}, want) || (value.description ?? "") !== news.description) {
        await updateProject(lxd, news.name, { config: want, description: news.description }, etag);
      }
    } catch (err) {
      throw wrapLxdError(err, "update", "project", news.name);
    }
    return { outs: outputsFrom((await getProject(lxd, news.name)).value, news, serverFeatures, olds.adoptedFrom) };
  }

  async delete(_id: string, props: ProjectOutputs, config?: ProviderConfig): Promise<void> {
    const lxd = clientFor(props.connection, config);
    try {
      if (props.name === "default" || props.adoptedFrom) {
        // Never delete what LXD owns or what existed before this stack: put the adopted content back.
        const { value, etag } = await getProject(lxd, props.name);
        const back = props.adoptedFrom ?? { config: featuresOf(value.config ?? {}), description: "Default LXD project" };
        // Features the project holds now stay (LXD refuses to change them on a non-empty project or on `default`).
        const restore = contents(value).length || props.name === "default" ? { ...back.config, ...featuresOf(value.config ?? {}) } : back.config;
        await updateProject(lxd, props.name, { config: restore, description: back.description }, etag);
        return;
      }
      await deleteProject(lxd, props.name);
    } catch (err) {
      if (isNotFound(err)) return;
      const wrapped = wrapLxdError(err, "delete", "project", props.name);
      try {
        const held = holding((await getProject(lxd, props.name)).value);
        if (held) wrapped.message += `; it still holds ${held}`;
      } catch {
        // The reason LXD gave is all there is.
      }
      throw wrapped;
    }
  }
}

/** The implementation the shim loads in the provider host. */
export const provider = new ProjectProvider();

/**
 * An LXD project. `default` is adopted and put back on destroy; `features.*` changes on a project that holds
 * anything are refused with the list of what it holds.
 */
export class Project extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly description: pulumi.Output<string>;
  declare readonly config: pulumi.Output<Record<string, string>>;
  declare readonly effectiveConfig: pulumi.Output<Record<string, string>>;
  declare readonly usedBy: pulumi.Output<string[]>;

  constructor(name: string, args: ProjectArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("project"),
      name,
      { ...args, name: args.name ?? name, effectiveConfig: undefined, usedBy: undefined, adoptedFrom: undefined, serverFeatures: undefined },
      opts,
      "lxd",
      "Project",
    );
  }
}
