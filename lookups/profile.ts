/** `getProfile`: an existing LXD profile (GET /1.0/profiles/{name}?project=), read in the program. */
import type * as pulumi from "@pulumi/pulumi";
import type { ConfigMap, DeviceMap } from "../provider/lxd/types";
import { PROFILE_NAME } from "../provider/rules/names";
import { checkName, lookUp, outputForm, projectOf, type NamedLookupArgs, type OutputArgs } from "./lookup";

/** Arguments of {@link getProfile}. */
export interface GetProfileArgs extends NamedLookupArgs {
  /** Profile name. */
  name: string;
}

/** An LXD profile, in this package's terms. */
export interface GetProfileResult {
  name: string;
  /**
   * The project it was looked up in. A project without `features.profiles=true` uses the `default` project's
   * profiles: the profile found is then the `default` project's.
   */
  project: string;
  description: string;
  /** LXD `config`, verbatim. */
  config: ConfigMap;
  /** LXD `devices`: name → properties. */
  devices: DeviceMap;
  /** LXD's `used_by`: API paths of the instances (and other objects) using it, e.g. `/1.0/instances/web?project=p`. */
  usedBy: string[];
}

/**
 * Reads an existing profile.
 * @returns it; `undefined` with `allowMissing` when it (or its project) does not exist.
 * @throws Error `profile "<name>" was not found in project "<p>"` (an LxdError with status 404), or
 *   `Failed to look up profile "<name>" in project "<p>": <reason>`; `name must be …, but … was provided`.
 */
export async function getProfile(args: GetProfileArgs & { allowMissing: true }): Promise<GetProfileResult | undefined>;
export async function getProfile(args: GetProfileArgs): Promise<GetProfileResult>;
export async function getProfile(args: GetProfileArgs): Promise<GetProfileResult | undefined> {
  checkName("name", args?.name, PROFILE_NAME);
  const project = projectOf(args.project);
  return lookUp("profile", args.name, project, args, async (lxd) => {
    const { getProfile: get } = await import("../provider/lxd");
    const p = (await get(lxd, args.name, { project })).value;
    return {
      name: p.name,
      project: p.project || project,
      description: p.description ?? "",
      config: p.config ?? {},
      devices: p.devices ?? {},
      usedBy: p.used_by ?? [],
    } satisfies GetProfileResult;
  });
}

/** {@link getProfile} for `Input` arguments: an `Output` that resolves once they are known. */
export function getProfileOutput(args: OutputArgs<GetProfileArgs> & { allowMissing: pulumi.Input<true> }): pulumi.Output<GetProfileResult | undefined>;
export function getProfileOutput(args: OutputArgs<GetProfileArgs>): pulumi.Output<GetProfileResult>;
export function getProfileOutput(args: OutputArgs<GetProfileArgs>): pulumi.Output<GetProfileResult | undefined> {
  return outputForm<GetProfileArgs, GetProfileResult | undefined>(getProfile)(args);
}
