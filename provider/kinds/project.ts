/**
 * Project, host side: an LXD project (its own instances, and its own images, profiles, storage volumes and
 * networks where its `features.*` say so), with limits and restrictions.
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
import { z } from "zod";
import {
  createProject, deleteProject, getProject, isConflict, isNotFound, renameProject, updateProject,
  type ConfigMap, type LxdClient, type Project as LxdProject, type ProjectPut,
} from "../lxd";
import { nameSchema, PROJECT_NAME, scalarSchema } from "../rules/names";
import { describeUsedBy } from "../rules/used-by";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { normalizeConfig, sameJson } from "../rules/values";
import { checkWith } from "../kit/check";
import { amend, lxdSays } from "../kit/errors";
import type { Kind } from "../kit/contract";

export { describeUsedBy };

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

const BOOLEAN_KEY = (k: string) => k.startsWith("features.") || k === "restricted";

function schema() {
  const scalar = scalarSchema();
  return z
    .object({
      // LXD's project name rules (lxd/api_project.go projectValidateName).
      name: nameSchema(PROJECT_NAME),
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

function holding(p: LxdProject): string {
  return contents(p).map(describeUsedBy).join(", ");
}


function outputsFrom(p: LxdProject, inputs: ProjectInputs, serverFeatures: ConfigMap, adoptedFrom?: ProjectPut): ProjectOutputs {
  return {
    ...inputs,
    name: p.name,
    description: p.description ?? "",
    config: ownedConfig(p.config ?? {}, inputs, serverFeatures),
    adoptedFrom,
    serverFeatures,
    effectiveConfig: p.config ?? {},
    usedBy: p.used_by ?? [],
  } satisfies ProjectOutputs;
}

/**
 * Fails clearly (instead of LXD's 400 naming one key) when `features.*` would change on a project that holds anything.
 * @throws Error `Failed to <verb> project "<name>": <keys> cannot change because the project is not empty (<what it holds>)…`
 */
function checkFeatureChange(cur: LxdProject, want: ConfigMap, verb: string): void {
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

/** Takes over an existing project: records its content, then PUTs ours (keeping features it does not set). */
async function adopt(lxd: LxdClient, inputs: ProjectInputs, accepted: (p: Partial<ProjectOutputs>) => void): Promise<ProjectOutputs> {
  const { value, etag } = await getProject(lxd, inputs.name);
  const adoptedFrom: ProjectPut = { config: value.config ?? {}, description: value.description ?? "" };
  const serverFeatures = keptFeatures(adoptedFrom.config, inputs);
  checkFeatureChange(value, putConfig(inputs, serverFeatures), "adopt");
  await updateProject(lxd, inputs.name, { config: putConfig(inputs, serverFeatures), description: inputs.description }, etag);
  accepted({ adoptedFrom, serverFeatures });
  return outputsFrom((await getProject(lxd, inputs.name)).value, inputs, serverFeatures, adoptedFrom);
}

/** The error of a failed delete (or restore), with what the project still holds when LXD can tell. */
async function withContents(lxd: LxdClient, name: string, err: unknown): Promise<unknown> {
  try {
    const held = holding((await getProject(lxd, name)).value);
    if (held) return amend(err, `; it still holds ${held}`);
  } catch {
    // The reason LXD gave is all there is.
  }
  return err;
}

export const projectKind: Kind<ProjectInputs, ProjectOutputs> = {
  noun: "project",
  inProject: false,
  outputKeys: ["adoptedFrom", "serverFeatures", "effectiveConfig", "usedBy"],
  diffKeys: ["name", "description", "config"],
  replaceKeys: [],
  // The id follows the name: an update cannot change the id, a refresh after a rename does.
  idOf: (p) => p.name,

  async check(news) {
    const { value, failures } = checkWith(schema(), news);
    if (!value) return { failures };
    return { inputs: { ...value, config: normalizeConfig(value.config) } };
  },

  diff(olds, news, base) {
    // The default project cannot be renamed, created or deleted: moving to or from it means another project.
    if (olds.name !== news.name && (olds.name === "default" || news.name === "default")) {
      return { ...base, changes: true, replaces: [...(base.replaces ?? []), "name"], deleteBeforeReplace: true };
    }
    return base;
  },

  async create({ lxd }, inputs, accepted) {
    if (inputs.name === "default" || inputs.adopt) {
      try {
        return await adopt(lxd, inputs, accepted);
      } catch (err) {
        if (!isNotFound(err) || inputs.name === "default") {
          if (/^Failed to /.test((err as Error).message)) throw err;
          throw new Error(`Failed to adopt project "${inputs.name}": ${lxdSays(err)}`, { cause: err });
        }
      }
    }
    try {
      await createProject(lxd, { name: inputs.name, description: inputs.description, config: inputs.config });
    } catch (err) {
      throw isConflict(err) ? amend(err, " (set adopt: true to bring the existing project under management)") : err;
    }
    accepted();
    const p = (await getProject(lxd, inputs.name)).value;
    return outputsFrom(p, inputs, keptFeatures(p.config ?? {}, inputs));
  },

  async read({ lxd }, props) {
    return outputsFrom((await getProject(lxd, props.name)).value, props, props.serverFeatures ?? {}, props.adoptedFrom);
  },

  async update({ lxd }, olds, news) {
    const cur = (await getProject(lxd, olds.name)).value;
    // Features LXD chose stay; a feature key the program stops setting keeps the project's current value.
    const serverFeatures = keptFeatures(cur.config ?? {}, news);
    const want = putConfig(news, serverFeatures);
    checkFeatureChange(cur, want, "update");
    if (olds.name !== news.name) {
      try {
        await renameProject(lxd, olds.name, news.name);
      } catch (err) {
        const held = holding(cur);
        throw new Error(`Failed to rename project "${olds.name}": ${lxdSays(err)}${held ? ` (it holds ${held})` : ""}`, { cause: err });
      }
    }
    const { value, etag } = await getProject(lxd, news.name);
    if (!sameJson(value.config ?? {}, want) || (value.description ?? "") !== news.description) {
      await updateProject(lxd, news.name, { config: want, description: news.description }, etag);
    }
    return outputsFrom((await getProject(lxd, news.name)).value, news, serverFeatures, olds.adoptedFrom);
  },

  async delete({ lxd }, props) {
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
      throw await withContents(lxd, props.name, err);
    }
  },
};
