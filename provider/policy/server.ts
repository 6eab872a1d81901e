/**
 * The hardening rules for a server's own config and its trust store (ServerSettings, TrustCertificate,
 * TrustToken). The rules are rows of the one policy table, `POLICY` (./table.ts: the rows `on: "server config"` and
 * `on: "trust"`); as for instances, a finding names a class that is refused unless listed in the resource's
 * `securityOptOuts`, and an accepted finding is reported (a `warnings` output and a log warning).
 * Pure functions: loaded by the provider host and by programs.
 *
 * Classes:
 * - `wildcard-bind`: a listener key (`core.https_address`, `core.metrics_address`, `core.debug_address`) bound
 *   to every address of the host (`[::]:8443`, `0.0.0.0`, `:8443`, `[::]`): the API is reachable on every
 *   interface, present and future. Name the address the clients reach instead.
 * - `trust-password`: `core.trust_password` set: anyone who learns one shared password gets a certificate
 *   trusted (with full control). Issue a TrustToken per client, or add its certificate (TrustCertificate).
 * - `unrestricted`: a trust certificate or token with `restricted: false`: full control of the server (every
 *   project, the server config, root on the host through privileged instances).
 *
 * Warnings without a class (never refused): a listener bound to a host name (it binds whatever the name
 * resolves to when LXD starts), `core.debug_address` off loopback (pprof without authentication),
 * `core.metrics_authentication=false` (metrics without a certificate).
 */
import type { ConfigMap } from "../lxd/types";
import { bindKind, LISTENER_KEYS } from "./address";
import { POLICY, ruleOf, type ServerConfigRow, type TrustRow } from "./table";
import { hasLineBreak, isFalse, isTrue, PREVIEW_UNKNOWN } from "./values";

export { LISTENER_KEYS, splitAddress, bindKind, type BindKind } from "./address";

/** Classes of server settings `ServerSettings.securityOptOuts` can accept. */
export const SERVER_OPT_OUTS = ["wildcard-bind", "trust-password"] as const;
export type ServerOptOut = (typeof SERVER_OPT_OUTS)[number];
/** Classes `TrustCertificate.securityOptOuts` and `TrustToken.securityOptOuts` can accept. */
export const TRUST_OPT_OUTS = ["unrestricted"] as const;
export type TrustOptOut = (typeof TRUST_OPT_OUTS)[number];

/** One server or trust setting that weakens the server's protection. */
export interface ServerFinding {
  class: ServerOptOut | TrustOptOut;
  /** `config.<key>` or the input (`restricted`). */
  key: string;
  /** The judged value (never for `core.trust_password`). */
  value?: string;
  reason: string;
  /** The row of `POLICY` that found it (its `rule` text, as `policyRows()` lists it). */
  rule?: string;
}

/** Server keys holding a `host[:port]` address (listeners, and the cluster and BGP addresses). */
export const ADDRESS_KEYS = [...LISTENER_KEYS, "cluster.https_address", "core.bgp_address", "core.dns_address", "core.storage_buckets_address"] as const;
/** Server keys whose value is a whole number (seconds, hours, days as LXD documents each). */
export const INTEGER_KEYS = ["images.auto_update_interval", "images.remote_cache_expiry", "core.bgp_asn", "core.remote_token_expiry_hours"] as const;
/**
 * Write-only server keys: LXD never returns their value (`core.trust_password` reads back as the JSON boolean
 * `true` when set, measured on LXD 5.0.2), so their previous value cannot be restored.
 */
export const WRITE_ONLY_SERVER_KEYS = ["core.trust_password"] as const;

/**
 * Shape checks on server config values, before any call to LXD (LXD validates the rest): no line breaks,
 * addresses that parse, whole numbers where LXD wants them.
 * @returns `<key> must be …, but <value> was provided` messages, keyed by config key.
 */
export function serverConfigShapeErrors(config: ConfigMap): { key: string; reason: string }[] {
  const out: { key: string; reason: string }[] = [];
  for (const [k, v] of Object.entries(config)) {
    if (v === PREVIEW_UNKNOWN || v === "") continue;
    const shown = k === "core.trust_password" ? "(hidden)" : JSON.stringify(v);
    if (hasLineBreak(v)) out.push({ key: k, reason: `config.${k} must be a single line, but ${k === "core.trust_password" ? "a value with a line break" : shown} was provided` });
    else if ((ADDRESS_KEYS as readonly string[]).includes(k) && bindKind(v) === "invalid") {
      out.push({ key: k, reason: `config.${k} must be an address [host][:port] (e.g. 127.0.0.1:8443, [::1]:8443, lxd.example.net:8443), but ${shown} was provided` });
    } else if ((INTEGER_KEYS as readonly string[]).includes(k) && !/^\d+$/.test(v)) {
      out.push({ key: k, reason: `config.${k} must be a whole number, but ${shown} was provided` });
    }
  }
  return out;
}

/** The server rows of `POLICY` (./table.ts). */
const SERVER_ROWS = () => POLICY.filter((r): r is ServerConfigRow => r.on === "server config");
const TRUST_ROWS = () => POLICY.filter((r): r is TrustRow => r.on === "trust");
const isWriteOnlyKey = (k: string) => (WRITE_ONLY_SERVER_KEYS as readonly string[]).includes(k);

/**
 * The findings of a server config: every `server config` row of `POLICY` (./table.ts) judges the keys it names
 * (classes `wildcard-bind`, `trust-password`); unknowns and "" are never judged, and a write-only key's value is
 * never shown.
 */
export function judgeServerConfig(config: ConfigMap): ServerFinding[] {
  const out: ServerFinding[] = [];
  for (const row of SERVER_ROWS()) {
    for (const k of row.keys) {
      const v = config[k];
      if (v === undefined || v === "" || v === PREVIEW_UNKNOWN || !row.weakens(v, k)) continue;
      out.push({ class: row.class, key: `config.${k}`, ...(isWriteOnlyKey(k) ? {} : { value: v }), reason: row.reason, rule: ruleOf(row) });
    }
  }
  return out;
}

/** The finding of an unrestricted trust certificate or token (`restricted: false`, the `trust` row of `POLICY`), if any. */
export function judgeTrust(restricted: boolean | string): ServerFinding[] {
  return TRUST_ROWS().filter((row) => row.weakens(restricted)).map((row) => ({ class: row.class, key: row.input, value: String(restricted), reason: row.reason, rule: ruleOf(row) }));
}

/** Warnings without a class (never refused) for a server config. */
export function serverConfigNotes(config: ConfigMap): string[] {
  const out: string[] = [];
  for (const k of LISTENER_KEYS) {
    const v = config[k];
    if (v === undefined || v === "" || v === PREVIEW_UNKNOWN) continue;
    const kind = bindKind(v);
    if (kind === "hostname") out.push(`config.${k}=${v} binds a host name: LXD listens on whatever it resolves to when the daemon starts; name the IP address instead`);
    if (k === "core.debug_address" && kind !== "loopback") out.push(`config.${k}=${v} serves Go's pprof debug endpoints without authentication off loopback`);
  }
  if (isFalse(config["core.metrics_authentication"])) out.push("config.core.metrics_authentication=false serves /1.0/metrics without a client certificate");
  const origin = config["core.https_allowed_origin"];
  if (origin !== undefined && origin !== PREVIEW_UNKNOWN && origin.trim() === "*" && isTrue(config["core.https_allowed_credentials"])) {
    out.push("config.core.https_allowed_origin=* with core.https_allowed_credentials=true lets any web page a trusted user opens call the API with that user's browser certificate; name the origin instead");
  }
  return out;
}

/** The refusal message of a finding, naming the key, the reason and the opt-out. */
export function serverRefusal(f: ServerFinding): string {
  const what = f.value !== undefined && f.key.startsWith("config.") ? `${f.key}=${f.value}` : f.key === "restricted" ? "restricted: false" : f.key;
  return `${what} weakens the server's protection: ${f.reason}. It is refused by the hardened defaults; to accept it, add "${f.class}" to securityOptOuts`;
}

/** The warning of an accepted (opted-out) finding. */
export function serverWarning(f: ServerFinding): string {
  const what = f.value !== undefined && f.key.startsWith("config.") ? `${f.key}=${f.value}` : f.key === "restricted" ? "restricted: false" : f.key;
  return `${what} weakens the server's protection (${f.class}, opted out): ${f.reason}`;
}

/**
 * Judges findings against opt-outs: refused findings (to fail check with), and the warnings to report
 * (accepted findings, then the class-less notes).
 */
export function applyServerOptOuts(findings: ServerFinding[], optOuts: readonly string[], notes: string[] = []): { refused: ServerFinding[]; warnings: string[] } {
  const refused = findings.filter((f) => !optOuts.includes(f.class));
  const warnings = [...findings.filter((f) => optOuts.includes(f.class)).map(serverWarning), ...notes];
  return { refused, warnings };
}
