/**
 * Which daemon the integration tests run against: `LXD_TEST_BACKEND=lxd` (default) or `incus`. The ONE place
 * that knows it; everything else asks here.
 *
 * - REST: {@link backendConnection} is what `localClient()` opens (Incus: `{server: "incus"}`, whose socket is
 *   found as Incus's client finds it: `INCUS_SOCKET`, `$INCUS_DIR/unix.socket`, `/run/incus/unix.socket`,
 *   `/var/lib/incus/unix.socket`; the client checks GET /1.0 `environment.server`).
 * - Provider hosts: `startProviderHost()` adds {@link backendStackConfig} (`lxd:server: "incus"`, the documented
 *   stack config key) unless the test names a server, URL or socket itself, so every resource without its own
 *   `connection` reaches the chosen daemon, exactly as a user's stack would.
 * - A test that writes a socket path into a `connection` uses {@link TEST_SOCKET}.
 * - The CLI (`lxc` or `incus`, same sub-commands for what the tests use): {@link cli}.
 * - A test that only one backend can run: {@link onlyOn} (skips with the reason printed).
 *
 * Never hold isolated containers in both daemons at the same time (they allocate from the same /etc/subuid
 * range without knowing about each other): CI runs the backends one after the other.
 */
import { execFileSync, type ExecFileSyncOptions } from "node:child_process";
import { findLocalSocket, type LxdConnection, type ServerKind } from "../../provider/lxd";

/** The backend of this run. */
export const BACKEND: ServerKind = (() => {
  const v = process.env.LXD_TEST_BACKEND ?? "lxd";
  if (v !== "lxd" && v !== "incus") throw new Error(`LXD_TEST_BACKEND must be "lxd" or "incus", but "${v}" was provided`);
  return v;
})();

/** The local socket of the chosen daemon. */
export const TEST_SOCKET: string = findLocalSocket(process.env, BACKEND);

/** The name of the server in test titles and messages. */
export const BACKEND_NAME = BACKEND === "incus" ? "Incus" : "LXD";

/** The command-line client of the chosen daemon. */
export const CLI = BACKEND === "incus" ? "incus" : "lxc";

/** What `localClient()` opens. */
export function backendConnection(): LxdConnection {
  return BACKEND === "incus" ? { server: "incus" } : {};
}

/** Stack config every provider host of this run gets (unless the test names a server, URL or socket). */
export function backendStackConfig(): Record<string, string> {
  return BACKEND === "incus" ? { "lxd:server": "incus" } : {};
}

/** A `connection` input with the chosen daemon's socket written out (for tests that give a socket path). */
export function socketConnection(): { socketPath: string } {
  return { socketPath: TEST_SOCKET };
}

/** Runs the chosen daemon's CLI (`lxc …` or `incus …`) and returns stdout; throws on a non-zero exit. */
export function cli(args: string[], opts: ExecFileSyncOptions = {}): string {
  const env = BACKEND === "lxd" ? process.env : { ...process.env, INCUS_SOCKET: TEST_SOCKET };
  return execFileSync(CLI, args, { encoding: "utf8", timeout: 60_000, env, ...opts }) as unknown as string;
}

/**
 * `describe`/`test` on the given backend only; elsewhere skipped, with the reason printed once.
 * Prefer skipping by API extension where one exists (see `hasExtension` on the client).
 */
export function onlyOn(kind: ServerKind, reason: string): { describe: jest.Describe; test: jest.It } {
  if (kind === BACKEND) return { describe, test };
  // eslint-disable-next-line no-console
  console.log(`[${BACKEND_NAME}] skipped: ${reason}`);
  return { describe: describe.skip, test: test.skip };
}
