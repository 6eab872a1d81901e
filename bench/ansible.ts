/**
 * The Ansible peer: community.general.lxd_container, one inventory host per container (local connection, no
 * SSH) so that `--forks` gives the same parallelism as the engine. Used only where `ansible-playbook` and the
 * community.general collection (with lxd_container) are installed; never installed by the bench.
 *
 * ansible-playbook runs as an asynchronous child process: the bench's request-counting proxy lives in the
 * bench's own event loop, so a synchronous child would block every request Ansible sends through it.
 * Ansible talks only to the unix socket it is given (`url: unix:<socket>`); the image is a local alias, no
 * image server is named.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ConfigMap } from "../provider/lxd";

export type AnsiblePhase = "create" | "nochange" | "update" | "destroy";

/** Output of a finished child process. */
interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` without blocking the event loop; resolves with its exit code and output. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 30 * 60_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** true, or why the peer is skipped. */
export async function ansibleAvailable(): Promise<true | string> {
  const which = await run("sh", ["-c", "command -v ansible-playbook"]).catch(() => undefined);
  if (!which || which.code !== 0) return "ansible-playbook is not installed (not installed by the bench)";
  const doc = await run("ansible-doc", ["-t", "module", "community.general.lxd_container"], process.env, 60_000).catch(() => undefined);
  if (!doc || doc.code !== 0) return "the community.general collection (lxd_container) is not installed";
  return true;
}

/** `ansible-playbook --version`'s first line and the community.general version, for the report. */
export async function ansibleVersion(): Promise<string> {
  const v = await run("ansible-playbook", ["--version"]).catch(() => undefined);
  const g = await run("ansible-galaxy", ["collection", "list", "community.general"]).catch(() => undefined);
  const general = /community\.general\s+(\S+)/.exec(g?.stdout ?? "")?.[1] ?? "?";
  return `${(v?.stdout ?? "").split("\n")[0].trim() || "ansible-playbook ?"}, community.general ${general}`;
}

export interface AnsiblePhaseArgs {
  names: string[];
  project: string;
  image: string;
  socket: string;
  parallel: number;
  config: ConfigMap;
}

/** What ansible-playbook reported per host (PLAY RECAP). */
export interface AnsibleRecap {
  ok: number;
  changed: number;
  failed: number;
  unreachable: number;
}

/**
 * Runs one phase as a playbook and returns the PLAY RECAP per host. Throws with the end of the output when
 * ansible-playbook fails.
 *
 * create: two tasks, as the floor does it: the instance is created stopped with `throttle: 1` (LXD 5.0.2
 * allocates isolated idmaps racily when creates run concurrently, see bench.ts), then started with full
 * parallelism. nochange: the create playbook in `--check --diff` mode. update: state started with the new
 * config. destroy: state absent with force_stop.
 */
export async function runAnsiblePhase(phase: AnsiblePhase, a: AnsiblePhaseArgs): Promise<Map<string, AnsibleRecap>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-ansible-"));
  try {
    const py = await pythonOf();
    const inventory = ["[bench]", ...a.names.map((n) => `${n} ansible_connection=local ansible_python_interpreter=${py}`)].join("\n");
    fs.writeFileSync(path.join(dir, "inventory.ini"), inventory + "\n");
    const common = { name: "{{ inventory_hostname }}", project: a.project, url: `unix:${a.socket}` };
    const desired = {
      ...common, type: "container", source: { type: "image", alias: a.image }, profiles: ["default"], config: a.config,
      wait_for_ipv4_addresses: false,
    };
    const task = (name: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      name, "community.general.lxd_container": args, ...extra,
    });
    const tasks =
      phase === "destroy"
        ? [task("lxd destroy", { ...common, state: "absent", force_stop: true })]
        : phase === "create"
          ? [task("lxd create (one at a time)", { ...desired, state: "stopped" }, { throttle: 1 }), task("lxd start", { ...desired, state: "started" })]
          : [task(`lxd ${phase}`, { ...desired, state: "started" })];
    const playbook = [{ hosts: "bench", gather_facts: false, tasks }];
    // JSON is YAML.
    fs.writeFileSync(path.join(dir, "play.yml"), JSON.stringify(playbook, null, 2));
    const argv = ["-i", path.join(dir, "inventory.ini"), "--forks", String(a.parallel), path.join(dir, "play.yml")];
    if (phase === "nochange") argv.push("--check", "--diff");
    const r = await run("ansible-playbook", argv, {
      ...process.env, ANSIBLE_HOST_KEY_CHECKING: "False", ANSIBLE_NOCOLOR: "1", ANSIBLE_RETRY_FILES_ENABLED: "False",
    });
    if (r.code !== 0) {
      throw new Error(`ansible-playbook ${phase} exited ${r.code}: ${r.stdout.slice(-1500)}${r.stderr.slice(-500)}`);
    }
    return parseRecap(r.stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `name : ok=2 changed=2 unreachable=0 failed=0 …` lines of the PLAY RECAP. */
function parseRecap(stdout: string): Map<string, AnsibleRecap> {
  const out = new Map<string, AnsibleRecap>();
  const recap = stdout.slice(stdout.lastIndexOf("PLAY RECAP"));
  for (const m of recap.matchAll(/^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)) {
    out.set(m[1], { ok: Number(m[2]), changed: Number(m[3]), unreachable: Number(m[4]), failed: Number(m[5]) });
  }
  return out;
}

let python: Promise<string> | undefined;
function pythonOf(): Promise<string> {
  python ??= run("sh", ["-c", "command -v python3"]).then((r) => r.stdout.trim() || "python3", () => "python3");
  return python;
}
