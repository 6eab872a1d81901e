/**
 * Which LXD a resource talks to, end to end through the provider host: a named remote in stack config, the
 * `lxd:*` stack config keys, and a per-resource connection with a key file — each over HTTPS on loopback
 * (`core.https_address` bound to 127.0.0.1 for this file only). The client key never reaches the
 * serialized provider, the state's inputs or its outputs.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { MiniEngine, providerText, randomName } from "../support/engine";
import { localClient, removeProfile, TEST_IMAGE } from "../support/lxd";
import { BACKEND, TEST_SOCKET } from "../support/backend";
import { generateClientCertificate, getProfile, type ClientCertificate, type LxdClient } from "../../provider/lxd";
import { freePort } from "../support/net";

let admin: LxdClient;
let url: string;
let fingerprint: string;
let cert: ClientCertificate;
let certFingerprint: string;
let previousAddress = "";
let weSetAddress = false;
let keyDir: string;


beforeAll(async () => {
  admin = localClient();
  const server = await admin.server(true);
  previousAddress = server.config?.["core.https_address"] ?? "";
  if (previousAddress && !previousAddress.startsWith("127.0.0.1:")) throw new Error(`core.https_address is ${previousAddress}; these tests only use loopback`);
  if (!previousAddress) {
    previousAddress = "";
    await admin.request("PATCH", "/1.0", { body: { config: { "core.https_address": `127.0.0.1:${await freePort()}` } } });
    weSetAddress = true;
  }
  const now = await admin.server(true);
  url = `https://${now.config!["core.https_address"]}`;
  fingerprint = now.environment!.certificate_fingerprint!;
  cert = generateClientCertificate({ commonName: randomName("conn") });
  const der = cert.cert.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  await admin.request("POST", "/1.0/certificates", { body: { type: "client", name: randomName("conn"), certificate: der } });
  certFingerprint = new (require("node:crypto").X509Certificate)(cert.cert).fingerprint256.replace(/:/g, "").toLowerCase();
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "lxd-key-"));
  fs.writeFileSync(path.join(keyDir, "client.key"), cert.key, { mode: 0o600 });
});

afterAll(async () => {
  await admin.request("DELETE", `/1.0/certificates/${certFingerprint}`).catch(() => undefined);
  if (weSetAddress) await admin.request("PATCH", "/1.0", { body: { config: { "core.https_address": previousAddress } } });
  fs.rmSync(keyDir, { recursive: true, force: true });
  await admin.close();
});

/** Creates a profile through a host started with `config`, checks it landed in LXD, destroys it; returns the state. */
async function roundTrip(config: Record<string, string>, secretKeys: string[], connection?: Record<string, unknown>) {
  const host: ProviderHost = await startProviderHost({ config, secretKeys, env: { LXD_SOCKET: "/nonexistent/lxd.socket", INCUS_SOCKET: "/nonexistent/incus.socket" } });
  const name = randomName();
  try {
    const e = new MiniEngine(host, "profile", name, "Profile");
    const inputs = { name, config: { "user.via": "https" }, ...(connection ? { connection } : {}) };
    const s = await e.up(inputs);
    expect((await getProfile(admin, name)).value.config["user.via"]).toBe("https");
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");
    const state = JSON.stringify(e.state);
    await e.destroy();
    return { state, outputs: s.outputs };
  } finally {
    await removeProfile(admin, name);
    await host.close();
  }
}

const noKeyIn = (text: string) => {
  expect(text).not.toContain("PRIVATE KEY");
  expect(text).not.toContain(cert.key.split("\n")[1]);
};

test("a named remote from secret stack config (lxd:remotes) reaches LXD over pinned HTTPS; no key in state", async () => {
  const remotes = JSON.stringify({ loop: { url, clientCert: cert.cert, clientKey: cert.key, serverFingerprint: fingerprint } });
  const { state } = await roundTrip({ "lxd:remotes": remotes }, ["lxd:remotes"], { remote: "loop" });
  noKeyIn(state);
  noKeyIn(await providerText("profile"));
});

test("stack config lxd:url / lxd:clientKey (secret) is used when a resource names no connection", async () => {
  const { state } = await roundTrip(
    { "lxd:url": url, "lxd:clientCert": cert.cert, "lxd:clientKey": cert.key, "lxd:serverFingerprint": fingerprint },
    ["lxd:clientKey"],
  );
  noKeyIn(state);
});

test("a per-resource connection with a key file works and stores only the file's path", async () => {
  const keyFile = path.join(keyDir, "client.key");
  const { state, outputs } = await roundTrip({}, [], { url, clientCert: cert.cert, clientKeyFile: keyFile, serverFingerprint: fingerprint });
  noKeyIn(state);
  expect((outputs.connection as Record<string, string>).clientKeyFile).toBe(keyFile);
});

test("fails when the pinned fingerprint is wrong: the error names the mismatch and nothing is created", async () => {
  const host = await startProviderHost({ env: { LXD_SOCKET: "/nonexistent/lxd.socket", INCUS_SOCKET: "/nonexistent/incus.socket" } });
  try {
    const name = randomName();
    const e = new MiniEngine(host, "profile", name, "Profile");
    const wrong = "ab".repeat(32);
    await expect(e.up({ name, connection: { url, clientCert: cert.cert, clientKeyFile: path.join(keyDir, "client.key"), serverFingerprint: wrong } }))
      .rejects.toThrow(/fingerprint mismatch.*expected ab{0}a?/s);
    await expect(getProfile(admin, name)).rejects.toMatchObject({ status: 404 });
  } finally {
    await host.close();
  }
});

test("rejects a client key given inline, naming the field, before any call to LXD", async () => {
  const host = await startProviderHost();
  try {
    const e = new MiniEngine(host, "instance", "x", "Instance");
    const r = await e.check({ name: "x", image: "any", connection: { url, clientCert: cert.cert, clientKey: cert.key, serverFingerprint: fingerprint } });
    expect(r.failures).toEqual([expect.objectContaining({ property: "connection.clientKey", reason: expect.stringMatching(/must not be given inline.*clientKeyFile/) })]);
    const unknownRemote = await e.check({ name: "x", image: "any", connection: { remote: "nope" } });
    // The provider is configured before check: a remote stack config does not have fails the preview.
    expect(unknownRemote.failures).toEqual([expect.objectContaining({ property: "connection.remote", reason: expect.stringMatching(/"nope" is not in stack config lxd:remotes/) })]);
  } finally {
    await host.close();
  }
});

test("fails when a named remote is not in stack config, listing the known ones", async () => {
  const host = await startProviderHost({ config: { "lxd:remotes": JSON.stringify({ a: { url } }) } });
  try {
    const e = new MiniEngine(host, "profile", randomName(), "Profile");
    await expect(e.up({ name: randomName(), connection: { remote: "nope" } })).rejects.toThrow(/connection\.remote "nope" is not in stack config lxd:remotes \(known: a\)/);
  } finally {
    await host.close();
  }
});

test("fails when connection.server names the other server kind: refused at check (preview), nothing created", async () => {
  const other = BACKEND === "incus" ? "lxd" : "incus";
  const host = await startProviderHost();
  try {
    const name = randomName();
    const e = new MiniEngine(host, "instance", name, "Instance");
    const r = await e.check({ name, image: TEST_IMAGE, connection: { socketPath: TEST_SOCKET, server: other } });
    expect(r.failures).toEqual([expect.objectContaining({
      property: "connection.server",
      reason: expect.stringMatching(new RegExp(`connection.server is "${other}", but the server at unix:${TEST_SOCKET} is ${BACKEND === "incus" ? "Incus" : "LXD"} \\(GET /1.0 environment.server = "${BACKEND}"\\)`)),
    })]);
    // The matching kind passes check, and `server` alone (no socket) picks that server's local socket.
    expect((await e.check({ name, image: TEST_IMAGE, connection: { server: BACKEND } })).failures).toEqual([]);
    const p = new MiniEngine(host, "profile", name, "Profile");
    await expect(p.up({ name, connection: { socketPath: TEST_SOCKET, server: other } })).rejects.toThrow(/connection.server is/);
    await expect(getProfile(admin, name)).rejects.toMatchObject({ status: 404 });
  } finally {
    await host.close();
  }
});
