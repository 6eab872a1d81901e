/** LXD or Incus: local socket discovery per server kind, the `server` connection field, and the key mapping. */
import { findLocalSocket } from "../../provider/lxd";
import { namedServerKind, resolveConnection, serverIdentity, type ProviderConfig } from "../../provider/kit/connection";
import { connectionSchema } from "../../provider/rules/connection";
import { configFor, guestApiKey, isGuestApiKey, keyFor } from "../../provider/rules/server-keys";

const config = (c: Record<string, string>): ProviderConfig => ({ get: (k) => c[k] });

describe("local socket discovery, as each project's own client does it", () => {
  test("LXD: LXD_SOCKET, then LXD_DIR, then the package socket (no snap here)", () => {
    expect(findLocalSocket({ LXD_SOCKET: "/x/s", LXD_DIR: "/d" })).toBe("/x/s");
    expect(findLocalSocket({ LXD_DIR: "/d/" })).toBe("/d/unix.socket");
    expect(findLocalSocket({}, "lxd")).toMatch(/^\/var\/(lib\/lxd|snap\/lxd\/common\/lxd)\/unix\.socket$/);
  });
  test("Incus: INCUS_SOCKET, then INCUS_DIR, then /run/incus if present, else /var/lib/incus; LXD's variables are ignored", () => {
    expect(findLocalSocket({ INCUS_SOCKET: "/i/s", LXD_SOCKET: "/x/s" }, "incus")).toBe("/i/s");
    expect(findLocalSocket({ INCUS_DIR: "/srv/incus", LXD_DIR: "/d" }, "incus")).toBe("/srv/incus/unix.socket");
    expect(findLocalSocket({ LXD_SOCKET: "/x/s" }, "incus")).toMatch(/^\/(run\/incus|var\/lib\/incus)\/unix\.socket$/);
  });
});

describe("connection.server and stack config lxd:server", () => {
  test("the schema takes lxd or incus and refuses anything else", () => {
    expect(connectionSchema().parse({ server: "incus" })).toEqual({ server: "incus" });
    expect(connectionSchema().safeParse({ server: "docker" }).success).toBe(false);
  });
  test("server without a socket picks that server's local socket and is carried to the client", () => {
    const env = { INCUS_SOCKET: "/i/s", LXD_SOCKET: "/x/s" };
    expect(resolveConnection({ server: "incus" }, undefined, env)).toEqual({ server: "incus" });
    expect(serverIdentity({ server: "incus" }, undefined, env)).toBe("unix:/i/s");
    expect(serverIdentity({}, undefined, env)).toBe("unix:/x/s");
    expect(resolveConnection({ socketPath: "/y", server: "lxd" }, undefined, env)).toMatchObject({ socketPath: "/y", server: "lxd" });
  });
  test("stack config lxd:server applies to resources without a connection of their own, not to one that names a socket", () => {
    const c = config({ "lxd:server": "incus" });
    const env = { INCUS_SOCKET: "/i/s" };
    expect(namedServerKind(undefined, c)).toBe("incus");
    expect(namedServerKind({}, c)).toBe("incus");
    expect(namedServerKind({ socketPath: "/x" }, c)).toBeUndefined();
    expect(namedServerKind({ server: "lxd" }, c)).toBe("lxd");
    expect(serverIdentity(undefined, c, env)).toBe("unix:/i/s");
    expect(serverIdentity({ server: "incus" }, undefined, env)).toBe(serverIdentity(undefined, c, env)); // same server: no replacement
    expect(() => namedServerKind(undefined, config({ "lxd:server": "lxc" }))).toThrow(/stack config lxd:server must be "lxd" or "incus", but "lxc" was provided/);
  });
  test("a named remote may say which server it is", () => {
    const c = config({ "lxd:remotes": JSON.stringify({ lab: { url: "https://10.0.0.7:8443", server: "incus" } }) });
    expect(namedServerKind({ remote: "lab" }, c)).toBe("incus");
  });
});

describe("the guest API key, mapped in one place", () => {
  test("security.devlxd on LXD, security.guestapi on Incus, the .images variants too; other keys unchanged", () => {
    expect(guestApiKey()).toBe("security.devlxd");
    expect(guestApiKey("incus")).toBe("security.guestapi");
    expect(keyFor("incus", "security.devlxd.images")).toBe("security.guestapi.images");
    expect(keyFor("lxd", "security.guestapi")).toBe("security.devlxd");
    expect(keyFor("incus", "security.devlxdx")).toBe("security.devlxdx");
    expect(isGuestApiKey("security.guestapi.images")).toBe(true);
    expect(configFor("incus", { "security.devlxd": "false", "limits.cpu": "1" })).toEqual({ "security.guestapi": "false", "limits.cpu": "1" });
  });
});
