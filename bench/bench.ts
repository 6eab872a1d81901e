/**
 * `npm run bench [-- --n 5,20,50] [--parallel 16] [--tools provider,floor,ansible]`
 *
 * For each N, in an LXD project it creates and removes itself, four phases with the same desired state:
 *   1. create   N containers from the test image (hardened: isolated idmap; `limits.processes`; running)
 *   2. nochange refresh + diff of all N (what `pulumi preview --refresh` costs the provider: Read, Check, Diff)
 *   3. update   one config key (`limits.processes`) on all N
 *   4. destroy  all N
 * each through our provider (the SDK's dynamic-provider host over gRPC, one host per phase as one
 * `pulumi` command starts one, resources driven with the engine's parallelism) and through LXD's REST API
 * directly with minimal calls (the floor), plus Ansible's community.general.lxd_container where installed
 * (ansible-playbook as an asynchronous child process, one run per phase, `--forks` = the parallelism).
 * After every phase, what LXD holds is checked, and so is what each tool said it did (the provider's
 * create/update/no-change, Ansible's per-host `changed` count); a phase that leaves LXD wrong or a tool that
 * misreports fails the run (exit 1).
 *
 * Figures per phase: the phase time; for the provider also its host's start-up (spawn → Configure answered)
 * and the "whole command" time, phase + start-up, which is what one `pulumi up` pays for the provider (the
 * engine and the program's own run are not included). Ansible's phase time is already a whole command
 * (ansible-playbook's own start-up included); the floor has no start-up. Ratios: provider/floor on phase
 * times, provider/Ansible on whole commands.
 *
 * HTTP requests are counted by a unix-socket proxy in front of LXD that the host (env LXD_SOCKET), the floor
 * client and Ansible (`url: unix:<proxy>`) talk to.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  LxdClient, createInstance, createProject, deleteInstance, deleteProject, findLocalSocket, getInstance, listInstances, startInstance,
  stopInstance, updateInstance, type ConfigMap,
} from "../provider/lxd";
import { MiniEngine, providerText } from "../tests/support/engine";
import { KINDS, type KindName } from "../provider/kit/registry";
import { ProviderHostError, startProviderHost, type ProviderHost } from "../tests/support/provider-host";
import { CountingProxy } from "./proxy";
import { verifyLxd, type Expectation } from "./verify";
import { ansibleAvailable, ansibleVersion, runAnsiblePhase, type AnsiblePhase } from "./ansible";

/** The instance kind as the provider host knows it (a key of the compiled registry) and its resource type in the URN. */
const INSTANCE_KIND = { module: "instance" as const, type: "Instance" };
const REPORTED_KINDS = Object.keys(KINDS) as KindName[];

const TEST_IMAGE = process.env.LXD_TEST_IMAGE_ALIAS ?? "pulumi-lxd-test";
const PHASES = ["create", "nochange", "update", "destroy"] as const;
type Phase = (typeof PHASES)[number];
type Tool = "provider" | "floor" | "ansible";

const TARGET_RATIO = 1.15;
const TARGET_NOCHANGE_REQ = 2;
const TARGET_MEM_MB = 150;
const PROCS_BEFORE = 500;
const PROCS_AFTER = 600;
/** Same clean-shutdown grace as the provider's default (stopGraceSec 30), so both do the same stop. */
const STOP_GRACE_SEC = 30;

interface Args {
  ns: number[];
  parallel: number;
  tools: Tool[];
}

function parseArgs(argv: string[]): Args {
  const out: Args = { ns: [5, 20, 50], parallel: 16, tools: ["provider", "floor", "ansible"] };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split("=", 2);
    const value = () => inline ?? argv[++i];
    if (flag === "--n") out.ns = value().split(",").map((s) => Number(s.trim()));
    else if (flag === "--parallel") out.parallel = Number(value());
    else if (flag === "--tools") out.tools = value().split(",") as Tool[];
    else if (flag === "--help" || flag === "-h") {
      console.log("npm run bench -- [--n 5,20,50] [--parallel 16] [--tools provider,floor,ansible]");
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!out.ns.length || out.ns.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("--n takes positive integers, e.g. --n 5,20");
  if (!Number.isInteger(out.parallel) || out.parallel < 1) throw new Error("--parallel takes a positive integer");
  return out;
}

/** Runs `fn` over `items` with at most `limit` at once (the engine's step executor with --parallel). */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<string[]> {
  const errors: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        errors.push((err as Error).message.split("\n")[0]);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return errors;
}

/** Runs tasks one at a time. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** Peak resident set (VmHWM) of a process, in MB. */
function peakMemMb(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface PhaseResult {
  tool: Tool;
  n: number;
  phase: Phase;
  seconds: number;
  requests?: number;
  kinds?: Record<string, number>;
  /** Provider only: the host's start-up, spawn → Configure answered (not in `seconds`). */
  hostStartMs?: number;
  hostPeakMb?: number;
  errors: string[];
  problems: string[];
  skipped?: string;
}

class Bench {
  readonly results: PhaseResult[] = [];
  private desiredBase: ConfigMap = {};

  constructor(
    readonly args: Args,
    readonly direct: LxdClient,
    readonly proxy: CountingProxy,
    readonly floorClient: LxdClient,
    readonly project: string,
  ) {}

  private inputs(name: string, procs: number): Record<string, unknown> {
    return { name, project: this.project, image: TEST_IMAGE, config: { "limits.processes": procs }, running: true };
  }

  /** The instance-local config the provider's Check makes of the inputs (hardened defaults included). */
  async learnDesiredConfig(host: ProviderHost): Promise<void> {
    const e = new MiniEngine(host, INSTANCE_KIND.module, "probe", INSTANCE_KIND.type);
    const c = await e.check(this.inputs("probe", PROCS_BEFORE));
    if (c.failures.length) throw new Error(`Check of the bench inputs failed: ${JSON.stringify(c.failures)}`);
    this.desiredBase = c.inputs.config as ConfigMap;
  }

  desired(procs: number): ConfigMap {
    return { ...this.desiredBase, "limits.processes": String(procs) };
  }

  expectation(phase: Phase): Expectation {
    if (phase === "destroy") return { present: false };
    return { present: true, config: this.desired(phase === "create" || phase === "nochange" ? PROCS_BEFORE : PROCS_AFTER) };
  }

  async runProvider(n: number): Promise<void> {
    const names = Array.from({ length: n }, (_, i) => `bp-${n}-${i}`);
    const engines = new Map<string, MiniEngine>();
    for (const phase of PHASES) {
      const host = await startProviderHost({ env: { LXD_SOCKET: this.proxy.listenPath } });
      // The engine creates one MiniEngine-like record per resource; state carries over between commands.
      const per = names.map((name) => {
        const e = new MiniEngine(host, INSTANCE_KIND.module, name, INSTANCE_KIND.type);
        e.state = engines.get(name)?.state;
        engines.set(name, e);
        return e;
      });
      this.proxy.reset();
      const t0 = performance.now();
      const errors = await pool(per, this.args.parallel, async (e) => {
        const name = e.name;
        if (phase === "create") {
          try {
            await e.up(this.inputs(name, PROCS_BEFORE));
          } catch (err) {
            // As the engine does: a partial failure (ErrorResourceInitFailed) is kept in state.
            if (err instanceof ProviderHostError && err.partial) e.state = { id: err.id!, inputs: err.properties ?? {}, outputs: err.properties ?? {} };
            throw err;
          }
          if (e.lastAction !== "create") throw new Error(`${name}: up did ${e.lastAction}, want create`);
        } else if (phase === "nochange") {
          const s = await e.refresh();
          if (!s) throw new Error(`${name}: refresh found it gone`);
          const d = await e.diff(this.inputs(name, PROCS_BEFORE));
          if (d.changes !== "none") throw new Error(`${name}: no-change diff says ${d.changes} (replaces ${d.replaces.join(",")})`);
        } else if (phase === "update") {
          await e.up(this.inputs(name, PROCS_AFTER));
          if (e.lastAction !== "update") throw new Error(`${name}: up did ${e.lastAction}, want update`);
        } else {
          await e.destroy();
        }
      });
      const seconds = (performance.now() - t0) / 1000;
      const requests = this.proxy.count;
      const kinds = this.proxy.kinds();
      const hostPeakMb = peakMemMb(host.pid);
      if (errors.length) errors.push(`host output tail: ${host.output().slice(-500)}`);
      await host.close();
      const problems = await verifyLxd(this.direct, this.project, names, this.expectation(phase));
      this.record({ tool: "provider", n, phase, seconds, requests, kinds, hostStartMs: host.startupMs, hostPeakMb, errors, problems });
    }
  }

  async runFloor(n: number): Promise<void> {
    const names = Array.from({ length: n }, (_, i) => `bf-${n}-${i}`);
    const lxd = this.floorClient;
    const project = this.project;
    const createLock = new Mutex();
    for (const phase of PHASES) {
      this.proxy.reset();
      const before = lxd.requestCount;
      const t0 = performance.now();
      const errors = await pool(names, this.args.parallel, async (name) => {
        if (phase === "create") {
          // LXD 5.0.2 allocates an isolated idmap without holding its lock until the range is persisted
          // (lxc/incus#3999, #1495): concurrent creates get overlapping maps or a map outside the subordinate
          // ids (Hostid 65536) that cannot start. The correct minimal sequence therefore creates one at a
          // time; starts (and everything else) run in parallel.
          await createLock.run(() => createInstance(lxd, {
            name, type: "container", description: "", config: this.desired(PROCS_BEFORE), devices: {}, profiles: ["default"], ephemeral: false,
            source: { type: "image", alias: TEST_IMAGE },
          }, { project }));
          await startInstance(lxd, name, { project });
        } else if (phase === "nochange") {
          await getInstance(lxd, name, { project });
        } else if (phase === "update") {
          const { value: cur, etag } = await getInstance(lxd, name, { project });
          await updateInstance(lxd, name, {
            architecture: cur.architecture, config: { ...cur.config, "limits.processes": String(PROCS_AFTER) }, devices: cur.devices,
            profiles: cur.profiles, ephemeral: cur.ephemeral, description: cur.description,
          }, etag, { project });
        } else {
          await stopInstance(lxd, name, { project, graceSec: STOP_GRACE_SEC });
          await deleteInstance(lxd, name, { project });
        }
      });
      const seconds = (performance.now() - t0) / 1000;
      const requests = this.proxy.count;
      const kinds = this.proxy.kinds();
      // The proxy's count is checked against the client's own count, so the provider's figure is trusted.
      if (lxd.requestCount - before !== requests) {
        errors.push(`counting proxy saw ${requests} requests, the floor client made ${lxd.requestCount - before}`);
      }
      const problems = await verifyLxd(this.direct, project, names, this.expectation(phase));
      this.record({ tool: "floor", n, phase, seconds, requests, kinds, errors, problems });
    }
  }

  async runAnsible(n: number): Promise<void> {
    const why = await ansibleAvailable();
    if (why !== true) {
      for (const phase of PHASES) this.record({ tool: "ansible", n, phase, seconds: 0, errors: [], problems: [], skipped: why });
      return;
    }
    const names = Array.from({ length: n }, (_, i) => `ba-${n}-${i}`);
    /** What each host's PLAY RECAP must say: create = created + started, nochange = nothing, else one change. */
    const wantChanged: Record<AnsiblePhase, number> = { create: 2, nochange: 0, update: 1, destroy: 1 };
    for (const phase of PHASES) {
      this.proxy.reset();
      const t0 = performance.now();
      const errors: string[] = [];
      try {
        const recap = await runAnsiblePhase(phase, {
          names, project: this.project, image: TEST_IMAGE, socket: this.proxy.listenPath, parallel: this.args.parallel,
          config: this.desired(phase === "update" ? PROCS_AFTER : PROCS_BEFORE),
        });
        for (const name of names) {
          const r = recap.get(name);
          if (!r) errors.push(`${name}: not in ansible-playbook's PLAY RECAP`);
          else if (r.failed || r.unreachable) errors.push(`${name}: failed=${r.failed} unreachable=${r.unreachable}`);
          else if (r.changed !== wantChanged[phase]) errors.push(`${name}: Ansible reported changed=${r.changed}, want ${wantChanged[phase]}`);
        }
      } catch (err) {
        errors.push((err as Error).message.slice(0, 2000));
      }
      const seconds = (performance.now() - t0) / 1000;
      const requests = this.proxy.count;
      const kinds = this.proxy.kinds();
      const problems = await verifyLxd(this.direct, this.project, names, this.expectation(phase));
      this.record({ tool: "ansible", n, phase, seconds, requests, kinds, errors, problems });
    }
  }

  private record(r: PhaseResult): void {
    this.results.push(r);
    if (r.skipped) {
      console.log(`  [${r.tool} N=${r.n} ${r.phase}] skipped: ${r.skipped}`);
      return;
    }
    const status = r.errors.length || r.problems.length ? "FAILED" : "ok";
    console.log(`  [${r.tool} N=${r.n} ${r.phase}] ${r.seconds.toFixed(2)} s, ${r.requests ?? "-"} requests, LXD check ${status}`);
    for (const e of r.errors.slice(0, 5)) console.log(`    error: ${e}`);
    for (const p of r.problems.slice(0, 10)) console.log(`    LXD holds it wrong: ${p}`);
    if (r.problems.length > 10) console.log(`    … ${r.problems.length - 10} more`);
  }

  get failed(): boolean {
    return this.results.some((r) => r.errors.length > 0 || r.problems.length > 0);
  }

  report(n: number): void {
    console.log(`\n=== N = ${n} (parallelism ${this.args.parallel}) ===`);
    for (const phase of PHASES) {
      const get = (tool: Tool) => this.results.find((r) => r.n === n && r.phase === phase && r.tool === tool);
      const p = get("provider");
      const f = get("floor");
      const a = get("ansible");
      console.log(`-- phase ${phase}`);
      for (const r of [p, f, a]) {
        if (!r) continue;
        if (r.skipped) {
          console.log(`  ${r.tool.padEnd(9)} skipped: ${r.skipped}`);
          continue;
        }
        const rq = r.requests !== undefined ? (r.requests / n).toFixed(2) : "-";
        const ok = r.errors.length || r.problems.length ? "  LXD state WRONG / errors" : "";
        const whole = r.tool === "provider" && r.hostStartMs !== undefined ? `   whole command ${wholeCommand(r).toFixed(2)} s (+ host start-up ${r.hostStartMs} ms)` : "";
        console.log(`  ${r.tool.padEnd(9)} ${r.seconds.toFixed(2).padStart(8)} s   ${rq.padStart(6)} HTTP requests/resource${whole}${ok}`);
        if (r.kinds) console.log(`            requests: ${Object.entries(r.kinds).map(([k, v]) => `${k} ×${v}`).join(", ")}`);
      }
      if (p && f && f.seconds > 0) {
        const ratio = p.seconds / f.seconds;
        const target = phase === "nochange" ? "" : ` (target ≤ ${TARGET_RATIO}: ${ratio <= TARGET_RATIO ? "met" : "NOT met"})`;
        const wrong = [p, f].filter((r) => r.errors.length || r.problems.length).map((r) => r.tool);
        const caveat = wrong.length ? ` — NOT comparable: ${wrong.join(" and ")} left LXD wrong in this phase` : "";
        console.log(`  ratio provider/floor: ${ratio.toFixed(2)}${target}${caveat}`);
      }
      if (p && a && !a.skipped && a.seconds > 0) {
        const wrong = [p, a].filter((r) => r.errors.length || r.problems.length).map((r) => r.tool);
        const caveat = wrong.length ? ` — NOT comparable: ${wrong.join(" and ")} failed or left LXD wrong in this phase` : "";
        console.log(`  ratio provider/ansible: ${(wholeCommand(p) / a.seconds).toFixed(2)} whole command (${(p.seconds / a.seconds).toFixed(2)} phase time only)${caveat}`);
      }
      if (p && phase === "nochange" && p.requests !== undefined) {
        const per = p.requests / n;
        console.log(`  no-change requests/resource: ${per.toFixed(2)} (target ≤ ${TARGET_NOCHANGE_REQ}: ${per <= TARGET_NOCHANGE_REQ ? "met" : "NOT met"})`);
      }
      if (p) {
        const mem = p.hostPeakMb !== undefined ? `${p.hostPeakMb.toFixed(1)} MB` : "n/a";
        const target = n >= 50 && p.hostPeakMb !== undefined ? ` (target < ${TARGET_MEM_MB} MB at N=50: ${p.hostPeakMb < TARGET_MEM_MB ? "met" : "NOT met"})` : "";
        console.log(`  provider host: peak memory (VmHWM) ${mem}${target}; start-up ${p.hostStartMs} ms (in the whole command, not in the phase time)`);
      }
    }
  }

  linearity(): void {
    if (this.args.ns.length < 2) return;
    console.log(`\n=== linearity: seconds per resource (provider whole command | floor | ansible) ===`);
    console.log(`  ${"phase".padEnd(9)}${this.args.ns.map((n) => `N=${n}`.padStart(24)).join("")}`);
    for (const phase of PHASES) {
      const cells = this.args.ns.map((n) => {
        const p = this.results.find((r) => r.n === n && r.phase === phase && r.tool === "provider");
        const f = this.results.find((r) => r.n === n && r.phase === phase && r.tool === "floor");
        const a = this.results.find((r) => r.n === n && r.phase === phase && r.tool === "ansible" && !r.skipped);
        const fmt = (r?: PhaseResult) => (r ? (wholeCommand(r) / n).toFixed(3) : "-");
        return `${fmt(p)} | ${fmt(f)} | ${fmt(a)}`.padStart(24);
      });
      console.log(`  ${phase.padEnd(9)}${cells.join("")}`);
    }
  }
}

/** Seconds a user waits for the phase: the phase time plus, for the provider, its host's start-up. */
function wholeCommand(r: PhaseResult): number {
  return r.seconds + (r.hostStartMs ?? 0) / 1000;
}

/** Removes whatever is left in the bench project, then the project. */
async function cleanup(lxd: LxdClient, project: string): Promise<void> {
  const names = await listInstances(lxd, { project }).catch(() => [] as string[]);
  await pool(names, 8, async (name) => {
    await stopInstance(lxd, name, { project, graceSec: 0 }).catch(() => undefined);
    await deleteInstance(lxd, name, { project }).catch(() => undefined);
  });
  await deleteProject(lxd, project).catch((err) => console.error(`could not delete project ${project}: ${(err as Error).message}`));
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const socket = findLocalSocket();
  const direct = new LxdClient({ socketPath: socket });
  const proxyPath = path.join(os.tmpdir(), `pulumi-lxd-bench-${process.pid}.sock`);
  const proxy = new CountingProxy(proxyPath, socket);
  await proxy.start();
  const floorClient = new LxdClient({ socketPath: proxyPath });
  const project = `bench-${Math.random().toString(16).slice(2, 8)}`;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error("\ninterrupted: cleaning up (again to force)…");
    void cleanup(direct, project).finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  console.log(`LXD ${(await direct.server()).environment?.server_version ?? "?"} at ${socket}; project ${project}; N = ${args.ns.join(", ")}; parallelism ${args.parallel}`);
  // features.images=false: the default project's test image is usable; features.profiles=false: the default
  // profile (root disk on pool `default`) applies.
  await createProject(direct, {
    name: project,
    description: "pulumi-lxd-hardened bench (removed at the end)",
    config: { "features.images": "false", "features.profiles": "false", "features.storage.volumes": "false" },
  });

  const bench = new Bench(args, direct, proxy, floorClient, project);
  try {
    const t0 = performance.now();
    const host = await startProviderHost({ env: { LXD_SOCKET: proxyPath } });
    console.log(`provider host start-up: ${host.startupMs} ms (spawn → Configure answered; ${((performance.now() - t0) / 1000).toFixed(2)} s with the gRPC connection)`);
    await bench.learnDesiredConfig(host);
    await host.close();
    for (const mod of REPORTED_KINDS) {
      const size = await providerText(mod).then((t) => `${t.length} characters`, (err: Error) => `n/a (${err.message.split("\n")[0]})`);
      console.log(`serialized provider (__provider) of ${mod}: ${size}`);
    }
    if (args.tools.includes("ansible")) {
      const why = await ansibleAvailable();
      console.log(`ansible: ${why === true ? await ansibleVersion() : why}`);
    }

    for (const n of args.ns) {
      console.log(`\n--- running N = ${n}`);
      for (const tool of args.tools) {
        if (tool === "provider") await bench.runProvider(n);
        else if (tool === "floor") await bench.runFloor(n);
        else if (tool === "ansible") await bench.runAnsible(n);
        else throw new Error(`unknown tool ${tool as string}`);
      }
      bench.report(n);
      if (interrupted) break;
    }
    bench.linearity();
  } finally {
    await cleanup(direct, project);
    await floorClient.close();
    await proxy.close();
    await direct.close();
  }
  if (bench.failed) {
    console.log("\nFAILED: at least one phase errored or left LXD in the wrong state (see above).");
    return 1;
  }
  console.log("\nall phases left LXD as desired.");
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
