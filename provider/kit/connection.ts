/**
 * Which LXD a resource talks to, resolved inside the provider host at run time:
 * the resource's own `connection` input, else stack config (`lxd:*`), else environment, else the local socket.
 *
 * | source        | keys                                                                                       |
 * |---------------|--------------------------------------------------------------------------------------------|
 * | resource      | `connection: {socketPath | remote | url, server, clientCert, clientKeyFile, serverFingerprint | serverCa}` |
 * | stack config  | `lxd:url`, `lxd:clientCert`, `lxd:clientKey` (secret), `lxd:serverFingerprint`, `lxd:serverCa`, `lxd:socketPath`, `lxd:server`, `lxd:remotes` |
 * | environment   | `LXD_URL`, `LXD_CLIENT_CERT`, `LXD_CLIENT_KEY`, `LXD_SERVER_FINGERPRINT`, `LXD_SERVER_CA` (PEM text or a file path), `LXD_SOCKET`, `LXD_DIR`; for Incus's local socket `INCUS_SOCKET`, `INCUS_DIR` |
 *
 * `server` (`"lxd"` | `"incus"`) names the daemon a connection must reach: without a socket path or URL it picks
 * that server's local socket, and the client checks it against GET /1.0 `environment.server` before anything else.
 * A resource's `connection` without `server` (and without `remote`, `url`, `socketPath`) takes stack config
 * `lxd:server`, so one stack config line moves every resource of a stack to the local Incus.
 *
 * Credentials are read where the provider runs and never captured in the serialized provider.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { findLocalSocket, LxdClient, type LxdConnection, type ServerKind } from "../lxd";
import type { ConnectionArgs } from "../rules/connection";

/** Stack config as the dynamic-provider host hands it to `configure`. */
export interface ProviderConfig {
  get(key: string): string | undefined;
}

/** A PEM value given either inline or as a path to a file. */
function pem(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (value.includes("-----BEGIN")) return value;
  return fs.readFileSync(value, "utf8");
}

function remotesOf(config?: ProviderConfig): Record<string, Record<string, string>> {
  const raw = config?.get("lxd:remotes");
  try {
    return raw ? JSON.parse(raw) : {};
  } catch {
    throw new Error("stack config lxd:remotes must be an object of remotes (set it with pulumi config set --path 'lxd:remotes.<name>.url' …)");
  }
}

/**
 * The reason a named remote cannot be used, or undefined when stack config has it. Called at check, so a typo
 * fails the preview: the provider is configured before check.
 */
export function unknownRemote(name: string, config?: ProviderConfig): string | undefined {
  const remotes = remotesOf(config);
  if (remotes[name]) return undefined;
  return `connection.remote "${name}" is not in stack config lxd:remotes (known: ${Object.keys(remotes).join(", ") || "none"}); add it with pulumi config set --path 'lxd:remotes.${name}.url' …`;
}

/** Looks up a named remote in stack config `lxd:remotes`. */
function namedRemote(name: string, config?: ProviderConfig): Record<string, string> {
  const why = unknownRemote(name, config);
  if (why) throw new Error(why);
  return remotesOf(config)[name];
}

/**
 * The server kind a connection names: its own `server`, a named remote's `server`, else (for a connection that
 * names no socket, URL or remote) stack config `lxd:server`.
 * @throws Error when stack config `lxd:server` is neither `lxd` nor `incus`.
 */
export function namedServerKind(input: ConnectionArgs | undefined, config?: ProviderConfig): ServerKind | undefined {
  if (input?.server) return input.server;
  if (input?.remote) {
    const r = remotesOf(config)[input.remote]?.server;
    if (r === "lxd" || r === "incus") return r;
  }
  if (input?.socketPath || input?.url || input?.remote) return undefined;
  const fromConfig = config?.get("lxd:server");
  if (fromConfig === undefined || fromConfig === "") return undefined;
  if (fromConfig !== "lxd" && fromConfig !== "incus") throw new Error(`stack config lxd:server must be "lxd" or "incus", but "${fromConfig}" was provided`);
  return fromConfig;
}

function withoutServer(input: ConnectionArgs | undefined): ConnectionArgs | undefined {
  if (!input) return input;
  const { server: _s, ...rest } = input;
  return rest;
}

/** Resolves the effective connection for a resource (input, then stack config, then environment, then local socket). */
export function resolveConnection(input: ConnectionArgs | undefined, config?: ProviderConfig, env: NodeJS.ProcessEnv = process.env): LxdConnection {
  const server = namedServerKind(input, config);
  const conn = resolveEndpoint(withoutServer(input), config, env);
  return server ? { ...conn, server } : conn;
}

function resolveEndpoint(input: ConnectionArgs | undefined, config: ProviderConfig | undefined, env: NodeJS.ProcessEnv): LxdConnection {
  if (input && Object.keys(input).length > 0) {
    const base = input.remote ? namedRemote(input.remote, config) : {};
    const pick = (k: keyof ConnectionArgs) => (input[k] as string | undefined) ?? base[k];
    return {
      socketPath: pick("socketPath"),
      url: pick("url"),
      clientCert: pem(pick("clientCert")),
      clientKey: input.clientKeyFile ? fs.readFileSync(input.clientKeyFile, "utf8") : pem(base.clientKey),
      serverFingerprint: pick("serverFingerprint"),
      serverCa: pem(pick("serverCa")),
    };
  }
  const fromConfig = (k: string) => config?.get(`lxd:${k}`);
  const url = fromConfig("url") ?? env.LXD_URL;
  if (url) {
    return {
      url,
      clientCert: pem(fromConfig("clientCert") ?? env.LXD_CLIENT_CERT),
      clientKey: pem(fromConfig("clientKey") ?? env.LXD_CLIENT_KEY),
      serverFingerprint: fromConfig("serverFingerprint") ?? env.LXD_SERVER_FINGERPRINT,
      serverCa: pem(fromConfig("serverCa") ?? env.LXD_SERVER_CA),
    };
  }
  const socketPath = fromConfig("socketPath");
  return socketPath ? { socketPath } : {};
}

/** `https://host:port` with the default port 8443 written out, lower-case host, no trailing slash. */
function canonicalUrl(u: string): string {
  try {
    const p = new URL(u);
    return `https://${p.hostname.toLowerCase()}:${p.port || "8443"}`;
  } catch {
    return u;
  }
}

function canonicalSocket(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    return abs;
  }
}

/**
 * The server a connection reaches, as one comparable string: `unix:<real socket path>` or `https://host:port`.
 * Credentials do not count: another client certificate for the same server is the same server. A named remote
 * counts as its URL when stack config has it. Used by diff: only another server forces replacement.
 */
export function serverIdentity(input: ConnectionArgs | undefined, config?: ProviderConfig, env: NodeJS.ProcessEnv = process.env): string {
  let kind: ServerKind | undefined;
  try {
    kind = namedServerKind(input, config);
  } catch {
    kind = undefined;
  }
  input = withoutServer(input);
  let url = input?.url;
  let socketPath = input?.socketPath;
  if (input?.remote) {
    const r = remotesOf(config)[input.remote];
    if (!r) return `remote:${input.remote}`;
    url ??= r.url;
    socketPath ??= r.socketPath;
  }
  if (!input || Object.keys(input).length === 0) {
    url = config?.get("lxd:url") ?? env.LXD_URL;
    socketPath = config?.get("lxd:socketPath");
  }
  if (url) return canonicalUrl(url);
  return `unix:${canonicalSocket(socketPath ?? findLocalSocket(env, kind))}`;
}

const clients = new Map<string, LxdClient>();

/**
 * One client per distinct connection in this provider process, so that keep-alive connections and
 * server facts are shared by all resources (the host process lives for one deployment).
 */
export function clientFor(input: ConnectionArgs | undefined, config?: ProviderConfig): LxdClient {
  const conn = resolveConnection(input, config);
  const key = JSON.stringify([conn.socketPath, conn.url, conn.server, conn.clientCert, conn.clientKey, conn.serverFingerprint, conn.serverCa]);
  let c = clients.get(key);
  if (!c) {
    c = new LxdClient(conn);
    clients.set(key, c);
  }
  return c;
}
