/**
 * Which LXD a resource talks to, resolved inside the provider host at run time:
 * the resource's own `connection` input, else stack config (`lxd:*`), else environment, else the local socket.
 *
 * | source        | keys                                                                                       |
 * |---------------|--------------------------------------------------------------------------------------------|
 * | resource      | `connection: {socketPath | remote | url, clientCert, clientKeyFile, serverFingerprint | serverCa}` |
 * | stack config  | `lxd:url`, `lxd:clientCert`, `lxd:clientKey` (secret), `lxd:serverFingerprint`, `lxd:serverCa`, `lxd:socketPath` |
 * | environment   | `LXD_URL`, `LXD_CLIENT_CERT`, `LXD_CLIENT_KEY`, `LXD_SERVER_FINGERPRINT`, `LXD_SERVER_CA` (PEM text or a file path), `LXD_SOCKET`, `LXD_DIR` |
 *
 * Credentials are read where the provider runs and never captured in the serialized provider.
 */
import * as fs from "node:fs";
import { z } from "zod";
import { LxdClient, type LxdConnection } from "./lxd";

/** Stack config as the dynamic-provider host hands it to `configure`. */
export interface ProviderConfig {
  get(key: string): string | undefined;
}

/**
 * The `connection` input of every resource: which LXD to use. It holds no secret: a client key is never given
 * inline (it would be stored in the state); it comes from a file, a named remote in stack config, or `lxd:clientKey`.
 */
export interface ConnectionArgs {
  /** Path of LXD's unix socket on the machine running Pulumi. */
  socketPath?: string;
  /**
   * Name of a remote in stack config `lxd:remotes` (an object: name → `{url, clientCert, clientKey,
   * serverFingerprint, serverCa}`; set it as a secret, e.g.
   * `pulumi config set --secret --path 'lxd:remotes.prod.clientKey' "$(cat client.key)"`).
   * Fields given here next to `remote` override the remote's.
   */
  remote?: string;
  /** `https://host[:port]` of a remote LXD (port default 8443). */
  url?: string;
  /** Client certificate: PEM text or a file path. */
  clientCert?: string;
  /** Path of the client key file on the machine running Pulumi (the key itself never enters the state). */
  clientKeyFile?: string;
  /** SHA-256 fingerprint of the server certificate (64 hex digits; colons and case ignored). Required with `url` unless `serverCa`. */
  serverFingerprint?: string;
  /** CA certificate (PEM text or file path) that signed the server certificate, instead of a fingerprint. */
  serverCa?: string;
}

/** The `connection` input schema, shared by every resource. */
export function connectionSchema() {
  return z
    .object({
      socketPath: z.string().min(1).optional(),
      remote: z.string().regex(/^[A-Za-z0-9_.-]+$/, "must be the name of a remote in stack config lxd:remotes").optional(),
      url: z.string().regex(/^https:\/\/[^/\s]+\/?$/, "must be https://host[:port]").optional(),
      clientCert: z.string().min(1).optional(),
      clientKeyFile: z.string().min(1).optional(),
      clientKey: z.unknown().optional(),
      serverFingerprint: z
        .string()
        .transform((v) => v.replace(/:/g, "").toLowerCase())
        .pipe(z.string().regex(/^[0-9a-f]{64}$/, "must be a SHA-256 fingerprint: 64 hex digits, colons allowed"))
        .optional(),
      serverCa: z.string().min(1).optional(),
    })
    .strict()
    .superRefine((c, ctx) => {
      if (c.clientKey !== undefined) {
        ctx.addIssue({ code: "custom", path: ["clientKey"], message: "must not be given inline: it would be stored in the state. Use clientKeyFile, a named remote (stack config lxd:remotes), or stack config lxd:clientKey" });
      }
      if (c.url && !c.remote && !c.serverFingerprint && !c.serverCa) {
        ctx.addIssue({ code: "custom", path: ["serverFingerprint"], message: "is required with url (pin the server certificate; certificates are never accepted unchecked)" });
      }
      if (c.url && !c.remote && c.clientKey === undefined) {
        if (!c.clientCert) ctx.addIssue({ code: "custom", path: ["clientCert"], message: "is required with url (PEM text or a file path)" });
        if (!c.clientKeyFile) ctx.addIssue({ code: "custom", path: ["clientKeyFile"], message: "is required with url (path of the client key file)" });
      }
    })
    .transform(({ clientKey: _k, ...rest }) => rest);
}

/** What tells two connections apart for diff: a change of server forces replacement, a change of credentials does not. */
export function connectionTarget(c: ConnectionArgs | undefined): string {
  return c?.remote ? `remote:${c.remote}` : c?.url ?? c?.socketPath ?? "";
}

/** A PEM value given either inline or as a path to a file. */
function pem(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (value.includes("-----BEGIN")) return value;
  return fs.readFileSync(value, "utf8");
}

/** Looks up a named remote in stack config `lxd:remotes` (a JSON object). */
function namedRemote(name: string, config?: ProviderConfig): Record<string, string> {
  const raw = config?.get("lxd:remotes");
  let remotes: Record<string, Record<string, string>> = {};
  try {
    remotes = raw ? JSON.parse(raw) : {};
  } catch {
    throw new Error("stack config lxd:remotes must be an object of remotes (set it with pulumi config set --path 'lxd:remotes.<name>.url' …)");
  }
  const r = remotes[name];
  if (!r) throw new Error(`connection.remote "${name}" is not in stack config lxd:remotes (known: ${Object.keys(remotes).join(", ") || "none"})`);
  return r;
}

/** Resolves the effective connection for a resource (input, then stack config, then environment, then local socket). */
export function resolveConnection(input: ConnectionArgs | undefined, config?: ProviderConfig, env: NodeJS.ProcessEnv = process.env): LxdConnection {
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

const clients = new Map<string, LxdClient>();

/**
 * One client per distinct connection in this provider process, so that keep-alive connections and
 * server facts are shared by all resources (the host process lives for one deployment).
 */
export function clientFor(input: ConnectionArgs | undefined, config?: ProviderConfig): LxdClient {
  const conn = resolveConnection(input, config);
  const key = JSON.stringify([conn.socketPath, conn.url, conn.clientCert, conn.clientKey, conn.serverFingerprint, conn.serverCa]);
  let c = clients.get(key);
  if (!c) {
    c = new LxdClient(conn);
    clients.set(key, c);
  }
  return c;
}
