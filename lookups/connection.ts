/**
 * Which LXD a look-up reads, resolved in the program exactly as the provider host resolves it for a resource
 * (provider/kit/connection.ts `clientFor`): the look-up's `connection` argument, else stack config `lxd:*`
 * (read here with `new pulumi.Config("lxd")`), else the environment (`LXD_URL`, …), else the local socket.
 *
 * Look-ups run in the program, so unlike the resource classes they load the REST client (lazily, at the first
 * look-up). No credential leaves this module: results never carry the connection, and every error message is
 * stripped of the client key and certificate values it could know of.
 */
import * as pulumi from "@pulumi/pulumi";
import type { LxdClient } from "../provider/lxd";
import { LxdError } from "../provider/lxd/errors";
import type { ProviderConfig } from "../provider/kit/connection";
import { connectionSchema, type ConnectionArgs } from "../provider/rules/connection";

/** Stack config `lxd:*` in the shape the kit reads (`get("lxd:url")`), from the program's own config. */
export function stackConfig(): ProviderConfig {
  const cfg = new pulumi.Config("lxd");
  return { get: (key) => (key.startsWith("lxd:") ? cfg.get(key.slice("lxd:".length)) : undefined) };
}

/**
 * The client for a look-up's `connection` (validated with the resources' own schema, so an inline `clientKey` or a
 * URL without a pinned server certificate is refused the same way).
 * @throws Error `connection.<field> must …, but … was provided`, or why the connection cannot be resolved
 *   (an unknown remote, an unreadable certificate file), credentials removed.
 */
export async function lookupClient(connection: ConnectionArgs | undefined): Promise<LxdClient> {
  const parsed = connectionSchema().safeParse(connection ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = ["connection", ...issue.path.map(String)].join(".");
    // Never echo the value of a credential field.
    const value = issue.path[0] === "clientKey" ? "a value" : JSON.stringify(valueAt(connection, issue.path));
    throw new Error(`${field} ${issue.message}, but ${value ?? "nothing"} was provided`);
  }
  const config = stackConfig();
  try {
    const { clientFor } = await import("../provider/kit/connection");
    return clientFor(parsed.data, config);
  } catch (err) {
    throw redacted(err, config);
  }
}

function valueAt(v: unknown, path: PropertyKey[]): unknown {
  let cur = v;
  for (const k of path) cur = cur && typeof cur === "object" ? (cur as Record<PropertyKey, unknown>)[k] : undefined;
  return cur;
}

/** Every credential value this process could hand to a client: stack config, named remotes, environment. */
function credentialValues(config: ProviderConfig): string[] {
  const out: (string | undefined)[] = [
    config.get("lxd:clientKey"), config.get("lxd:clientCert"), process.env.LXD_CLIENT_KEY, process.env.LXD_CLIENT_CERT,
  ];
  try {
    const remotes = JSON.parse(config.get("lxd:remotes") ?? "{}") as Record<string, Record<string, unknown>>;
    for (const r of Object.values(remotes ?? {})) {
      if (r && typeof r === "object") out.push(r.clientKey as string | undefined, r.clientCert as string | undefined);
    }
  } catch {
    // An unparsable lxd:remotes is reported by the kit; nothing more to collect.
  }
  const values: string[] = [];
  for (const v of out) {
    // A file path (a certificate or key given by path) is no secret and helps the reader: kept.
    if (typeof v !== "string" || v.length < 8 || /^(\/|\.{1,2}\/|~\/)\S*$/.test(v)) continue;
    values.push(v);
    // A PEM value: each body line too, so a partial echo is caught.
    for (const line of v.split(/\r?\n/)) if (line.length >= 16 && !line.startsWith("-----")) values.push(line);
  }
  return values.sort((a, b) => b.length - a.length);
}

/** `text` with every known credential value replaced by `[redacted]`. */
export function redact(text: string, config: ProviderConfig = stackConfig()): string {
  let s = text;
  for (const v of credentialValues(config)) s = s.split(v).join("[redacted]");
  return s;
}

/**
 * An error safe to show: its message redacted; an LxdError stays an LxdError with its status (so `isNotFound` still
 * answers), its LXD text redacted too; causes are dropped (a transport failure's cause could quote a credential).
 */
export function redacted(err: unknown, config: ProviderConfig = stackConfig()): Error {
  // Not `instanceof Error`: errors from Node's core (fs, tls) may come from another realm (a test runner's vm).
  const text = err && typeof (err as { message?: unknown }).message === "string" ? (err as Error).message : String(err);
  const message = redact(text, config);
  if (err instanceof LxdError) {
    return new LxdError({ status: err.status, lxdMessage: redact(err.lxdMessage, config), method: err.method, path: err.path, message });
  }
  return new Error(message);
}
