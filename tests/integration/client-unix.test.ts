/**
 * The LXD client against the real daemon over its unix socket: profiles, projects and instances through
 * create → read → update (ETag) → delete, operation waits (C11), and the error mapping (404, 409, 412,
 * transport failure). Needs `bash scripts/lxd-setup.sh` (daemon + test image alias `pulumi-lxd-test`).
 */
import { randomBytes } from "node:crypto";
import {
  LxdClient, LxdError, isConflict, isNotFound, isPreconditionFailed, isTransportError, openTransport,
  createProfile, getProfile, updateProfile, renameProfile, deleteProfile, listProfiles,
  createProject, getProject, updateProject, renameProject, deleteProject, listProjects,
  createInstance, getInstance, getInstanceState, updateInstance, renameInstance, deleteInstance,
  startInstance, stopInstance, isRunningStatus, listInstances, execInstance,
  ServerMismatchError, type Operation,
} from "../../provider/lxd";
import { ignoreNotFound, localClient } from "../support/lxd";
import { BACKEND, TEST_SOCKET } from "../support/backend";

const IMAGE = "pulumi-lxd-test";
const rnd = () => `t-${randomBytes(4).toString("hex")}`;
/** A container with no NIC (network safety): no profiles, only a root disk. */
const rootOnly = { root: { type: "disk", path: "/", pool: "default" } };

let lxd: LxdClient;
beforeAll(() => {
  lxd = localClient();
});
afterAll(async () => {
  await lxd.close();
});

/** Runs `fn` and returns what it threw (fails the test when it did not throw). */
async function thrown(fn: () => Promise<unknown>): Promise<LxdError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LxdError);
    return err as LxdError;
  }
  throw new Error("expected the call to throw");
}


/** Stops (forced) and deletes an instance; absent is fine. */
async function removeInstance(name: string, project?: string): Promise<void> {
  await ignoreNotFound(async () => {
    const { value } = await getInstance(lxd, name, { project });
    if (value.status !== "Stopped") await stopInstance(lxd, name, { project, graceSec: 0 });
    await deleteInstance(lxd, name, { project });
  });
}

describe("profiles", () => {
  test("create, read with ETag, update with If-Match, rename, delete", async () => {
    const name = rnd();
    let current = name;
    try {
      await createProfile(lxd, { name, description: "first", config: { "limits.cpu": "1" }, devices: {} });
      expect(await listProfiles(lxd)).toContain(name);
      const a = await getProfile(lxd, name);
      expect(a.value.config).toEqual({ "limits.cpu": "1" });
      expect(a.etag).not.toBe("");

      await updateProfile(lxd, name, { ...a.value, description: "second", config: { "limits.cpu": "2" } }, a.etag);
      const b = await getProfile(lxd, name);
      expect(b.value.description).toBe("second");
      expect(b.value.config).toEqual({ "limits.cpu": "2" });
      expect(b.etag).not.toBe(a.etag);

      current = `${name}-r`;
      await renameProfile(lxd, name, current);
      expect((await getProfile(lxd, current)).value.description).toBe("second");
      expect(isNotFound(await thrown(() => getProfile(lxd, name)))).toBe(true);

      await deleteProfile(lxd, current);
      expect(await listProfiles(lxd)).not.toContain(current);
    } finally {
      await ignoreNotFound(() => deleteProfile(lxd, current));
    }
  });

  test("rejects a write with a stale ETag (412) after another write changed the profile", async () => {
    const name = rnd();
    try {
      await createProfile(lxd, { name, description: "v1", config: {}, devices: {} });
      const stale = await getProfile(lxd, name);
      // Someone else writes in between (no If-Match).
      await updateProfile(lxd, name, { ...stale.value, description: "v2 by someone else" });
      const err = await thrown(() => updateProfile(lxd, name, { ...stale.value, description: "v3 from stale read" }, stale.etag));
      expect(err.status).toBe(412);
      expect(isPreconditionFailed(err)).toBe(true);
      expect(err.method).toBe("PUT");
      expect(err.path).toBe(`/1.0/profiles/${name}`);
      // The other write survived.
      expect((await getProfile(lxd, name)).value.description).toBe("v2 by someone else");
    } finally {
      await ignoreNotFound(() => deleteProfile(lxd, name));
    }
  });

  test("rejects creating a profile whose name exists: isConflict, whatever status LXD uses (5.0.2: 500)", async () => {
    const name = rnd();
    try {
      await createProfile(lxd, { name, description: "", config: {}, devices: {} });
      const err = await thrown(() => createProfile(lxd, { name, description: "", config: {}, devices: {} }));
      // LXD 5.0.2 answers 500 "The profile already exists"; newer LXD answers 409.
      expect([409, 500]).toContain(err.status);
      expect(isConflict(err)).toBe(true);
      expect(err.lxdMessage).toMatch(/already exists/);
    } finally {
      await ignoreNotFound(() => deleteProfile(lxd, name));
    }
  });

  test("fails when the profile does not exist (404), with LXD's message", async () => {
    const name = rnd();
    const err = await thrown(() => getProfile(lxd, name));
    expect(err.status).toBe(404);
    expect(isNotFound(err)).toBe(true);
    expect(isConflict(err)).toBe(false);
    expect(err.lxdMessage).toMatch(/not found/i);
    expect(err.message).toContain(`GET /1.0/profiles/${name}`);
  });
});

describe("projects", () => {
  test("create, read with ETag, update with If-Match, stale ETag 412, rename, delete", async () => {
    const name = rnd();
    let current = name;
    try {
      await createProject(lxd, { name, description: "first", config: { "features.profiles": "true" } });
      expect(await listProjects(lxd)).toContain(name);
      const a = await getProject(lxd, name);
      expect(a.value.config["features.profiles"]).toBe("true");
      expect(a.etag).not.toBe("");

      await updateProject(lxd, name, { config: { ...a.value.config, "user.note": "x" }, description: "second" }, a.etag);
      const b = await getProject(lxd, name);
      expect(b.value.description).toBe("second");
      expect(b.value.config["user.note"]).toBe("x");

      const err = await thrown(() => updateProject(lxd, name, { config: a.value.config, description: "stale" }, a.etag));
      expect(err.status).toBe(412);

      const dup = await thrown(() => createProject(lxd, { name, description: "", config: {} }));
      // LXD: 409; Incus 6.0: 500 with 'UNIQUE constraint failed: projects.name'.
      expect(dup.status).toBe(BACKEND === "incus" ? 500 : 409);
      expect(isConflict(dup)).toBe(true);

      current = `${name}-r`;
      await renameProject(lxd, name, current);
      expect((await getProject(lxd, current)).value.description).toBe("second");
      await deleteProject(lxd, current);
      expect(await listProjects(lxd)).not.toContain(current);
    } finally {
      await ignoreNotFound(() => deleteProject(lxd, current));
    }
  });
});

describe("instances", () => {
  test("create from the test image, start, stop, update with ETag, rename, delete", async () => {
    const name = rnd();
    let current = name;
    try {
      await createInstance(lxd, { name, type: "container", profiles: [], devices: rootOnly, config: {}, source: { type: "image", alias: IMAGE } }, { timeoutSec: 120 });
      expect(await listInstances(lxd)).toContain(name);
      const created = await getInstance(lxd, name);
      expect(created.value.status).toBe("Stopped");
      expect(Object.values(created.value.expanded_devices).some((d) => d.type === "nic")).toBe(false);

      await startInstance(lxd, name, { timeoutSec: 60 });
      const running = await getInstanceState(lxd, name);
      expect(isRunningStatus(running.status)).toBe(true);
      expect(running.pid).toBeGreaterThan(0);
      expect(await execInstance(lxd, name, ["/bin/true"])).toBe(0);
      expect(await execInstance(lxd, name, ["/bin/false"])).toBe(1);

      await stopInstance(lxd, name, { graceSec: 0 });
      expect((await getInstanceState(lxd, name)).status).toBe("Stopped");

      const { value, etag } = await getInstance(lxd, name);
      await updateInstance(lxd, name, { ...value, config: { ...value.config, "user.note": "updated" } }, etag);
      expect((await getInstance(lxd, name)).value.config["user.note"]).toBe("updated");
      const stale = await thrown(() => updateInstance(lxd, name, { ...value, config: { ...value.config, "user.note": "stale" } }, etag));
      expect(stale.status).toBe(412);

      current = `${name}-r`;
      await renameInstance(lxd, name, current);
      expect((await getInstance(lxd, current)).value.config["user.note"]).toBe("updated");
      expect(isNotFound(await thrown(() => getInstance(lxd, name)))).toBe(true);

      await deleteInstance(lxd, current);
      expect(await listInstances(lxd)).not.toContain(current);
    } finally {
      await removeInstance(current);
    }
  });

  test("rejects creating an instance whose name exists: isConflict (5.0.2: the create operation fails with 400)", async () => {
    const name = rnd();
    const post = { name, type: "container" as const, profiles: [], devices: rootOnly, config: {}, source: { type: "image" as const, alias: IMAGE } };
    try {
      await createInstance(lxd, post);
      const err = await thrown(() => createInstance(lxd, post));
      expect(BACKEND === "incus" ? [500, 409] : [400, 409]).toContain(err.status); // Incus: the operation fails with 500
      expect(isConflict(err)).toBe(true);
      expect(isNotFound(err)).toBe(false);
    } finally {
      await removeInstance(name);
    }
  });

  describe("C11 operation waits honour the caller's timeout, with no hidden cap", () => {
    const name = rnd();
    beforeAll(async () => {
      await createInstance(lxd, { name, type: "container", profiles: [], devices: rootOnly, config: {}, source: { type: "image", alias: IMAGE } });
      await startInstance(lxd, name);
    });
    afterAll(async () => {
      await removeInstance(name);
    });

    const startSleep = async (seconds: number): Promise<Operation> => {
      const r = await lxd.request<Operation>("POST", `/1.0/instances/${name}/exec`, {
        noWait: true,
        body: { command: ["sleep", String(seconds)], "wait-for-websocket": false, interactive: false, "record-output": false, environment: {} },
      });
      expect(r.operation?.id).toBeTruthy();
      return r.operation as Operation;
    };

    test("C11 fails when the operation outlives timeoutSec, naming the operation and the seconds waited; a longer wait then succeeds", async () => {
      const op = await startSleep(4);
      const t0 = Date.now();
      const err = await thrown(() => lxd.waitOperation(op.id, { timeoutSec: 1 }));
      const waitedMs = Date.now() - t0;
      expect(err.status).toBe(0);
      expect(err.message).toMatch(/^Timed out after 1 s waiting for LXD operation "[^"]+" \(/);
      expect(err.message).toContain(op.id);
      expect(err.message).toContain(op.description);
      expect(waitedMs).toBeGreaterThanOrEqual(900);
      expect(waitedMs).toBeLessThan(3500);

      // The operation was only waited on, not cancelled: a proper wait sees it finish.
      const done = await lxd.waitOperation(op.id, { timeoutSec: 30 });
      expect(done.status).toBe("Success");
      expect((done.metadata as { return?: number }).return).toBe(0);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
    });

    test("C11 the dispatchers are built without undici's 300 s headers/body timeouts", () => {
      // This proves the configuration, not a 300 s wait: undici cuts a response after headersTimeout /
      // bodyTimeout (default 300 000 ms); 0 disables both, so only the caller's timeoutSec ends a wait.
      const optionsOf = (d: unknown) => {
        const sym = Object.getOwnPropertySymbols(d).find((s) => s.description === "options");
        expect(sym).toBeDefined();
        return (d as Record<symbol, { headersTimeout?: number; bodyTimeout?: number }>)[sym as symbol];
      };
      for (const t of [
        openTransport({}),
        openTransport({ url: "https://127.0.0.1:1", serverFingerprint: "a".repeat(64) }),
      ]) {
        const o = optionsOf(t.dispatcher);
        expect(o.headersTimeout).toBe(0);
        expect(o.bodyTimeout).toBe(0);
        void t.dispatcher.close();
      }
    });

    test("C11 a wait longer than one wait slice is made of several /wait calls and is not cut", async () => {
      // LXD's /wait is called with at most 30 s per call; a 33 s operation needs at least two calls and
      // must come back as finished (not as a timeout), proving long waits are sliced, not capped.
      const op = await startSleep(33);
      const before = lxd.requestCount;
      const t0 = Date.now();
      const done = await lxd.waitOperation(op.id, { timeoutSec: 120 });
      expect(done.status).toBe("Success");
      expect(Date.now() - t0).toBeGreaterThanOrEqual(30000);
      expect(lxd.requestCount - before).toBeGreaterThanOrEqual(2);
    }, 90000);
  });
});

describe("transport failures", () => {
  test("fails when the unix socket is missing: status 0, isTransport, the socket named", async () => {
    const socketPath = `/tmp/${rnd()}/no-such-lxd.socket`;
    const c = new LxdClient({ socketPath });
    try {
      const err = await thrown(() => c.server());
      expect(err.status).toBe(0);
      expect(err.isTransport).toBe(true);
      expect(isTransportError(err)).toBe(true);
      expect(err.message).toContain(`unix:${socketPath}`);
      expect(err.message).toMatch(/ENOENT/);
    } finally {
      await c.close();
    }
  });
});

describe("server kind (LXD or Incus, from GET /1.0 environment.server)", () => {
  test("serverKind() is what the daemon says, the backend of this run", async () => {
    expect(await lxd.serverKind()).toBe(BACKEND);
    expect((await lxd.server()).environment?.server ?? "lxd").toBe(BACKEND);
  });

  test("fails when the connection names the other server kind: a ServerMismatchError before any other request", async () => {
    const other = BACKEND === "incus" ? "lxd" : "incus";
    const c = new LxdClient({ socketPath: TEST_SOCKET, server: other });
    try {
      const before = c.requestCount;
      const err = await c.get("/1.0/instances").then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ServerMismatchError);
      expect((err as Error).message).toMatch(new RegExp(`connection.server is "${other}", but the server at unix:${TEST_SOCKET} is ${BACKEND === "incus" ? "Incus" : "LXD"}`));
      expect(c.requestCount - before).toBe(1); // GET /1.0 only: /1.0/instances was never sent
      await expect(c.serverKind()).rejects.toBeInstanceOf(ServerMismatchError);
    } finally {
      await c.close();
    }
  });

  test("the named kind that matches is accepted", async () => {
    const c = new LxdClient({ socketPath: TEST_SOCKET, server: BACKEND });
    try {
      expect(Array.isArray((await c.get<string[]>("/1.0/instances")).metadata)).toBe(true);
    } finally {
      await c.close();
    }
  });

  test("a failed operation is an LxdError with the daemon's message (Incus: HTTP 200 with type error on /wait; LXD: status Failure)", async () => {
    // Accepted at create, refused at start: a memory limit no container can start with.
    const name = rnd();
    await createInstance(lxd, { name, source: { type: "image", alias: IMAGE }, profiles: [], devices: rootOnly, config: { "limits.memory": "1KiB" } });
    try {
      const err = await thrown(() => startInstance(lxd, name, {}));
      expect(err.status).toBeGreaterThanOrEqual(400);
      expect(err.isTransport).toBe(false);
      expect(err.lxdMessage).not.toBe("");
      expect(err.message).toMatch(/operation .*failed: /);
      expect(err.message).toContain(err.lxdMessage);
    } finally {
      // Right after a failed start LXD may still refuse the delete for a moment: retry, and leave nothing behind.
      await stopInstance(lxd, name, { graceSec: 0 }).catch(() => undefined);
      for (let i = 0; i < 20; i++) {
        try {
          await deleteInstance(lxd, name, {});
          break;
        } catch (err) {
          if (err instanceof LxdError && err.status === 404) break;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
    await expect(getInstance(lxd, name, {})).rejects.toMatchObject({ status: 404 });
  });
});
