/**
 * The `connection` input every resource and component takes: which LXD to use. Only the shape and its schema
 * live here (loaded by programs too); resolving it to a client happens in the provider host (kit/connection).
 */
import { z } from "zod";

/**
 * Which LXD a resource talks to. It holds no secret: a client key is never given inline (it would be stored in
 * the state); it comes from a file, a named remote in stack config, or stack config `lxd:clientKey`.
 * Two connections that reach the same server (the default socket written out, a URL with or without the
 * default port 8443) are the same server: no diff, no replacement. Another server forces replacement.
 */
export interface ConnectionArgs {
  /**
   * Path of the daemon's unix socket on the machine running Pulumi. Default: found as the server's own client
   * finds it: LXD's (`LXD_SOCKET`, `$LXD_DIR/unix.socket`, the snap's, `/var/lib/lxd/unix.socket`), or with
   * `server: "incus"` Incus's (`INCUS_SOCKET`, `$INCUS_DIR/unix.socket`, `/run/incus/unix.socket`,
   * `/var/lib/incus/unix.socket`).
   */
  socketPath?: string;
  /**
   * Which daemon this connection must reach: `"lxd"` or `"incus"` (LXD's community fork). Checked against the
   * server's own answer (GET /1.0 `environment.server`) before anything else is sent; another kind is an error.
   * Without `socketPath`/`url` it also picks that server's local socket. Default: stack config `lxd:server`,
   * else whatever answers (the local LXD socket when nothing else is given).
   */
  server?: "lxd" | "incus";
  /**
   * Name of a remote in stack config `lxd:remotes` (an object: name → `{url, clientCert, clientKey,
   * serverFingerprint, serverCa}`; set it as a secret, e.g.
   * `pulumi config set --secret --path 'lxd:remotes.prod.clientKey' "$(cat client.key)"`).
   * Fields given here next to `remote` override the remote's. A name not in stack config fails at preview.
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
      server: z.enum(["lxd", "incus"]).optional(),
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
