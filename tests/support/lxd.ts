/** Helpers for integration tests that look at what the real LXD holds. */
import { cli, backendConnection } from "./backend";
import { LxdClient, createInstance, getInstance, isNotFound, deleteInstance, startInstance, stopInstance, deleteProfile, deleteProject, listInstances } from "../../provider/lxd";

/** The test image alias `scripts/lxd-setup.sh` imports. */
export const TEST_IMAGE = process.env.LXD_TEST_IMAGE_ALIAS ?? "pulumi-lxd-test";

/** A client on the local socket of the test backend (LXD, or Incus with `LXD_TEST_BACKEND=incus`: ./backend.ts). */
export function localClient(): LxdClient {
  return new LxdClient(backendConnection());
}

/**
 * A container of the test image with the default profile, made through the REST client (not the kinds under
 * test), started when `start`; its name is pushed to `made` for the test's clean-up.
 */
export async function testContainer(lxd: LxdClient, name: string, start: boolean, made: string[]): Promise<string> {
  made.push(name);
  await createInstance(lxd, { name, type: "container", source: { type: "image", alias: TEST_IMAGE }, profiles: ["default"], config: {}, devices: {}, ephemeral: false, description: "" });
  if (start) await startInstance(lxd, name);
  return name;
}

/** Runs a shell command inside an instance through `lxc exec` / `incus exec` and returns stdout (throws on non-zero exit). */
export function execIn(name: string, script: string, project = "default"): string {
  return cli(["exec", name, "--project", project, "--", "sh", "-c", script]);
}

/** Whether an instance exists. */
export async function instanceExists(lxd: LxdClient, name: string, project = "default"): Promise<boolean> {
  try {
    await getInstance(lxd, name, { project });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Best-effort removal of test objects (for `finally` blocks); ignores what is already gone. */
export async function removeInstance(lxd: LxdClient, name: string, project = "default"): Promise<void> {
  await stopInstance(lxd, name, { project, graceSec: 0 }).catch(() => undefined);
  await deleteInstance(lxd, name, { project }).catch(() => undefined);
}
export async function removeProfile(lxd: LxdClient, name: string, project = "default"): Promise<void> {
  await deleteProfile(lxd, name, { project }).catch(() => undefined);
}
export async function removeProject(lxd: LxdClient, name: string): Promise<void> {
  for (const i of await listInstances(lxd, { project: name }).catch(() => [] as string[])) await removeInstance(lxd, i, name);
  await deleteProject(lxd, name).catch(() => undefined);
}

/**
 * The process and memory limits the kernel enforces on a running container, read on the host from the
 * cgroup of its init process (cgroup v1 or v2, whichever the host runs).
 */
export async function enforcedLimits(lxd: LxdClient, name: string, project = "default"): Promise<{ pidsMax: string; memoryMaxBytes: string }> {
  const fs = await import("node:fs");
  const state = (await lxd.get<{ pid: number }>(`/1.0/instances/${name}/state`, { project })).metadata;
  const lines = fs.readFileSync(`/proc/${state.pid}/cgroup`, "utf8").trim().split("\n").map((l) => l.split(":"));
  const v1 = (ctrl: string) => lines.find(([, c]) => c.split(",").includes(ctrl))?.[2];
  const v2 = lines.find(([h]) => h === "0")?.[2] ?? "/";
  const read = (p: string) => fs.readFileSync(p, "utf8").trim();
  const pids = v1("pids");
  const mem = v1("memory");
  return {
    pidsMax: pids !== undefined ? read(`/sys/fs/cgroup/pids${pids}/pids.max`) : read(`/sys/fs/cgroup${v2}/pids.max`),
    memoryMaxBytes: mem !== undefined ? read(`/sys/fs/cgroup/memory${mem}/memory.limit_in_bytes`) : read(`/sys/fs/cgroup${v2}/memory.max`),
  };
}

/** Runs `fn`; LXD's "not found" counts as done (for clean-up). */
export async function ignoreNotFound(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** True when `fn` fails with LXD's "not found"; false when it succeeds. */
export async function gone(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return false;
  } catch (err) {
    if (isNotFound(err)) return true;
    throw err;
  }
}
