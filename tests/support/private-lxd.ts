/**
 * A private daemon for fault tests, of the run's backend (tests/support/backend.ts): Debian's `lxd` 5.0.2 with
 * its own `LXD_DIR`, or Incus 6.0.4's `incusd` with its own `INCUS_DIR` (a fresh temp dir either way) and unix
 * socket, which the test may SIGKILL and restart by PID. The shared daemons at /var/lib/lxd and /var/lib/incus
 * are never touched.
 *
 * Incus (measured, 6.0.4 beside the shared LXD and Incus): the same recipe works unchanged: own `INCUS_DIR`
 * (logs, devices, shmounts, guestapi, database, pools, images all live under it), the same held network
 * namespace, the same SIGKILL/restart by PID (a running container survives a daemon kill and is found again
 * by the restarted daemon: one `[lxc monitor]`). It is started as Debian's init script starts the shared one:
 * the environment of /etc/default/incus (`PATH` with /usr/libexec/incus), the open-files limit raised as far
 * as allowed, `/usr/libexec/incus/incusd --group incus-admin --logfile <dir>/incus.log`, then
 * `incus admin waitready` with `INCUS_DIR` set. Start-up ~0.6 s.
 * Both daemons are started from `/`: a daemon keeps its start directory as cwd and its rsync children inherit
 * it; a cwd later deleted (a removed checkout) makes every rsync-based copy fail.
 *
 * What two daemons on one host need (measured on this machine, LXD 5.0.2, cgroup v1 + unified, no AppArmor):
 * - Nothing of the shared daemon's is fought over: logs, the devlxd socket, `shmounts`, the database, the
 *   storage pools and the images all live under `LXD_DIR`; there is no /var/log/lxd. Without AppArmor there
 *   are no profiles to collide. `lxd --group root --logfile <dir>/lxd.log` is enough to run.
 * - Network namespace: REQUIRED for the network rule, not for LXD. At start-up LXD fetches
 *   `https://images.linuxcontainers.org/meta/instance-types/.yaml` (the shared daemon does it too: a DNS query
 *   leaves the machine). In a namespace with only a down loopback it fails at once ("network is unreachable").
 *   The unix socket is a path, so clients outside the namespace reach it. No bridge, no veth, no address.
 * - The namespace must OUTLIVE the daemon: LXC's per-container command sockets are abstract unix sockets,
 *   which belong to a network namespace. A daemon restarted in a NEW namespace cannot reach the monitors of
 *   the containers still running from before the kill, believes them stopped and starts them a second time
 *   (seen: 20 `[lxc monitor]` + `init` pairs for one container after 20 restarts). So one holder process
 *   (`unshare --net sleep infinity`) owns the namespace and every (re)start enters it with `nsenter --net`.
 * - No mount namespace is needed (the cluster testbed needs one for a fresh sysfs matching its veths; here
 *   there are none): containers with `limits.memory` start, the host's cgroup tree is used as is.
 * - cgroups are global: LXC names them `lxc.payload.<instance>` / `lxc.monitor.<instance>` whichever daemon
 *   runs them (on a clash it appends `-1`, `-2`…). Random instance names keep the two daemons apart.
 * - Isolated idmaps come from the same /etc/subuid range of root: the first isolated container of each daemon
 *   gets host base 165536, so containers of both daemons can share host ids (works; not isolation between them).
 * - A SIGKILL leaves behind what the daemon started: running containers (`[lxc monitor] <dir>/containers <name>`
 *   and their init), an image unpacker still writing into a volume, and the `shmounts`/`devlxd` tmpfs mounts.
 *   {@link PrivateLxd.stop} (and a reaper process, if the test process dies first) kill those by PID (processes
 *   whose command line names this dir, and their children), remove their cgroups, unmount and delete the dir.
 *
 * Measured: start-up to `waitready` ~0.65 s; a restart with a running container ~0.7–1.7 s (up to ~4 s while
 * other tests load the 2 cores); the daemon's RSS ~55 MB idle, ~60 MB with a container.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LxdClient, type ServerKind } from "../../provider/lxd";
import { BACKEND } from "./backend";

/** The test image tarball `scripts/lxd-setup.sh` builds. */
const IMAGE_TARBALL = path.resolve(__dirname, "..", "..", ".cache", "pulumi-lxd-test.tar.gz");

/**
 * Kills everything started for the daemon in `$1` (the daemon, the namespace holder, LXC monitors, unpackers,
 * container inits), removes the containers' cgroups, unmounts what is left under the dir and deletes it.
 * Only processes whose command line names the dir, and their direct children, are killed: by PID.
 */
const CLEANUP_SCRIPT = String.raw`
dir="$1"; [ -n "$dir" ] && [ -d "$dir" ] || exit 0
me=$$
for f in daemon.pid holder.pid; do p=$(cat "$dir/$f" 2>/dev/null) && kill -KILL "$p" 2>/dev/null; done
pids=""
for p in /proc/[0-9]*; do
  p=$(basename "$p"); [ "$p" = "$me" ] && continue
  tr '\0' ' ' 2>/dev/null < /proc/$p/cmdline | grep -qF "$dir/" && pids="$pids $p"
done
kids=""; for p in $pids; do kids="$kids $(ps -o pid= --ppid "$p" 2>/dev/null)"; done
[ -n "$pids$kids" ] && kill -KILL $pids $kids 2>/dev/null
for i in 1 2 3 4 5 6 7 8 9 10; do
  alive=""; for p in $pids $kids; do [ -d /proc/$p ] && [ "$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null)" != Z ] && alive=1; done
  [ -z "$alive" ] && break; sleep 0.2
done
names=$( (ls "$dir/containers"; ls "$dir"/storage-pools/*/containers; ls "$dir/logs") 2>/dev/null | sort -u)
for n in $names; do
  for c in /sys/fs/cgroup/*/lxc.payload.$n /sys/fs/cgroup/*/lxc.payload.$n-[0-9]* /sys/fs/cgroup/*/lxc.monitor.$n /sys/fs/cgroup/*/lxc.monitor.$n-[0-9]* /sys/fs/cgroup/lxc.payload.$n /sys/fs/cgroup/lxc.monitor.$n; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
done
awk -v d="$dir" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
rm -rf "$dir"
b=$(basename "$dir"); for c in /sys/fs/cgroup/cpu/$b /sys/fs/cgroup/$b; do [ -d "$c" ] && rmdir "$c" 2>/dev/null; done
exit 0
`;

/** Options of {@link startPrivateLxd}. */
export interface PrivateLxdOptions {
  /** Which daemon: `lxd` or `incus` (Incus's `incusd`). @default the run's backend (`LXD_TEST_BACKEND`) */
  kind?: ServerKind;
  /** Import the test image (alias `pulumi-lxd-test`) from `.cache/pulumi-lxd-test.tar.gz`. @default true */
  image?: boolean;
  /** Give up waiting for the daemon after this many seconds. @default 60 */
  readyTimeoutSec?: number;
}

/** A private LXD (or Incus) daemon the test owns. */
export interface PrivateLxd {
  /** Which daemon runs. */
  readonly kind: ServerKind;
  /** Its `LXD_DIR` or `INCUS_DIR` (a fresh dir under the OS temp dir). */
  readonly dir: string;
  /** `<dir>/unix.socket`: give it as `connection: { socketPath }`. */
  readonly socketPath: string;
  /** PID of the running daemon (changes at every restart). */
  readonly pid: number;
  /** Milliseconds from spawn to `lxd waitready` / `incus admin waitready` for the first start. */
  readonly startupMs: number;
  /** Milliseconds from spawn to ready for the last restart (0 before any). */
  readonly lastRestartMs: number;
  /** A client on its socket (one per daemon life; a new one after each restart). */
  client(): LxdClient;
  /** The daemon's resident memory in KiB (VmRSS). */
  rssKiB(): number;
  /** Sends `signal` (default SIGKILL) to the daemon's PID and, for SIGKILL/SIGTERM, waits until it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the daemon again on the same dir and network namespace, and waits until it is ready. */
  restart(): Promise<void>;
  /**
   * Caps the daemon (and what it forks: image unpackers, forkstart) at `cpuPercent` of one CPU through a cpu
   * cgroup of its own, so that operations take seconds and a test can kill it at a chosen phase. At 3 % a
   * create from the 1 MB test image takes ~8 s (volume visible after ~1–4 s) instead of 0.2 s.
   */
  slowDown(cpuPercent: number): void;
  /** Removes the cap of {@link slowDown}. */
  fullSpeed(): void;
  /** Kills the daemon and everything it started, unmounts and removes its dir. Idempotent. */
  stop(): Promise<void>;
}

const live = new Set<string>();
let exitHook = false;

/** Runs the cleanup for `dir` synchronously (also used on process exit). */
function cleanupSync(dir: string): void {
  try {
    execFileSync("bash", ["-c", CLEANUP_SCRIPT, "private-lxd-cleanup", dir], { stdio: "ignore", timeout: 60_000 });
  } catch {
    // best effort: the reaper runs the same script when the test process is gone
  }
  live.delete(dir);
}

/** The daemon's cpu cgroup dir: v1 `cpu` controller if mounted, else the unified hierarchy. */
function cpuCgroup(dir: string): { path: string; v2: boolean } {
  const name = path.basename(dir);
  if (fs.existsSync("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")) return { path: `/sys/fs/cgroup/cpu/${name}`, v2: false };
  return { path: `/sys/fs/cgroup/${name}`, v2: true };
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  child.ref(); // keep the event loop alive while waiting (the daemon is otherwise unref'd)
  return new Promise((resolve) => child.once("exit", () => {
    child.unref();
    resolve();
  }));
}

/**
 * How each daemon is started: `argv(dir)` runs the daemon (exec'd, so the spawned PID is the daemon's once it
 * runs), `waitready` the command that waits for it, `env(dir)` what both need.
 */
const DAEMONS: Record<ServerKind, { prefix: string; log: string; env(dir: string): NodeJS.ProcessEnv; daemon(netns: string, log: string): string[]; waitready(sec: number): string[]; cli: string }> = {
  lxd: {
    prefix: "lxd-private-",
    log: "lxd.log",
    env: (dir) => ({ ...baseEnv(), LXD_DIR: dir }),
    daemon: (netns, log) => ["nsenter", `--net=${netns}`, "--", "lxd", "--group", "root", "--logfile", log],
    waitready: (sec) => ["lxd", "waitready", `--timeout=${sec}`],
    cli: "lxc",
  },
  incus: {
    prefix: "incus-private-",
    log: "incus.log",
    env: (dir) => ({ ...baseEnv(), INCUS_DIR: dir, INCUS_SOCKET: path.join(dir, "unix.socket") }),
    // As Debian's init script: /etc/default/incus's environment (PATH with /usr/libexec/incus), the open-files
    // limit raised as far as allowed (the plain raise fails without CAP_SYS_RESOURCE), then exec: bash, nsenter
    // and incusd share one PID.
    daemon: (netns, log) => ["bash", "-c",
      `set -a; . /etc/default/incus; set +a; ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ` +
      `exec nsenter --net="$0" -- /usr/libexec/incus/incusd --group incus-admin --logfile "$1"`, netns, log],
    waitready: (sec) => ["incus", "admin", "waitready", `--timeout=${sec}`],
    cli: "incus",
  },
};

/** This process's environment without the variables that point a client at the shared daemons. */
function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ["LXD_DIR", "LXD_SOCKET", "INCUS_DIR", "INCUS_SOCKET"]) delete env[k];
  return env;
}

/**
 * Starts a private LXD (or Incus) daemon: fresh `LXD_DIR` / `INCUS_DIR`, its own network namespace (loopback only, kept across
 * restarts), a `dir` pool `default` used by the default profile's root disk, and the test image.
 * No network, no bridge, no `lxd init --auto`.
 *
 * @throws Error with the end of the daemon's log when it does not become ready in time.
 */
export async function startPrivateLxd(opts: PrivateLxdOptions = {}): Promise<PrivateLxd> {
  const kind = opts.kind ?? BACKEND;
  const how = DAEMONS[kind];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), how.prefix));
  fs.chmodSync(dir, 0o711);
  live.add(dir);
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const d of [...live]) cleanupSync(d);
    });
  }
  // Reaper: when this process is gone (even by SIGKILL), clean up after it.
  const reaper = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; exec bash -c "$0" private-lxd-cleanup "$1"`, CLEANUP_SCRIPT, dir], {
    detached: true, stdio: "ignore",
  });
  reaper.unref();

  const holder = spawn("unshare", ["--net", "--", "sleep", "infinity"], { cwd: "/", detached: true, stdio: "ignore" });
  holder.unref();
  fs.writeFileSync(path.join(dir, "holder.pid"), String(holder.pid));
  const socketPath = path.join(dir, "unix.socket");
  const env = how.env(dir);
  const logFile = path.join(dir, how.log);
  const timeoutSec = opts.readyTimeoutSec ?? 60;
  const cg = cpuCgroup(dir);
  let child: ChildProcess | undefined;
  let client: LxdClient | undefined;
  let stopped = false;

  const launch = async (): Promise<number> => {
    const started = performance.now();
    // nsenter execs the daemon (Incus: bash execs nsenter): the PID is the daemon's. Started from / (see above).
    const [cmd, ...argv] = how.daemon(`/proc/${holder.pid}/ns/net`, logFile);
    child = spawn(cmd, argv, { cwd: "/", env, detached: true, stdio: "ignore" });
    child.unref();
    fs.writeFileSync(path.join(dir, "daemon.pid"), String(child.pid));
    if (fs.existsSync(cg.path)) fs.writeFileSync(path.join(cg.path, "cgroup.procs"), String(child.pid));
    try {
      await new Promise<void>((resolve, reject) => {
        const [cmd, ...argv] = how.waitready(timeoutSec);
        const w = spawn(cmd, argv, { cwd: "/", env, stdio: "ignore" });
        w.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${[cmd, ...argv].join(" ")} exited ${code}`))));
        w.once("error", reject);
      });
    } catch (err) {
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").slice(-2000) : "";
      throw new Error(`private ${kind === "incus" ? "Incus" : "LXD"} in ${dir} did not become ready within ${timeoutSec} s: ${(err as Error).message}\n${log}`);
    }
    client = new LxdClient({ socketPath });
    // The daemon on the socket is the one asked for (GET /1.0 environment.server), not a shared one.
    const answered = await client.serverKind();
    if (answered !== kind) throw new Error(`private daemon in ${dir}: asked for ${kind}, but ${socketPath} answers as ${answered}`);
    return Math.round(performance.now() - started);
  };

  let startupMs: number;
  try {
    startupMs = await launch();
    const lxd = client!;
    await lxd.request("POST", "/1.0/storage-pools", { body: { name: "default", driver: "dir", config: {} } });
    const profile = await lxd.get<{ config: Record<string, string>; description: string; devices: Record<string, Record<string, string>> }>("/1.0/profiles/default");
    await lxd.request("PUT", "/1.0/profiles/default", {
      etag: profile.etag,
      body: { ...profile.metadata, devices: { ...profile.metadata.devices, root: { type: "disk", path: "/", pool: "default" } } },
    });
    if (opts.image ?? true) {
      execFileSync(how.cli, ["image", "import", IMAGE_TARBALL, "--alias", "pulumi-lxd-test"], { cwd: "/", env, stdio: "pipe", timeout: 120_000 });
    }
  } catch (err) {
    cleanupSync(dir);
    throw err;
  }
  let lastRestartMs = 0;

  const self: PrivateLxd = {
    kind,
    dir,
    socketPath,
    get pid() {
      return child?.pid ?? -1;
    },
    startupMs,
    get lastRestartMs() {
      return lastRestartMs;
    },
    client() {
      if (!client) throw new Error("the private LXD is not running");
      return client;
    },
    rssKiB() {
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child?.pid}/status`, "utf8"));
      return m ? Number(m[1]) : 0;
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (!child) return;
      const c = child;
      process.kill(c.pid!, signal);
      if (signal === "SIGKILL" || signal === "SIGTERM") {
        await waitExit(c);
        await client?.close().catch(() => undefined);
        client = undefined;
        child = undefined;
      }
    },
    async restart() {
      if (stopped) throw new Error("the private LXD was stopped");
      if (child) await self.kill("SIGKILL");
      lastRestartMs = await launch();
    },
    slowDown(cpuPercent: number) {
      fs.mkdirSync(cg.path, { recursive: true });
      const periodUs = 100_000;
      const quotaUs = Math.max(1000, Math.round((periodUs * cpuPercent) / 100));
      if (cg.v2) {
        fs.writeFileSync(path.join(cg.path, "cpu.max"), `${quotaUs} ${periodUs}`);
      } else {
        fs.writeFileSync(path.join(cg.path, "cpu.cfs_period_us"), String(periodUs));
        fs.writeFileSync(path.join(cg.path, "cpu.cfs_quota_us"), String(quotaUs));
      }
      if (child?.pid) fs.writeFileSync(path.join(cg.path, "cgroup.procs"), String(child.pid));
    },
    fullSpeed() {
      if (!fs.existsSync(cg.path)) return;
      if (cg.v2) fs.writeFileSync(path.join(cg.path, "cpu.max"), "max 100000");
      else fs.writeFileSync(path.join(cg.path, "cpu.cfs_quota_us"), "-1");
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await client?.close().catch(() => undefined);
      client = undefined;
      cleanupSync(dir);
      child = undefined;
      try {
        process.kill(reaper.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    },
  };
  return self;
}
