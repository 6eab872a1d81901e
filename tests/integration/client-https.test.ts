/**
 * The LXD client over HTTPS, on loopback only: LXD's `core.https_address` is bound to 127.0.0.1:<free
 * port> for this file and restored afterwards. Proves the pinned connection (C07), first contact with a
 * trust token (C08) and with `core.trust_password`. "Nothing was sent" is observed with a local TLS server
 * that records every byte of application data it receives (LXD itself cannot be observed that way).
 */
import { randomBytes, X509Certificate } from "node:crypto";
import * as net from "node:net";
import * as tls from "node:tls";
import {
  LxdClient, LxdError, generateClientCertificate, normalizeFingerprint, parseTrustToken, trustWithPassword,
  trustWithToken, type ClientCertificate, type Certificate, type Operation, type Server,
} from "../../provider/lxd";
import { freePort } from "../support/net";
import { localClient } from "../support/lxd";
import { onlyOn } from "../support/backend";

const rnd = () => `t-${randomBytes(4).toString("hex")}`;

/** The local daemon, over the unix socket: the administrator's side. */
let admin: LxdClient;
let url: string;
let serverFingerprint: string;
let serverCertPem: string;
let extensions: string[];
/** `core.https_address` before this file ran ("" = unset); restored in afterAll when this file set it. */
let previousHttpsAddress = "";
let weSetHttpsAddress = false;
/** Client certificates created here: removed from LXD's trust store in afterAll. */
const created: ClientCertificate[] = [];
/** Token operations created here: cancelled in afterAll. */
const tokenOps: string[] = [];


async function setServerConfig(config: Record<string, string>): Promise<void> {
  await admin.request("PATCH", "/1.0", { body: { config } });
}

function newClientCert(): ClientCertificate {
  const c = generateClientCertificate({ commonName: rnd() });
  created.push(c);
  return c;
}

/** Trusts `c` through the unix socket (the administrator adds it). */
async function trustDirectly(c: ClientCertificate): Promise<void> {
  const der = c.cert.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  await admin.request("POST", "/1.0/certificates", { body: { type: "client", name: rnd(), certificate: der } });
}

async function trustedFingerprints(): Promise<string[]> {
  return (await admin.get<Certificate[]>("/1.0/certificates", { query: { recursion: "1" } })).metadata.map((c) => c.fingerprint);
}

/** Issues a trust token the way `lxc config trust add` does, and returns it and its operation id. */
async function issueToken(name: string): Promise<{ token: string; opId: string }> {
  const r = await admin.request<Operation>("POST", "/1.0/certificates", { body: { name, type: "client", token: true }, noWait: true });
  const op = r.operation as Operation;
  tokenOps.push(op.id);
  const m = op.metadata as { fingerprint: string; addresses: string[]; secret: string; expiresAt?: string };
  const json = { client_name: name, fingerprint: m.fingerprint, addresses: m.addresses, secret: m.secret, expires_at: m.expiresAt ?? "0001-01-01T00:00:00Z" };
  return { token: Buffer.from(JSON.stringify(json)).toString("base64"), opId: op.id };
}

async function operationStatus(id: string): Promise<string> {
  try {
    return (await admin.get<Operation>(`/1.0/operations/${id}`)).metadata.status;
  } catch (err) {
    if (err instanceof LxdError && err.status === 404) return "gone";
    throw err;
  }
}

/**
 * A local TLS server on 127.0.0.1 with its own self-signed certificate (no SAN), standing in for an
 * impostor. It records TCP connections and every byte of application data; to a request it answers
 * like an untrusted LXD would for GET /1.0.
 */
interface Observer {
  url: string;
  fingerprint: string;
  connections: number;
  appBytes: number;
  received: string;
  /** Resolves once every connection made so far has closed. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

async function startObserver(): Promise<Observer> {
  const id = generateClientCertificate({ commonName: "impostor" });
  const sockets = new Set<net.Socket>();
  const closed: Promise<void>[] = [];
  const obs = { connections: 0, appBytes: 0, received: "" } as Observer;
  const server = tls.createServer({ cert: id.cert, key: id.key });
  server.on("connection", (raw: net.Socket) => {
    obs.connections++;
    sockets.add(raw);
    closed.push(new Promise((r) => raw.once("close", () => r())));
  });
  server.on("secureConnection", (s) => {
    s.on("data", (chunk: Buffer) => {
      obs.appBytes += chunk.length;
      obs.received += chunk.toString("latin1");
      if (obs.received.includes("\r\n\r\n")) {
        const body = JSON.stringify({ type: "sync", status: "Success", status_code: 200, metadata: { api_extensions: [], api_status: "stable", api_version: "1.0", auth: "untrusted" } });
        s.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      }
    });
    s.on("error", () => undefined);
  });
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  obs.url = `https://127.0.0.1:${port}`;
  obs.fingerprint = id.fingerprint;
  obs.settled = async () => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closed), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
  };
  obs.close = () => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  });
  return obs;
}

beforeAll(async () => {
  admin = localClient();
  const server = (await admin.server()) as Server;
  extensions = server.api_extensions;
  serverFingerprint = server.environment?.certificate_fingerprint ?? "";
  serverCertPem = server.environment?.certificate ?? "";
  expect(serverFingerprint).toMatch(/^[0-9a-f]{64}$/);
  previousHttpsAddress = server.config?.["core.https_address"] ?? "";
  if (previousHttpsAddress) {
    // Network safety: only ever loopback. Reuse a loopback listener someone else set; never widen it.
    if (!/^127\.0\.0\.1:\d+$/.test(previousHttpsAddress)) {
      throw new Error(`core.https_address is "${previousHttpsAddress}", not 127.0.0.1:<port>; refusing to run HTTPS tests`);
    }
    url = `https://${previousHttpsAddress}`;
  } else {
    const port = await freePort();
    await setServerConfig({ "core.https_address": `127.0.0.1:${port}` });
    weSetHttpsAddress = true;
    url = `https://127.0.0.1:${port}`;
  }
});

afterAll(async () => {
  try {
    for (const id of tokenOps) {
      if ((await operationStatus(id)) === "Running") await admin.request("DELETE", `/1.0/operations/${id}`);
    }
    const ours = new Set(created.map((c) => c.fingerprint));
    for (const fp of await trustedFingerprints()) {
      if (ours.has(fp)) await admin.request("DELETE", `/1.0/certificates/${fp}`);
    }
    expect((await trustedFingerprints()).filter((fp) => ours.has(fp))).toEqual([]);
  } finally {
    if (weSetHttpsAddress) await setServerConfig({ "core.https_address": "" });
    await admin.close();
  }
});

describe("pinned HTTPS connection", () => {
  test("C07 connects to LXD by IP with its self-signed certificate when the fingerprint is pinned", async () => {
    // The premise: LXD's certificate is self-signed, so no public CA vouches for it.
    const cert = new X509Certificate(serverCertPem);
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.verify(cert.publicKey)).toBe(true);
    const c = newClientCert();
    await trustDirectly(c);
    const lxd = new LxdClient({ url, clientCert: c.cert, clientKey: c.key, serverFingerprint: serverFingerprint.toUpperCase().replace(/(..)(?!$)/g, "$1:") });
    try {
      const s = await lxd.server();
      expect(s.auth).toBe("trusted");
      expect(s.environment?.certificate_fingerprint).toBe(serverFingerprint);
      expect((await lxd.get<string[]>("/1.0/profiles")).metadata).toContain("/1.0/profiles/default");
    } finally {
      await lxd.close();
    }
  });

  test("C07 the pin works for a self-signed server certificate with no SAN at all, reached by IP", async () => {
    const obs = await startObserver();
    try {
      expect(new X509Certificate(generateClientCertificate().cert).subjectAltName).toBeUndefined();
      const c = generateClientCertificate();
      const lxd = new LxdClient({ url: obs.url, clientCert: c.cert, clientKey: c.key, serverFingerprint: obs.fingerprint });
      try {
        expect((await lxd.server()).auth).toBe("untrusted");
      } finally {
        await lxd.close();
      }
      // Control for the test below: the observer does see a request when the pin matches.
      expect(obs.received).toMatch(/^GET \/1\.0 HTTP\/1\.1\r\n/);
    } finally {
      await obs.close();
    }
  });

  test("C07 rejects a wrong pinned fingerprint with a clear error, before any request is written", async () => {
    const wrong = "ab".repeat(32);
    const c = generateClientCertificate();
    // Against LXD: the error is a transport error naming both fingerprints.
    const lxd = new LxdClient({ url, clientCert: c.cert, clientKey: c.key, serverFingerprint: wrong });
    try {
      const err = await lxd.server().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(LxdError);
      const e = err as LxdError;
      expect(e.isTransport).toBe(true);
      expect(e.message).toContain(`expected ${wrong}`);
      expect(e.message).toContain(`presented ${serverFingerprint}`);
      expect(e.message).toContain("nothing was sent");
    } finally {
      await lxd.close();
    }
    // Against the observer: the TLS handshake happened, no byte of application data arrived.
    const obs = await startObserver();
    try {
      const toObs = new LxdClient({ url: obs.url, clientCert: c.cert, clientKey: c.key, serverFingerprint: wrong });
      try {
        await expect(toObs.server()).rejects.toThrow(/fingerprint mismatch/);
      } finally {
        await toObs.close();
      }
      await obs.settled();
      expect(obs.connections).toBeGreaterThanOrEqual(1);
      expect(obs.appBytes).toBe(0);
    } finally {
      await obs.close();
    }
  });

  test("rejects an HTTPS remote with neither a pinned fingerprint nor a CA, naming what is missing", () => {
    expect(() => new LxdClient({ url })).toThrow(/serverFingerprint is required .*never accepted unchecked/);
    expect(() => new LxdClient({ url, serverFingerprint: "not-hex" })).toThrow(/serverFingerprint must be a SHA-256 fingerprint/);
  });
});

describe("trust tokens", () => {
  test("parseTrustToken reads the token LXD issues", async () => {
    const name = rnd();
    const { token } = await issueToken(name);
    const t = parseTrustToken(token);
    expect(t.clientName).toBe(name);
    expect(t.fingerprint).toBe(serverFingerprint);
    expect(t.addresses).toContain(url.replace("https://", ""));
    expect(t.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(t.expiresAt).toBeUndefined(); // Go's zero time: no expiry configured
  });

  test("rejects malformed tokens naming the field, never echoing the secret", () => {
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64");
    const good = { client_name: "x", fingerprint: "ab".repeat(32), addresses: ["127.0.0.1:8443"], secret: "s3cr3t-value", expires_at: "0001-01-01T00:00:00Z" };
    expect(() => parseTrustToken("not base64!")).toThrow(/not base64/);
    expect(() => parseTrustToken(Buffer.from("{nope").toString("base64"))).toThrow(/does not decode to JSON/);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...good, client_name: 1 }, /"client_name" must be a string/],
      [{ ...good, fingerprint: "abc" }, /"fingerprint" must be a SHA-256 fingerprint/],
      [{ ...good, addresses: "127.0.0.1:8443" }, /"addresses" must be a list/],
      [{ ...good, secret: undefined }, /"secret" must be a non-empty string/],
      [{ ...good, expires_at: "soon" }, /"expires_at" must be an RFC 3339 time/],
    ];
    for (const [obj, re] of cases) {
      let msg = "";
      try {
        parseTrustToken(enc(obj));
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(re);
      expect(msg).not.toContain("s3cr3t");
    }
    expect(parseTrustToken(enc(good)).secret).toBe("s3cr3t-value");
  });

  test("C08 rejects a token whose fingerprint differs from the certificate LXD presents; the token stays unused", async () => {
    const name = rnd();
    const { token, opId } = await issueToken(name);
    const c = newClientCert();
    const forged = parseTrustToken(token);
    const other = "cd".repeat(32);
    const tampered = Buffer.from(JSON.stringify({ client_name: name, fingerprint: other, addresses: forged.addresses, secret: forged.secret, expires_at: "0001-01-01T00:00:00Z" })).toString("base64");

    await expect(trustWithToken({ url, clientCert: c.cert, clientKey: c.key }, tampered)).rejects.toThrow(
      new RegExp(`Refused to send credentials to ${url.replace(/[.]/g, "\\.")}: .*expected ${other}.*presented ${serverFingerprint}`),
    );
    // Had the secret reached LXD, the token would be spent and this certificate trusted.
    expect(await trustedFingerprints()).not.toContain(c.fingerprint);
    expect(await operationStatus(opId)).toBe("Running");
    // The genuine token still works.
    const r = await trustWithToken({ url, clientCert: c.cert, clientKey: c.key }, token);
    expect(r.added).toBe(true);
    expect(await trustedFingerprints()).toContain(c.fingerprint);
  });

  test("C08 rejects a genuine token when the server at the URL presents another certificate; no byte is sent to it", async () => {
    const { token, opId } = await issueToken(rnd());
    const obs = await startObserver();
    const c = newClientCert();
    try {
      await expect(trustWithToken({ url: obs.url, clientCert: c.cert, clientKey: c.key }, token)).rejects.toThrow(
        new RegExp(`expected ${serverFingerprint}, the server presented ${obs.fingerprint}; nothing was sent`),
      );
      await obs.settled();
      expect(obs.connections).toBeGreaterThanOrEqual(1);
      expect(obs.appBytes).toBe(0);
      expect(await operationStatus(opId)).toBe("Running");
    } finally {
      await obs.close();
    }
  });

  test("C08 rejects before connecting when the given serverFingerprint disagrees with the token", async () => {
    const { token } = await issueToken(rnd());
    const obs = await startObserver();
    const c = generateClientCertificate();
    try {
      await expect(trustWithToken({ url: obs.url, clientCert: c.cert, clientKey: c.key, serverFingerprint: obs.fingerprint }, token)).rejects.toThrow(
        /differs from the server fingerprint in the trust token .*refusing to connect/,
      );
      await obs.settled();
      expect(obs.connections).toBe(0);
    } finally {
      await obs.close();
    }
  });

  test("C08 trusts the client with a genuine token (flow chosen by API extension); a second call is a no-op", async () => {
    const name = rnd();
    const { token, opId } = await issueToken(name);
    const c = newClientCert();
    const r = await trustWithToken({ clientCert: c.cert, clientKey: c.key, serverFingerprint }, token); // url from the token
    expect(r).toEqual({
      serverFingerprint, clientFingerprint: c.fingerprint, added: true,
      method: extensions.includes("explicit_trust_token") ? "trust_token" : "certificate_token",
    });
    const entry = (await admin.get<Certificate>(`/1.0/certificates/${c.fingerprint}`)).metadata;
    expect(entry.name).toBe(name);
    expect(entry.type).toBe("client");
    expect(await operationStatus(opId)).not.toBe("Running"); // spent

    const again = await trustWithToken({ url, clientCert: c.cert, clientKey: c.key }, token);
    expect(again).toMatchObject({ added: false, method: "already_trusted" });
  });
});

test("Incus has no trust password: trustWithPassword fails with 403 and says a token is the way", async () => {
  if ((await admin.serverKind()) !== "incus") {
    console.log("[LXD] skipped: this LXD has core.trust_password (the describe below tests it)");
    return;
  }
  const c = newClientCert();
  const err = await trustWithPassword({ url, clientCert: c.cert, clientKey: c.key, serverFingerprint }, "any-password").then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(LxdError);
  expect((err as LxdError).status).toBe(403);
  expect((err as Error).message).toMatch(/refused the trust password .*Incus has none: use a trust token/);
  expect(await trustedFingerprints()).not.toContain(c.fingerprint);
});

onlyOn("lxd", "Incus has no core.trust_password (tokens only)").describe("trust password (core.trust_password)", () => {
  const password = `pw-${randomBytes(12).toString("hex")}`;
  beforeAll(async () => {
    const cfg = (await admin.server(true)).config ?? {};
    if (cfg["core.trust_password"]) throw new Error("core.trust_password is already set on this daemon; refusing to overwrite it");
    await setServerConfig({ "core.trust_password": password });
  });
  afterAll(async () => {
    await setServerConfig({ "core.trust_password": "" });
    expect((await admin.server(true)).config?.["core.trust_password"]).toBeUndefined();
  });

  test("rejects a trust password without a pinned server fingerprint, before connecting", async () => {
    const c = generateClientCertificate();
    await expect(trustWithPassword({ url, clientCert: c.cert, clientKey: c.key }, password)).rejects.toThrow(/serverFingerprint is required to send a trust password/);
  });

  test("rejects a wrong trust password with LXD's 403; the client stays untrusted", async () => {
    const c = newClientCert();
    const err = await trustWithPassword({ url, clientCert: c.cert, clientKey: c.key, serverFingerprint }, "wrong").then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(LxdError);
    expect((err as LxdError).status).toBe(403);
    expect((err as LxdError).message).not.toContain("wrong\"");
    expect(await trustedFingerprints()).not.toContain(c.fingerprint);
  });

  test("trusts the client with the right trust password over the pinned connection", async () => {
    const c = newClientCert();
    const r = await trustWithPassword({ url, clientCert: c.cert, clientKey: c.key, serverFingerprint: normalizeFingerprint(serverFingerprint) }, password, { name: rnd() });
    expect(r).toEqual({ serverFingerprint, clientFingerprint: c.fingerprint, added: true, method: "trust_password" });
    expect(await trustedFingerprints()).toContain(c.fingerprint);
  });
});
