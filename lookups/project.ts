/** `getProject`: an existing LXD project (GET /1.0/projects/{name}), read in the program. */
import type * as pulumi from "@pulumi/pulumi";
import type { ConfigMap } from "../provider/lxd/types";
import { PROJECT_NAME } from "../provider/rules/names";
import { checkName, lookUp, outputForm, type LookupArgs, type OutputArgs } from "./lookup";

/** Arguments of {@link getProject}. */
export interface GetProjectArgs extends LookupArgs {
  /** Project name. */
  name: string;
  /** Resolve to `undefined` instead of rejecting when the project does not exist. Default false. */
  allowMissing?: boolean;
}

/** An LXD project, in this package's terms. */
export interface GetProjectResult {
  name: string;
  description: string;
  /** LXD `config`, verbatim: `features.*`, `restricted*`, `limits.*`, … */
  config: ConfigMap;
  /** The features it has its own of (`features.images`, `features.profiles`, … set to true), without the prefix: `images`, `profiles`, … */
  features: string[];
  /** True when `restricted=true`: LXD enforces the project's `restricted.*` rules. */
  restricted: boolean;
  /** LXD's `used_by`: API paths of what it holds (instances, profiles, images, volumes, networks). */
  usedBy: string[];
}

/**
 * Reads an existing project.
 * @returns it; `undefined` with `allowMissing` when it does not exist.
 * @throws Error `project "<name>" was not found` (an LxdError with
 *   status 404), or `Failed to look up project "<name>": <reason>`; `name must be …, but … was provided`.
 */
export async function getProject(args: GetProjectArgs & { allowMissing: true }): Promise<GetProjectResult | undefined>;
export async function getProject(args: GetProjectArgs): Promise<GetProjectResult>;
export async function getProject(args: GetProjectArgs): Promise<GetProjectResult | undefined> {
  checkName("name", args?.name, PROJECT_NAME);
  return lookUp("project", args.name, undefined, args, async (lxd) => {
    const { getProject: get } = await import("../provider/lxd");
    const p = (await get(lxd, args.name)).value;
    const config = p.config ?? {};
    return {
      name: p.name,
      description: p.description ?? "",
      config,
      features: Object.entries(config).filter(([k, v]) => k.startsWith("features.") && v === "true").map(([k]) => k.slice("features.".length)).sort(),
      restricted: config.restricted === "true",
      usedBy: p.used_by ?? [],
    } satisfies GetProjectResult;
  });
}

/** {@link getProject} for `Input` arguments: an `Output` that resolves once they are known. */
export function getProjectOutput(args: OutputArgs<GetProjectArgs> & { allowMissing: pulumi.Input<true> }): pulumi.Output<GetProjectResult | undefined>;
export function getProjectOutput(args: OutputArgs<GetProjectArgs>): pulumi.Output<GetProjectResult>;
export function getProjectOutput(args: OutputArgs<GetProjectArgs>): pulumi.Output<GetProjectResult | undefined> {
  return outputForm<GetProjectArgs, GetProjectResult | undefined>(getProject)(args);
}
