/**
 * Which LXD a resource talks to, resolved inside the provider host at run time:
 * the resource's own `connection` input, else stack config (`lxd:*`), else environment, else the local socket.
 *
 * | source        | keys                                                                                       |
 * |---------------|--------------------------------------------------------------------------------------------|
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

/** The `connection` input shape, shared by every resource. */
export function connectionSchema() {
  return z
    .object({
      socketPath: z.string().min(1).optional(),
      url: z.string().regex(/^https:\/\/[^/\s]+\/?$/, "must be https://host[:port]").optional(),
      clientCert: z.string().min(1).optional(),
      clientKey: z.string().min(1).optional(),
      serverFingerprint: z
        .string()
        .transform((v) => v.replace(/:/g, "").toLowerCase())
        .pipe(z.string().regex(/^[0-9a-f]{64}$/, "must be a SHA-256 fingerprint: 64 hex digits, colons allowed"))
        .optional(),
      serverCa: z.string().min(1).optional(),
    })
    .strict()
    .superRefine((c, ctx) => {
      if (c.url && !c.serverFingerprint && !c.serverCa) {
        ctx.addIssue({ code: "custom", path: ["serverFingerprint"], message: "is required with url (pin the server certificate; certificates are never accepted unchecked)" });
      }
      if (c.url && (!c.clientCert || !c.clientKey)) {
        ctx.addIssue({ code: "custom", path: ["clientCert"], message: "clientCert and clientKey are required with url" });
      }
    });
}

/** A PEM value given either inline or as a path to a file. */
function pem(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (value.includes("-----BEGIN")) return value;
  return fs.readFileSync(value, "utf8");
}

/** Resolves the effective connection for a resource (input, then stack config, then environment, then local socket). */
export function resolveConnection(input: LxdConnection | undefined, config?: ProviderConfig, env: NodeJS.ProcessEnv = process.env): LxdConnection {
  if (input && Object.keys(input).length > 0) {
    return { ...input, clientCert: pem(input.clientCert), clientKey: pem(input.clientKey), serverCa: pem(input.serverCa) };
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
export function clientFor(input: LxdConnection | undefined, config?: ProviderConfig): LxdClient {
  const conn = resolveConnection(input, config);
  const key = JSON.stringify([conn.socketPath, conn.url, conn.clientCert, conn.clientKey, conn.serverFingerprint, conn.serverCa]);
  let c = clients.get(key);
  if (!c) {
    c = new LxdClient(conn);
    clients.set(key, c);
  }
  return c;
}
