/**
 * InstanceExec, host side: a command run inside a running instance through LXD's exec API, its output recorded.
 * No websockets: `record-output: true`, `wait-for-websocket: false`, `interactive: false`; the operation is waited
 * on, then its stdout/stderr logs are read and deleted.
 *
 * LXD endpoints: GET /1.0/instances/{name} (status, `last_used_at`), POST /1.0/instances/{name}/exec,
 * GET /1.0/operations/{id}/wait, GET|DELETE the log paths the operation gives. API extensions
 * `container_exec_recording`, `container_exec_user_group_cwd`.
 *
 * When it runs (`when`): `once` at create only (and when `triggers` change); `onChange` also when `command`,
 * `environment`, `cwd`, `uid`, `gid` or `triggers` change; `onStart` also when the instance was started since the
 * recorded run (its `last_used_at` changed; read at preview). Changing `instance` or `project` (or the server)
 * forces replacement, which runs it again. An instance that is not running fails the run with a clear error: it is
 * never started here. Delete does nothing in LXD: the resource is a record of a run.
 */
import { unwrapSecret, wireSecret } from "../kit/secret";
import { z } from "zod";
import { posix } from "node:path";
import { execRecorded, getInstance, getInstanceFile, isNotFound, isRunningStatus, LxdError, statInstanceFile, type LxdClient } from "../lxd";
import { INSTANCE_NAME, nameSchema, normalizeProject, projectSchema, scalarSchema } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { normalizeInstancePath } from "../rules/paths";
import { normalizeConfig, sameJson, UNKNOWN } from "../rules/values";
import { checkWith } from "../kit/check";
import type { Kind } from "../kit/contract";

/** When the command runs. */
export type ExecWhen = "once" | "onChange" | "onStart";

/** Inputs after check. */
export interface InstanceExecInputs {
  instance: string;
  project: string;
  command: string[];
  environment: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
  triggers: Record<string, string>;
  when: ExecWhen;
  failOnError: boolean;
  /** Seconds to wait for the command; -1 = no limit. */
  timeoutSec: number;
  /** Leave the command and its stderr out of error messages (the class sets it when any input is a secret). */
  redactErrors: boolean;
  connection?: ConnectionArgs;
}

/** State: the inputs and the recorded run. */
export interface InstanceExecOutputs extends InstanceExecInputs {
  /** The command's standard output (UTF-8, at most {@link OUTPUT_LIMIT_BYTES} bytes kept). */
  stdout: string;
  /** Its standard error (same limit). */
  stderr: string;
  exitCode: number;
  /** When it ran (ISO 8601, UTC). */
  ranAt: string;
  /** The instance's `last_used_at` (its last start) when it ran: `onStart` runs again when it changes. */
  instanceStartedAt: string;
}

/** Most bytes of stdout and of stderr kept in the state; the rest is cut, with a note saying how much. */
export const OUTPUT_LIMIT_BYTES = 1024 * 1024;
/** Most bytes of stderr quoted in an error. */
const ERROR_QUOTE_BYTES = 2000;
/** Default wait for the command, in seconds. */
export const DEFAULT_EXEC_TIMEOUT_SEC = 600;

/** Inputs whose change re-runs an `onChange`/`onStart` command. */
const RUN_KEYS = ["command", "environment", "cwd", "uid", "gid", "triggers"] as const;

function schema() {
  const scalar = scalarSchema();
  const id = z.number().int().min(0).max(4294967294);
  return z
    .object({
      instance: nameSchema(INSTANCE_NAME),
      project: projectSchema(),
      command: z.array(z.string()).min(1, "must hold at least the program to run"),
      environment: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name (letters, digits, _)"), scalar).default({}),
      cwd: z.string().optional(),
      uid: id.optional(),
      gid: id.optional(),
      triggers: z.record(z.string(), scalar).default({}),
      when: z.enum(["once", "onChange", "onStart"]).default("once"),
      failOnError: z.boolean().default(true),
      timeoutSec: z.number().int().refine((n) => n === -1 || n >= 1, "must be at least 1 second, or -1 for no limit").default(DEFAULT_EXEC_TIMEOUT_SEC),
      redactErrors: z.boolean().default(false),
      connection: connectionSchema().optional(),
    })
    .strict();
}

/** Text of `b`, cut to `limit` bytes with a note. */
function clip(b: Buffer, limit: number): string {
  if (b.length <= limit) return b.toString("utf8");
  return `${b.subarray(0, limit).toString("utf8")}\n[… ${b.length - limit} more bytes not kept]`;
}

/** What messages say instead of a command or its output when `redactErrors` is set. */
const WITHHELD = "<withheld: redactErrors>";

/** The command as it appears in messages (withheld with `redactErrors`). */
export function shownCommand(command: string[], redact = false): string {
  if (redact) return WITHHELD;
  const s = JSON.stringify(command);
  return s.length > 200 ? `${s.slice(0, 200)}…]` : s;
}

/** The instance's `last_used_at`, after checking that it runs. @throws Error when it is not running. */
async function runningInstance(lxd: LxdClient, project: string, name: string): Promise<string> {
  let inst;
  try {
    inst = (await getInstance(lxd, name, { project })).value;
  } catch (err) {
    if (err instanceof LxdError && err.status === 404) throw new Error(`instance "${name}" does not exist in project "${project}"`);
    throw err;
  }
  if (!isRunningStatus(inst.status)) {
    throw new Error(`instance "${name}" is ${inst.status}: a command runs only in a running instance, and this resource never starts one (start it, e.g. running: true on the Instance)`);
  }
  return inst.last_used_at ?? "";
}

/** Symlinks followed when checking `cwd` (the kernel's own limit is 40; a chain this long is a mistake). */
const CWD_SYMLINK_HOPS = 8;

/**
 * Fails unless `cwd` is a directory in the instance. LXD 5.0.2 and Incus 6.0.4 run a command whose `cwd` does not
 * exist, or is not a directory, in `/` and say nothing (measured): a relative `rm` there is no place to find out.
 * The path is resolved one component at a time through the files API, as the kernel does: a symlink is replaced by
 * its target (a relative one read from the link's own, resolved directory), at most {@link CWD_SYMLINK_HOPS} times.
 * With `redact`, the message names no path.
 */
async function requireDirectory(lxd: LxdClient, project: string, instance: string, cwd: string, redact: boolean): Promise<void> {
  let hops = 0;
  const refuse = (what: string, at: string, type?: string) => {
    const direct = at === cwd && hops === 0;
    const where = redact ? "" : direct ? "" : `: "${at}"${hops ? " (reached through symlinks)" : ""} ${type ? `is a ${type}` : "is missing"}`;
    const shown = redact ? WITHHELD : `"${cwd}"`;
    return new Error(`cwd ${shown} ${what}${where} in instance "${instance}": LXD would run the command in / instead, so it is not run. Create the directory first (e.g. with an InstanceFile or an earlier InstanceExec, and dependsOn)`);
  };
  let resolved = "/";
  const rest = cwd.split("/").filter((c) => c !== "" && c !== ".");
  while (rest.length) {
    const part = rest.shift()!;
    if (part === "..") {
      resolved = posix.dirname(resolved);
      continue;
    }
    const at = posix.join(resolved, part);
    let type: string;
    try {
      type = (await statInstanceFile(lxd, instance, at, { project })).type;
    } catch (err) {
      if (isNotFound(err)) throw refuse("does not exist", at);
      throw err;
    }
    if (type === "directory") {
      resolved = at;
    } else if (type === "symlink") {
      if (++hops > CWD_SYMLINK_HOPS) throw refuse(`goes through more than ${CWD_SYMLINK_HOPS} symlinks`, at, "symlink");
      const target = (await getInstanceFile(lxd, instance, at, { project })).content.toString("utf8");
      if (target.startsWith("/")) resolved = "/";
      rest.unshift(...target.split("/").filter((c) => c !== "" && c !== "."));
    } else {
      // LXD reports device nodes as files too.
      throw refuse(at === cwd && hops === 0 ? `is a ${type}, not a directory` : "is not a directory", at, type);
    }
  }
}

/** Runs the command and returns the state; fails on a non-zero exit with `failOnError`, and on a timeout. */
async function run(lxd: LxdClient, project: string, i: InstanceExecInputs): Promise<InstanceExecOutputs> {
  const instanceStartedAt = await runningInstance(lxd, project, i.instance);
  if (i.cwd !== undefined) await requireDirectory(lxd, project, i.instance, i.cwd, i.redactErrors);
  const started = Date.now();
  let r;
  try {
    r = await execRecorded(lxd, i.instance, { command: i.command, environment: i.environment, cwd: i.cwd, user: i.uid, group: i.gid }, { project, timeoutSec: i.timeoutSec });
  } catch (err) {
    if (err instanceof LxdError && err.isTransport && /Timed out after/.test(err.message)) {
      const waited = ((Date.now() - started) / 1000).toFixed(0);
      throw new Error(`command ${shownCommand(i.command, i.redactErrors)} did not finish within timeoutSec ${i.timeoutSec} (waited ${waited} s); it may still be running inside the instance. Raise timeoutSec to wait longer`, { cause: err });
    }
    throw err;
  }
  const stderr = clip(r.stderr, OUTPUT_LIMIT_BYTES);
  if (r.exitCode !== 0 && i.failOnError) {
    const quoted = r.stderr.length > ERROR_QUOTE_BYTES ? `…${r.stderr.subarray(r.stderr.length - ERROR_QUOTE_BYTES).toString("utf8")}` : r.stderr.toString("utf8");
    const said = i.redactErrors ? `; stderr ${WITHHELD} (with failOnError: false it is recorded in the secret stderr output)` : quoted.trim() ? `; stderr: ${quoted.trim()}` : " (no stderr)";
    throw new Error(`command ${shownCommand(i.command, i.redactErrors)} exited with code ${r.exitCode}${said}. Set failOnError: false to record a failing run instead`);
  }
  return {
    ...i,
    stdout: clip(r.stdout, OUTPUT_LIMIT_BYTES),
    stderr,
    exitCode: r.exitCode,
    ranAt: new Date().toISOString(),
    instanceStartedAt,
  } satisfies InstanceExecOutputs;
}

/**
 * `stdout` and `stderr` in the wire form of a secret (../kit/secret.ts): the class lists them in
 * `additionalSecretOutputs` too, so either lock keeps them out of the state in plain text. The state the engine
 * sends back holds them unwrapped; a value already wrapped is left as it is.
 */
function sealed(o: InstanceExecOutputs): InstanceExecOutputs {
  return { ...o, stdout: wireSecret(unwrapSecret(o.stdout)) as never, stderr: wireSecret(unwrapSecret(o.stderr)) as never };
}

/** The instance's `last_used_at` now, or undefined when it cannot be read (gone, unreachable). */
async function startedAtNow(lxd: LxdClient, project: string, name: string): Promise<string | undefined> {
  try {
    return (await getInstance(lxd, name, { project })).value.last_used_at ?? "";
  } catch {
    return undefined;
  }
}

export const instanceExecKind: Kind<InstanceExecInputs, InstanceExecOutputs> = {
  noun: "exec",
  outputKeys: ["stdout", "stderr", "exitCode", "ranAt", "instanceStartedAt"],
  // `redactErrors` shapes only the messages of the run that reads it: a change alone is no diff.
  diffKeys: ["instance", "project", ...RUN_KEYS, "when", "failOnError", "timeoutSec"],
  replaceKeys: ["instance", "project"],

  idOf: (p) => `${normalizeProject(p.project)}/${p.instance}/exec`,
  subject: (verb, p) => {
    const what = `command ${shownCommand((p.command as string[] | undefined) ?? [], p.redactErrors === true)} in instance "${p.instance}"`;
    return verb === "create" || verb === "update" ? `run ${what}` : `${verb} the record of ${what}`;
  },

  async check(news) {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    let cwd = value.cwd;
    if (cwd !== undefined && !unknownKeys.includes("cwd")) {
      const r = normalizeInstancePath(cwd, "cwd");
      if (r.error) failures.push({ property: "cwd", reason: r.error });
      else cwd = r.path;
    }
    if (failures.length) return { failures };
    return {
      inputs: {
        ...value,
        cwd,
        environment: unknownKeys.includes("environment") ? (UNKNOWN as never) : normalizeConfig(value.environment),
        triggers: unknownKeys.includes("triggers") ? (UNKNOWN as never) : normalizeConfig(value.triggers),
        project: unknownKeys.includes("project") ? value.project! : normalizeProject(value.project),
      },
    };
  },

  async diff(olds, news, base, open) {
    if (base.changes || news.when !== "onStart" || olds.instanceStartedAt === undefined) return base;
    // onStart: the instance was started since the recorded run (read now; a preview may read).
    const { lxd, project } = open();
    const now = await startedAtNow(lxd, project, news.instance);
    return now !== undefined && now !== olds.instanceStartedAt ? { changes: true, replaces: [], deleteBeforeReplace: false } : base;
  },

  async create({ lxd, project }, inputs) {
    return sealed(await run(lxd, project, inputs));
  },

  async read({ lxd, project }, props) {
    // The record lives as long as its instance: a deleted instance drops it (the next run creates it again).
    await getInstance(lxd, props.instance, { project });
    return sealed(props);
  },

  async update({ lxd, project }, olds, news) {
    const changed = RUN_KEYS.filter((k) => !sameJson(olds[k], news[k]));
    let again = changed.includes("triggers") || (news.when !== "once" && changed.length > 0);
    if (!again && news.when === "onStart") {
      const now = await startedAtNow(lxd, project, news.instance);
      again = now !== undefined && now !== olds.instanceStartedAt;
    }
    if (again) return sealed(await run(lxd, project, news));
    // Nothing to run: the new settings are recorded with the previous run.
    return sealed({ ...news, stdout: olds.stdout, stderr: olds.stderr, exitCode: olds.exitCode, ranAt: olds.ranAt, instanceStartedAt: olds.instanceStartedAt } satisfies InstanceExecOutputs);
  },

  async delete() {
    // A command cannot be undone: the resource is a record of a run, and LXD holds nothing for it.
  },
};
