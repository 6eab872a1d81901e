/**
 * First contact with a remote LXD over HTTPS: getting a client certificate trusted.
 *
 * Endpoints: GET /1.0 (is the client trusted? which API extensions?) and POST /1.0/certificates.
 * Flows, chosen by API extension (never by version):
 * - `explicit_trust_token`: the token goes in the `trust_token` field;
 * - `certificate_token` (LXD 5.0): the whole token (base64, as `lxc config trust add` prints it) goes in
 *   the `password` field — LXD 5.0.2 rejects the bare `secret` there with 403 "not authorized";
 * - `core.trust_password` (servers without tokens): the password goes in the `password` field.
 *
 * The server's identity is pinned before anything is sent: a token carries the server certificate's
 * fingerprint, and the connection is made with that pin, so an impostor presenting another certificate
 * gets the TLS handshake and nothing else (no request, no token, no password). No Pulumi imports here.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LxdClient } from "./client";
import { LxdError, isConflict } from "./errors";
import { certificateFingerprint, normalizeFingerprint } from "./transport";

/** A decoded certificate add token (LXD `api.CertificateAddToken`, API extension `certificate_token`). */
export interface TrustToken {
  /** Name the server gives the client certificate it trusts with this token (`client_name`). */
  clientName: string;
  /** SHA-256 fingerprint of the server's certificate, 64 lower-case hex digits: the pin. */
  fingerprint: string;
  /** `host:port` addresses the server listens on (`core.https_address`), as the server sees them. */
  addresses: string[];
  /** The random join secret. A credential: never log it. */
  secret: string;
  /** Expiry (`core.remote_token_expiry`); undefined when the token does not expire (Go's zero time). */
  expiresAt?: Date;
  /** The token exactly as given (whitespace removed), which is what LXD expects back. A credential. */
  raw: string;
}

/** Where to send the trust request and with which client identity. */
export interface TrustTarget {
  /**
   * `https://host[:port]` of the remote (port default 8443). For {@link trustWithToken} it defaults to
   * the first address in the token.
   */
  url?: string;
  /** PEM client certificate to get trusted. */
  clientCert: string;
  /** PEM private key of the client certificate. A credential. */
  clientKey: string;
  /**
   * SHA-256 fingerprint of the server certificate (64 hex digits, colons and case ignored). Optional with a
   * token (the token's fingerprint is the pin; when given, both must agree); required with a password.
   */
  serverFingerprint?: string;
}

/** Options of a trust request. */
export interface TrustOptions {
  /** Name for the certificate in the server's trust store. @default the token's `client_name`; for a password, the server's choice */
  name?: string;
}

/** What a trust flow did. */
export interface TrustResult {
  /** SHA-256 fingerprint of the server certificate that was pinned and verified (lower-case hex). */
  serverFingerprint: string;
  /** SHA-256 fingerprint of the client certificate (lower-case hex). */
  clientFingerprint: string;
  /** True when this call added the client certificate; false when it was already trusted. */
  added: boolean;
  /** The flow used: `trust_token` field, `password` field with a token, `password` field with a trust password, or none. */
  method: "trust_token" | "certificate_token" | "trust_password" | "already_trusted";
}

/** Go's zero time, which LXD writes as `expires_at` for a token that does not expire. */
const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

/**
 * Decodes an LXD trust token (base64 of JSON with `client_name`, `fingerprint`, `addresses`, `secret`,
 * `expires_at`).
 * @throws Error naming the malformed field; the token and its secret are never part of the message.
 */
export function parseTrustToken(token: string): TrustToken {
  const raw = String(token ?? "").replace(/\s+/g, "");
  const bad = (field: string, want: string, got: string) =>
    new Error(`trust token field "${field}" must be ${want}, but ${got} was provided`);
  if (raw === "" || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) {
    throw new Error("trust token must be the base64 text printed by `lxc config trust add`, but it is not base64");
  }
  let obj: unknown;
  try {
    obj = JSON.parse(Buffer.from(raw, "base64").toString("utf8"));
  } catch {
    throw new Error("trust token must be the base64 text printed by `lxc config trust add`, but it does not decode to JSON");
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new Error("trust token must decode to a JSON object, but it does not");
  }
  const o = obj as Record<string, unknown>;
  const kind = (v: unknown) => (v === undefined ? "nothing" : Array.isArray(v) ? "an array" : `a ${typeof v}`);

  if (typeof o.client_name !== "string") throw bad("client_name", "a string", kind(o.client_name));
  if (typeof o.fingerprint !== "string") throw bad("fingerprint", "a SHA-256 fingerprint (64 hex digits)", kind(o.fingerprint));
  const fingerprint = normalizeFingerprint(o.fingerprint, 'trust token field "fingerprint"');
  if (!Array.isArray(o.addresses) || !o.addresses.every((a) => typeof a === "string" && a !== "")) {
    throw bad("addresses", "a list of host:port strings", kind(o.addresses));
  }
  if (typeof o.secret !== "string" || o.secret === "") {
    throw bad("secret", "a non-empty string", o.secret === "" ? "an empty string" : kind(o.secret));
  }
  let expiresAt: Date | undefined;
  if (o.expires_at !== undefined && o.expires_at !== GO_ZERO_TIME) {
    const d = typeof o.expires_at === "string" ? new Date(o.expires_at) : undefined;
    if (!d || Number.isNaN(d.getTime())) throw bad("expires_at", "an RFC 3339 time", typeof o.expires_at === "string" ? `"${o.expires_at}"` : kind(o.expires_at));
    expiresAt = d;
  }
  return { clientName: o.client_name, fingerprint, addresses: o.addresses as string[], secret: o.secret, expiresAt, raw };
}

/**
 * Encodes a trust token the way `lxc config trust add` prints it: base64 of JSON with `client_name`,
 * `fingerprint`, `addresses`, `secret` and `expires_at` (Go's zero time when it does not expire). The result
 * is a credential. {@link parseTrustToken} reads it back.
 */
export function encodeTrustToken(t: { clientName: string; fingerprint: string; addresses: string[]; secret: string; expiresAt?: string }): string {
  const json = { client_name: t.clientName, fingerprint: t.fingerprint, addresses: t.addresses, secret: t.secret, expires_at: t.expiresAt ?? GO_ZERO_TIME };
  return Buffer.from(JSON.stringify(json)).toString("base64");
}

/**
 * Gets `target.clientCert` trusted by the remote with a trust token (`lxc config trust add`).
 *
 * The token's server fingerprint is the pin. If `target.serverFingerprint` is given and differs, this
 * refuses before connecting; then the TLS handshake is checked against the pin before any request is
 * written, so a server presenting another certificate never sees the token. Already trusted: nothing is
 * sent but `GET /1.0`, and the token stays unused.
 * @throws Error for a malformed or expired token, a fingerprint disagreement or a server without token
 *   support; LxdError (status 0) when the pin does not match, LxdError from LXD when it refuses.
 */
export async function trustWithToken(target: TrustTarget, token: string, opts: TrustOptions = {}): Promise<TrustResult> {
  const t = parseTrustToken(token);
  if (target.serverFingerprint !== undefined && normalizeFingerprint(target.serverFingerprint) !== t.fingerprint) {
    throw new Error(
      `serverFingerprint ${normalizeFingerprint(target.serverFingerprint)} differs from the server fingerprint in the trust token ` +
        `${t.fingerprint}; refusing to connect (nothing was sent)`,
    );
  }
  if (t.expiresAt && t.expiresAt.getTime() <= Date.now()) {
    throw new Error(`trust token for "${t.clientName}" expired at ${t.expiresAt.toISOString()}; issue a new one with \`lxc config trust add\``);
  }
  const url = target.url ?? (t.addresses[0] ? `https://${t.addresses[0]}` : undefined);
  if (!url) throw new Error("url is required: the trust token lists no server address");

  return withPinnedClient({ ...target, url, serverFingerprint: t.fingerprint }, async (lxd, result) => {
    let body: Record<string, unknown>;
    let method: TrustResult["method"];
    if (await lxd.hasExtension("explicit_trust_token")) {
      body = { type: "client", trust_token: t.raw };
      method = "trust_token";
    } else if (await lxd.hasExtension("certificate_token")) {
      // LXD 5.0 reads a token from `password` and decodes it: the whole token, not only its secret. Incus 6.0 has
      // the same extensions but reads `trust_token` (and refuses `password`); an untrusted client cannot tell the
      // two apart (GET /1.0 hides `environment`), so the token goes in both fields of the one request: each server
      // reads its own and ignores the other (checked on LXD 5.0.2 and Incus 6.0.4).
      body = { type: "client", password: t.raw, trust_token: t.raw };
      method = "certificate_token";
    } else {
      throw new Error(`LXD at ${lxd.endpoint} does not support trust tokens (no API extension certificate_token); use a trust password`);
    }
    if (opts.name !== undefined) body.name = opts.name;
    await postCertificate(lxd, body);
    return { ...result, method };
  });
}

/**
 * Gets `target.clientCert` trusted with the server's `core.trust_password` (servers without trust tokens,
 * or configured that way). `target.serverFingerprint` is required: a password is never sent to an
 * unverified server.
 * @throws Error without a pinned fingerprint; LxdError (status 0) when the pin does not match, LxdError
 *   (403) when LXD rejects the password.
 */
export async function trustWithPassword(target: TrustTarget, password: string, opts: TrustOptions = {}): Promise<TrustResult> {
  if (!target.serverFingerprint) {
    throw new Error("serverFingerprint is required to send a trust password: pin the server certificate's SHA-256 fingerprint (lxc info)");
  }
  if (!target.url) throw new Error("url is required: https://host[:port] of the LXD server");
  if (!password) throw new Error("password must be the server's core.trust_password, but an empty string was provided");
  return withPinnedClient({ ...target, url: target.url }, async (lxd, result) => {
    const body: Record<string, unknown> = { type: "client", password };
    if (opts.name !== undefined) body.name = opts.name;
    try {
      await postCertificate(lxd, body);
    } catch (err) {
      // An untrusted client cannot tell LXD from Incus (GET /1.0 hides `environment`), and Incus has no
      // core.trust_password: it answers any password with 403 "not authorized". Say both possibilities.
      if (err instanceof LxdError && err.status === 403) {
        throw new LxdError({
          status: 403, lxdMessage: err.lxdMessage, method: err.method, path: err.path, cause: err,
          message: `${lxd.endpoint} refused the trust password (403 ${err.lxdMessage}): a wrong password, or a server without trust passwords (Incus has none: use a trust token)`,
        });
      }
      throw err;
    }
    return { ...result, method: "trust_password" as const };
  });
}

/** Opens a pinned client, returns early when already trusted, runs `add`, then checks LXD trusts us now. */
async function withPinnedClient(
  target: TrustTarget & { url: string },
  add: (lxd: LxdClient, result: TrustResult) => Promise<TrustResult>,
): Promise<TrustResult> {
  const serverFingerprint = normalizeFingerprint(target.serverFingerprint ?? "");
  const clientFingerprint = certificateFingerprint(target.clientCert);
  const lxd = new LxdClient({ url: target.url, clientCert: target.clientCert, clientKey: target.clientKey, serverFingerprint });
  try {
    let server;
    try {
      server = await lxd.server();
    } catch (err) {
      if (err instanceof LxdError && err.isTransport) {
        throw new LxdError({
          status: 0, lxdMessage: "", method: err.method, path: err.path, cause: err,
          message: `Refused to send credentials to ${lxd.endpoint}: ${err.cause instanceof Error ? err.cause.message : err.message}`,
        });
      }
      throw err;
    }
    if (server.auth === "trusted") return { serverFingerprint, clientFingerprint, added: false, method: "already_trusted" };
    const result = await add(lxd, { serverFingerprint, clientFingerprint, added: true, method: "already_trusted" });
    if ((await lxd.server(true)).auth !== "trusted") {
      throw new Error(`LXD at ${lxd.endpoint} accepted the request but does not trust client certificate ${clientFingerprint}`);
    }
    return result;
  } finally {
    await lxd.close();
  }
}

/** POST /1.0/certificates; 409 (this certificate is already in the trust store) counts as done. */
async function postCertificate(lxd: LxdClient, body: Record<string, unknown>): Promise<void> {
  try {
    await lxd.request("POST", "/1.0/certificates", { body });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

/** A client certificate and its key, PEM. */
export interface ClientCertificate {
  /** PEM certificate. */
  cert: string;
  /** PEM private key (unencrypted). A credential. */
  key: string;
  /** SHA-256 fingerprint of the certificate, lower-case hex, as LXD lists it. */
  fingerprint: string;
}

/**
 * Creates a self-signed client certificate like the one `lxc` makes for itself (ECDSA P-384,
 * extendedKeyUsage clientAuth). Uses the `openssl` command (Node's crypto cannot issue X.509
 * certificates); the key is written only to a private temporary directory that is removed afterwards.
 * @param opts.commonName subject CN. @default "pulumi-lxd"
 * @param opts.days validity in days. @default 3650
 * @throws Error when `openssl` is not installed.
 */
export function generateClientCertificate(opts: { commonName?: string; days?: number } = {}): ClientCertificate {
  const cn = opts.commonName ?? "pulumi-lxd";
  const days = opts.days ?? 3650;
  if (!/^[A-Za-z0-9 ._@-]{1,64}$/.test(cn)) {
    throw new Error(`commonName must be 1-64 letters, digits, spaces or ._@-, but "${cn}" was provided`);
  }
  if (!Number.isInteger(days) || days < 1) throw new Error(`days must be a positive integer, but ${days} was provided`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lxd-client-cert-"));
  try {
    const keyFile = path.join(dir, "client.key");
    const certFile = path.join(dir, "client.crt");
    try {
      execFileSync("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-nodes",
        "-keyout", keyFile, "-out", certFile, "-days", String(days), "-subj", `/CN=${cn}`,
        "-addext", "extendedKeyUsage=clientAuth",
      ], { stdio: ["ignore", "ignore", "pipe"] });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === "ENOENT") throw new Error("generateClientCertificate needs the openssl command, which is not installed");
      throw new Error(`openssl failed to create a client certificate: ${e.stderr?.toString().trim() || e.message}`);
    }
    const cert = fs.readFileSync(certFile, "utf8");
    const key = fs.readFileSync(keyFile, "utf8");
    return { cert, key, fingerprint: certificateFingerprint(cert) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
