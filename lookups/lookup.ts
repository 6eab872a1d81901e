/**
 * What every look-up shares: its arguments (`project`, `connection`, `allowMissing`), name validation, the
 * not-found answer, error wording, and the `Output` form for programs.
 */
import * as pulumi from "@pulumi/pulumi";
import type { LxdClient } from "../provider/lxd";
import { LxdError } from "../provider/lxd/errors";
import type { ConnectionArgs } from "../provider/rules/connection";
import { normalizeProject, PROJECT_NAME, type NameRule } from "../provider/rules/names";
import { lookupClient, redacted } from "./connection";

/** Arguments every look-up takes. */
export interface LookupArgs {
  /** How to reach LXD; the same shape and resolution as a resource's `connection`. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: ConnectionArgs;
}

/** Arguments of a look-up of one named object. */
export interface NamedLookupArgs extends LookupArgs {
  /** LXD project to look in. Default `default` (an empty project is the same). */
  project?: string;
  /** Resolve to `undefined` instead of rejecting when the object (or its project) does not exist. Default false. */
  allowMissing?: boolean;
}

/** The same arguments with every field a Pulumi `Input` (for the `…Output` forms). */
export type OutputArgs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** `<field> must …, but <value> was provided` when `value` breaks `rule`. */
export function checkName(field: string, value: unknown, rule: NameRule): void {
  if (typeof value !== "string" || !rule.re.test(value)) {
    throw new Error(`${field} ${rule.mustBe}, but ${JSON.stringify(value) ?? "nothing"} was provided`);
  }
}

/** The project a look-up reads, validated; "" and omitted are `default`. */
export function projectOf(project: unknown): string {
  if (project === undefined || project === null || project === "") return "default";
  checkName("project", project, PROJECT_NAME);
  return normalizeProject(project as string);
}

/**
 * Runs one look-up of `kind` "`name`": a client for `connection`, then `read`. LXD's 404 becomes
 * `<kind> "<name>" was not found in project "<p>"` (an LxdError with status 404, so `isNotFound` answers true),
 * naming the project when it is the project that is missing; or `undefined` with `allowMissing`. Any other failure:
 * `Failed to look up <kind> "<name>" in project "<p>": <reason>`. Credentials never appear in a message.
 * `project` undefined: a server-wide object (storage pools), named without a project.
 */
export async function lookUp<T>(
  kind: string, name: string, project: string | undefined, args: NamedLookupArgs, read: (lxd: LxdClient) => Promise<T>,
): Promise<T | undefined> {
  const where = project === undefined ? "" : ` in project "${project}"`;
  let lxd: LxdClient;
  try {
    lxd = await lookupClient(args.connection);
  } catch (err) {
    throw redacted(new Error(`Failed to look up ${kind} "${name}"${where}: ${(err as Error).message}`));
  }
  try {
    return await read(lxd);
  } catch (err) {
    if (!(err instanceof LxdError && err.status === 404)) {
      const detail = err instanceof LxdError && !err.isTransport ? err.lxdMessage : (err as Error).message;
      throw redacted(new LxdError({
        status: err instanceof LxdError ? err.status : 0, lxdMessage: err instanceof LxdError ? err.lxdMessage : "",
        method: err instanceof LxdError ? err.method : "", path: err instanceof LxdError ? err.path : "",
        message: `Failed to look up ${kind} "${name}"${where}: ${detail}`,
      }));
    }
    if (args.allowMissing) return undefined;
    const why = project !== undefined && project !== "default" && !(await projectExists(lxd, project)) ? `: project "${project}" does not exist` : "";
    throw new LxdError({ status: 404, lxdMessage: err.lxdMessage, method: err.method, path: err.path, message: `${kind} "${name}" was not found${where}${why}` });
  }
}

async function projectExists(lxd: LxdClient, project: string): Promise<boolean> {
  try {
    await lxd.get(`/1.0/projects/${encodeURIComponent(project)}`);
    return true;
  } catch (err) {
    if (err instanceof LxdError && err.status === 404) return false;
    return true; // cannot tell (e.g. a restricted client): say nothing about the project
  }
}

/** The `Output` form of a look-up: runs once every input is known (not during a preview with unknowns). */
export function outputForm<A extends object, R>(fn: (args: A) => Promise<R>): (args: OutputArgs<A>) => pulumi.Output<R> {
  return (args) => pulumi.output(args).apply((plain) => fn(plain as unknown as A)) as pulumi.Output<R>;
}
