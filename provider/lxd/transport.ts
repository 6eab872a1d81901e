/**
 * How the client reaches LXD: the local unix socket, or HTTPS with a client certificate (mTLS) and a
 * server identity pinned by the SHA-256 fingerprint of its certificate (or checked against a CA the
 * user gives). There is no "accept any certificate" mode.
 */
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { Agent, type Dispatcher, type buildConnector } from "undici";
import { LxdError } from "./errors";

/** Which daemon answers: LXD, or Incus (LXD's community fork), as GET /1.0 `environment.server` says. */
export type ServerKind = "lxd" | "incus";

/** Where and how to reach one LXD server. All fields are plain strings so they survive Pulumi serialization. */
export interface LxdConnection {
  /**
   * Path of the daemon's unix socket. Default: found as the named server's own client finds it (see
   * {@link findLocalSocket}): LXD's socket, or Incus's with `server: "incus"`.
   */
  socketPath?: string;
  /**
   * The server kind this connection expects. When set, the client checks GET /1.0 `environment.server` before
   * its first other request and fails with {@link ServerMismatchError} if another kind answers; without a
   * socket path or URL it also picks that server's local socket. Default: whatever answers.
   */
  server?: ServerKind;
  /** `https://host[:port]` of a remote LXD (port default 8443). When set, the unix socket is not used. */
  url?: string;
  /** PEM client certificate for HTTPS (mTLS). */
  clientCert?: string;
  /** PEM private key of the client certificate. A credential: keep it secret, never log it. */
  clientKey?: string;
  /**
   * SHA-256 fingerprint of the server's certificate (64 hex digits, colons and case ignored), as
   * `lxc info` prints it under `certificate_fingerprint`. Required for HTTPS unless `serverCa` is given.
   */
  serverFingerprint?: string;
  /** PEM CA certificate that signed the server's certificate (alternative to `serverFingerprint`). */
  serverCa?: string;
}

/** The default snap socket and the default package socket, in the order LXD's client tries them. */
const SNAP_SOCKET = "/var/snap/lxd/common/lxd/unix.socket";
const PACKAGE_SOCKET = "/var/lib/lxd/unix.socket";
/** Incus's run-time socket (newer packages) and its state-directory socket, in the order Incus's client tries them. */
const INCUS_RUN_SOCKET = "/run/incus/unix.socket";
const INCUS_SOCKET = "/var/lib/incus/unix.socket";

/**
 * The local socket the way the server's own client finds it.
 * - LXD (default): `LXD_SOCKET`, else `$LXD_DIR/unix.socket`, else the snap's socket if it exists, else
 *   `/var/lib/lxd/unix.socket`.
 * - Incus: `INCUS_SOCKET`, else `$INCUS_DIR/unix.socket`, else `/run/incus/unix.socket` if it exists, else
 *   `/var/lib/incus/unix.socket`.
 */
export function findLocalSocket(env: NodeJS.ProcessEnv = process.env, server: ServerKind = "lxd"): string {
  if (server === "incus") {
    if (env.INCUS_SOCKET) return env.INCUS_SOCKET;
    if (env.INCUS_DIR) return `${env.INCUS_DIR.replace(/\/+$/, "")}/unix.socket`;
    if (fs.existsSync(INCUS_RUN_SOCKET)) return INCUS_RUN_SOCKET;
    return INCUS_SOCKET;
  }
  if (env.LXD_SOCKET) return env.LXD_SOCKET;
  if (env.LXD_DIR) return `${env.LXD_DIR.replace(/\/+$/, "")}/unix.socket`;
  if (fs.existsSync(SNAP_SOCKET)) return SNAP_SOCKET;
  return PACKAGE_SOCKET;
}

/**
 * Normalises a SHA-256 fingerprint to 64 lower-case hex digits.
 * @throws Error naming `field` when it is not 32 bytes of hex (colons allowed).
 */
export function normalizeFingerprint(value: string, field = "serverFingerprint"): string {
  const hex = value.replace(/:/g, "").trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new Error(`${field} must be a SHA-256 fingerprint (64 hex digits, colons allowed), but "${value}" was provided`);
  }
  return hex;
}

/** SHA-256 fingerprint (lower-case hex) of a PEM certificate, as LXD computes it. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase();
}

/** An open transport: the undici dispatcher and the origin to put in front of every path. */
export interface Transport {
  dispatcher: Dispatcher;
  origin: string;
  /** Human description for messages: the socket path or the URL (never a credential). */
  endpoint: string;
}

/**
 * Opens a transport for `conn`.
 * @throws Error for an HTTPS URL without a pinned fingerprint or CA, or a malformed URL or fingerprint.
 */
export function openTransport(conn: LxdConnection): Transport {
  if (!conn.url) {
    const socketPath = conn.socketPath ?? findLocalSocket(process.env, conn.server);
    return {
      dispatcher: new Agent({ connect: { socketPath }, headersTimeout: 0, bodyTimeout: 0 }),
      origin: "http://lxd",
      endpoint: `unix:${socketPath}`,
    };
  }
  let url: URL;
  try {
    url = new URL(conn.url);
  } catch {
    throw new Error(`url must be https://host[:port], but "${conn.url}" was provided`);
  }
  if (url.protocol !== "https:") throw new Error(`url must use https://, but "${conn.url}" was provided`);
  if (!conn.serverFingerprint && !conn.serverCa) {
    throw new Error(
      `serverFingerprint is required for the HTTPS remote ${url.origin}: pin the server certificate's SHA-256 ` +
        `fingerprint (lxc info | grep certificate_fingerprint) or give serverCa; certificates are never accepted unchecked`,
    );
  }
  const port = url.port || "8443";
  const origin = `https://${url.hostname.includes(":") ? `[${url.hostname}]` : url.hostname}:${port}`;
  return {
    dispatcher: new Agent({ connect: pinnedConnector(conn), headersTimeout: 0, bodyTimeout: 0 }),
    origin,
    endpoint: origin,
  };
}

/**
 * A TLS connector that hands the socket to undici only after the server's certificate matched the pinned
 * fingerprint (or the CA), so not one byte of a request, and no credential, reaches an impostor.
 */
function pinnedConnector(conn: LxdConnection): buildConnector.connector {
  const pinned = conn.serverFingerprint ? normalizeFingerprint(conn.serverFingerprint) : undefined;
  return (opts, callback) => {
    const host = opts.hostname.replace(/^\[|\]$/g, "");
    const socket = tls.connect({
      host,
      port: Number(opts.port || 8443),
      servername: net.isIP(host) ? undefined : host,
      cert: conn.clientCert,
      key: conn.clientKey,
      ca: conn.serverCa,
      // Chain validation is replaced by the fingerprint pin below (LXD's certificates are self-signed);
      // with a CA and no pin, Node's own verification decides.
      rejectUnauthorized: pinned === undefined,
      ALPNProtocols: ["http/1.1"],
    });
    let settled = false;
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      if (err) {
        socket.destroy();
        callback(err, null);
      } else {
        callback(null, socket);
      }
    };
    socket.once("secureConnect", () => {
      if (pinned === undefined) return settle(null);
      const presented = socket.getPeerCertificate().fingerprint256?.replace(/:/g, "").toLowerCase() ?? "";
      if (presented !== pinned) {
        return settle(
          new Error(
            `server certificate fingerprint mismatch for ${host}:${opts.port}: expected ${pinned}, ` +
              `the server presented ${presented || "no certificate"}; nothing was sent`,
          ),
        );
      }
      settle(null);
    });
    socket.once("error", (err) => settle(err));
  };
}

/** Wraps a failure that happened before LXD answered into an LxdError with status 0. */
export function transportError(method: string, path: string, endpoint: string, cause: unknown): LxdError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new LxdError({
    status: 0, lxdMessage: "", method, path, cause,
    message: `Cannot reach LXD at ${endpoint} (${method} ${path}): ${why}`,
  });
}
