/**
 * Instance readiness (`waitFor`), host side: conditions awaited, in order, after the instance is created running
 * and after an update starts it (or restarts it). Each waits up to its own `timeoutSec`; nothing else caps it.
 *
 * - `{type: "ready"}`: LXD reports status `Ready` (the workload said so through /dev/lxd). Needs API extension
 *   `instance_ready_state` (LXD 5.0.2 lacks it: refused at check, naming the extension; Incus has it).
 * - `{type: "agent"}`: the VM's lxd-agent answers (an exec of `true` succeeds). Virtual machines only.
 * - `{type: "delay", seconds}`: a fixed pause.
 * - `{type: "exec", command, intervalSec?}`: the command is run (LXD exec, no output kept) until it exits 0.
 * - `{type: "ipv4" | "ipv6", nic}`: the NIC (its name inside the instance, as GET …/state lists it under
 *   `network`) has a global address of that family.
 *
 * LXD endpoints: GET /1.0, GET /1.0/instances/{name}/state, POST /1.0/instances/{name}/exec.
 */
import { z } from "zod";
import { execInstance, getInstanceState, LxdError, type LxdClient } from "../lxd";
import type { CheckContext } from "../kit/contract";
import { containsUnknown } from "../rules/values";

/** Default wait of one condition, in seconds. */
export const DEFAULT_WAIT_TIMEOUT_SEC = 300;
/** Default pause between two polls, in seconds. */
const DEFAULT_INTERVAL_SEC = 1;

/** One condition of `waitFor`. `timeoutSec`: how long to wait for it (default 300 s; -1 = no limit). */
export type WaitCondition =
  | { type: "ready"; timeoutSec?: number }
  | { type: "agent"; timeoutSec?: number }
  | { type: "delay"; seconds: number }
  | { type: "exec"; command: string[]; timeoutSec?: number; intervalSec?: number }
  | { type: "ipv4" | "ipv6"; nic: string; timeoutSec?: number };

/** The zod schema of `waitFor`. */
export function waitForSchema() {
  const timeoutSec = z.number().int().refine((n) => n === -1 || n >= 1, "must be at least 1 second, or -1 for no limit").optional();
  return z
    .array(
      z.discriminatedUnion("type", [
        z.object({ type: z.literal("ready"), timeoutSec }).strict(),
        z.object({ type: z.literal("agent"), timeoutSec }).strict(),
        z.object({ type: z.literal("delay"), seconds: z.number().positive("must be more than 0 seconds") }).strict(),
        z.object({
          type: z.literal("exec"),
          command: z.array(z.string()).min(1, "must hold at least the program to run"),
          timeoutSec,
          intervalSec: z.number().positive("must be more than 0 seconds").optional(),
        }).strict(),
        z.object({ type: z.enum(["ipv4", "ipv6"]), nic: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,14}$/, "must be a NIC name inside the instance (1–15 letters, digits, '.', '_' or '-')"), timeoutSec }).strict(),
      ]),
    )
    .default([]);
}

/** The API extension `ready` needs. */
export const READY_EXTENSION = "instance_ready_state";

/**
 * Checks `waitFor` against the rest of the instance's inputs: `agent` only on a virtual machine, nothing to wait
 * for on an instance that is not running, and `ready` only on a server with {@link READY_EXTENSION} (asked at
 * preview; an unreachable server is left to create/update).
 */
export async function checkWaitFor(
  v: { waitFor: WaitCondition[]; type: string; running: boolean; guestApi?: boolean },
  open: CheckContext["open"],
): Promise<{ property: string; reason: string }[]> {
  if (containsUnknown(v.waitFor) || !v.waitFor.length) return [];
  const failures: { property: string; reason: string }[] = [];
  if (!v.running) failures.push({ property: "waitFor", reason: "waitFor needs running: true (there is nothing to wait for on a stopped instance), but running: false was provided" });
  v.waitFor.forEach((w, i) => {
    if (w.type === "agent" && v.type !== "virtual-machine" && !containsUnknown(v.type)) {
      failures.push({ property: `waitFor.${i}`, reason: `waitFor.${i} type "agent" needs type "virtual-machine" (only VMs run lxd-agent), but type ${JSON.stringify(v.type)} was provided` });
    }
  });
  // The workload reports Ready through the guest API (/dev/lxd, /dev/incus): without it the wait can only time out.
  if (v.guestApi === false && v.waitFor.some((w) => w.type === "ready")) {
    failures.push({ property: "waitFor", reason: "waitFor type \"ready\" needs guestApi: true (the workload reports Ready through /dev/lxd or /dev/incus), but guestApi false was provided" });
  }
  if (!failures.length && v.waitFor.some((w) => w.type === "ready")) {
    const why = await readyUnsupported(open().lxd).catch(() => undefined);
    if (why) failures.push({ property: "waitFor", reason: why });
  }
  return failures;
}

/** Why `ready` cannot be awaited on this server, or undefined. */
async function readyUnsupported(lxd: LxdClient): Promise<string | undefined> {
  if (await lxd.hasExtension(READY_EXTENSION)) return undefined;
  const s = await lxd.server();
  return `waitFor type "ready" needs the server's API extension "${READY_EXTENSION}", which this server (version ${s.environment?.server_version ?? "unknown"}) lacks. Wait with type "exec" (a command that succeeds once the workload is up) instead`;
}

/** What a condition is, for messages. */
export function describeWait(w: WaitCondition): string {
  switch (w.type) {
    case "ready": return `status Ready`;
    case "agent": return `the VM agent`;
    case "delay": return `a delay of ${w.seconds} s`;
    case "exec": return `command ${JSON.stringify(w.command)} to exit 0`;
    default: return `an ${w.type} address on NIC "${w.nic}"`;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits for each condition in turn.
 * @throws Error naming the condition (`waitFor[i]`, what was awaited), the time waited and the last thing seen.
 */
export async function waitForInstance(lxd: LxdClient, project: string, name: string, conditions: WaitCondition[]): Promise<void> {
  for (const [i, w] of conditions.entries()) {
    if (w.type === "delay") {
      await sleep(w.seconds * 1000);
      continue;
    }
    if (w.type === "ready") {
      const why = await readyUnsupported(lxd);
      if (why) throw new Error(why);
    }
    const limit = w.timeoutSec ?? DEFAULT_WAIT_TIMEOUT_SEC;
    const interval = (w.type === "exec" ? w.intervalSec ?? DEFAULT_INTERVAL_SEC : DEFAULT_INTERVAL_SEC) * 1000;
    const started = Date.now();
    let last = "nothing seen yet";
    for (;;) {
      const left = limit < 0 ? -1 : Math.max(1, Math.ceil(limit - (Date.now() - started) / 1000));
      const r = await probe(lxd, project, name, w, left);
      if (r.ok) break;
      last = r.seen;
      const waited = (Date.now() - started) / 1000;
      if (limit >= 0 && waited + interval / 1000 > limit) {
        throw new Error(`waitFor[${i}]: instance "${name}" did not reach ${describeWait(w)} within timeoutSec ${limit} (waited ${waited.toFixed(1)} s; last seen: ${last}). Raise timeoutSec to wait longer`);
      }
      await sleep(interval);
    }
  }
}

/** One poll of a condition. */
async function probe(lxd: LxdClient, project: string, name: string, w: WaitCondition, leftSec: number): Promise<{ ok: boolean; seen: string }> {
  switch (w.type) {
    case "ready": {
      const s = await getInstanceState(lxd, name, { project });
      return { ok: s.status === "Ready", seen: `status ${s.status}` };
    }
    case "agent":
    case "exec": {
      const command = w.type === "agent" ? ["true"] : w.command;
      try {
        const code = await execInstance(lxd, name, command, { project, timeoutSec: leftSec });
        return { ok: code === 0, seen: `exit code ${code}` };
      } catch (err) {
        // The agent not up yet, the command not found yet, a poll that ran out of time: keep polling.
        if (err instanceof LxdError && (err.status === 0 || err.status >= 400)) return { ok: false, seen: err.isTransport ? err.message : err.lxdMessage };
        throw err;
      }
    }
    case "ipv4":
    case "ipv6": {
      const s = await getInstanceState(lxd, name, { project });
      const nic = (s.network ?? {})[w.nic];
      const family = w.type === "ipv4" ? "inet" : "inet6";
      const found = (nic?.addresses ?? []).find((a) => a.family === family && a.scope === "global");
      return { ok: !!found, seen: nic ? `NIC "${w.nic}" has no global ${family} address` : `no NIC "${w.nic}" in the instance's state` };
    }
    default:
      return { ok: true, seen: "" };
  }
}
