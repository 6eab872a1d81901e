/**
 * The Ansible peer: community.general.lxd_container, one inventory host per container (local connection)
 * so that `--forks` gives the same parallelism as the engine. Used only where `ansible-playbook` and the
 * community.general collection are installed; never installed by the bench.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ConfigMap } from "../provider/lxd";

/** true, or why the peer is skipped. */
export function ansibleAvailable(): true | string {
  const which = spawnSync("sh", ["-c", "command -v ansible-playbook"], { encoding: "utf8" });
  if (which.status !== 0) return "ansible-playbook is not installed (not installed by the bench)";
  const doc = spawnSync("ansible-doc", ["-t", "module", "community.general.lxd_container"], { encoding: "utf8", timeout: 60_000 });
  if (doc.status !== 0) return "the community.general collection (lxd_container) is not installed";
  return true;
}

export interface AnsiblePhaseArgs {
  names: string[];
  project: string;
  image: string;
  socket: string;
  parallel: number;
  config: ConfigMap;
}

/** Runs one phase as a playbook; throws with the output when ansible-playbook fails. */
export function runAnsiblePhase(phase: "create" | "nochange" | "update" | "destroy", a: AnsiblePhaseArgs): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-ansible-"));
  try {
    const inventory = ["[bench]", ...a.names.map((n) => `${n} ansible_connection=local ansible_python_interpreter=${pythonOf()}`)].join("\n");
    fs.writeFileSync(path.join(dir, "inventory.ini"), inventory + "\n");
    const task: Record<string, unknown> =
      phase === "destroy"
        ? { name: "{{ inventory_hostname }}", project: a.project, url: `unix:${a.socket}`, state: "absent", force_stop: true }
        : {
            name: "{{ inventory_hostname }}", project: a.project, url: `unix:${a.socket}`, state: "started", type: "container",
            source: { type: "image", alias: a.image }, profiles: ["default"], config: a.config, wait_for_ipv4_addresses: false,
          };
    const playbook = [{ hosts: "bench", gather_facts: false, tasks: [{ name: `lxd ${phase}`, "community.general.lxd_container": task }] }];
    // JSON is YAML.
    fs.writeFileSync(path.join(dir, "play.yml"), JSON.stringify(playbook, null, 2));
    const argv = ["-i", path.join(dir, "inventory.ini"), "--forks", String(a.parallel), path.join(dir, "play.yml")];
    if (phase === "nochange") argv.push("--check", "--diff");
    execFileSync("ansible-playbook", argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ANSIBLE_HOST_KEY_CHECKING: "False" } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`ansible-playbook ${phase} failed: ${(e.stdout ?? "").slice(-1500)}${(e.stderr ?? "").slice(-500) || e.message}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function pythonOf(): string {
  return spawnSync("sh", ["-c", "command -v python3"], { encoding: "utf8" }).stdout.trim() || "python3";
}
