/**
 * POST /1.0/instances/{name}/exec with recorded output, without websockets: LXD runs the command, writes its
 * stdout and stderr to log files of the instance, and the finished operation's metadata gives
 * `{return: <exit code>, output: {"1": <stdout log path>, "2": <stderr log path>}}` (LXD 5.0.2:
 * `/1.0/instances/{name}/logs/exec_<operation>.stdout`; newer LXD: `…/logs/exec-output/…`: the paths are taken
 * as LXD gives them). The logs are read and then deleted (DELETE of the same path), so they do not accumulate.
 * API extensions: `container_exec_recording`, `container_exec_user_group_cwd` (user, group, cwd).
 * LXD refuses an exec in a stopped instance (400 "Instance is not running"); nothing here starts one.
 */
import type { LxdClient, RequestOptions } from "./client";

type Scope = Pick<RequestOptions, "project" | "target">;

/** What to run. */
export interface ExecRequest {
  command: string[];
  environment?: Record<string, string>;
  /** Working directory inside the instance. */
  cwd?: string;
  /** User id to run as (inside the instance). */
  user?: number;
  /** Group id to run as. */
  group?: number;
}

/** What the command did. */
export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

/**
 * Runs `req` and waits up to `timeoutSec` seconds (-1 = no limit) for it to end; reads and deletes its output logs.
 * @throws LxdError from LXD (e.g. 400 "Instance is not running"), or status 0 "Timed out after … s waiting for
 *   LXD operation" when the command did not end in time (it may still be running inside the instance).
 */
export async function execRecorded(lxd: LxdClient, instance: string, req: ExecRequest, opts: Scope & { timeoutSec?: number } = {}): Promise<ExecResult> {
  const body: Record<string, unknown> = {
    command: req.command,
    environment: req.environment ?? {},
    "wait-for-websocket": false,
    interactive: false,
    "record-output": true,
  };
  if (req.cwd !== undefined) body.cwd = req.cwd;
  if (req.user !== undefined) body.user = req.user;
  if (req.group !== undefined) body.group = req.group;
  const r = await lxd.request<{ return?: number; output?: Record<string, string> }>(
    "POST", `/1.0/instances/${encodeURIComponent(instance)}/exec`, { ...opts, body },
  );
  const output = r.metadata.output ?? {};
  const read = async (fd: string): Promise<Buffer> => {
    const log = output[fd];
    if (!log) return Buffer.alloc(0);
    try {
      return (await lxd.raw("GET", log, { project: opts.project })).body;
    } finally {
      // Best effort: a log that cannot be deleted must not fail a command that ran.
      await lxd.raw("DELETE", log, { project: opts.project }).catch(() => undefined);
    }
  };
  const stdout = await read("1");
  const stderr = await read("2");
  return { exitCode: r.metadata.return ?? -1, stdout, stderr };
}
