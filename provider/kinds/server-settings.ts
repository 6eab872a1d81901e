/**
 * ServerSettings, host side: the server config keys this stack manages (`core.https_address`,
 * `images.auto_update_interval`, `core.bgp_*`, `core.metrics_address`, …), three-way: only the keys the stack
 * declares are written (PATCH /1.0 with those keys and the ETag of the read), keys set by others are left alone.
 *
 * LXD endpoints: GET /1.0 (config, ETag, server certificate fingerprint), PATCH /1.0 {config}.
 *
 * The server always exists: a ServerSettings is adopted, never created or deleted. When a key comes under
 * management, its value at that moment is recorded in `previous` ("" = unset); on destroy, and when a key is
 * dropped from `config`, that value is put back (a key unset before is unset again). `core.trust_password` is
 * write-only (LXD reads it back as `true` when set): a password set before the stack cannot be put back and is
 * then left as the stack set it (listed in `previousUnreadable`).
 *
 * Hardening: a wildcard bind of a listener key (`[::]:8443`, `0.0.0.0`, `:8443`, `[::]`) is refused unless
 * `securityOptOuts` lists `wildcard-bind`; `core.trust_password` unless it lists `trust-password`. Accepted
 * ones, a listener bound to a host name and a few more are reported in `warnings`.
 *
 * Incus has no `core.trust_password` (trust is by token only): naming it is refused at check on an Incus server,
 * opted out or not, with a message that says so (provider/rules/server-keys.ts `hasTrustPassword`).
 *
 * Only a change of server (`connection`) forces replacement. One ServerSettings per server: two of them
 * (in one stack or two) would record each other's values as "previous".
 */
import { z } from "zod";
import { getServer, LxdError, patchServerConfig, type ConfigMap } from "../lxd";
import {
  applyServerOptOuts, judgeServerConfig, SERVER_OPT_OUTS, serverConfigNotes, serverConfigShapeErrors, serverRefusal,
  WRITE_ONLY_SERVER_KEYS, type ServerOptOut,
} from "../policy";
import { configSchema } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { normalizeConfig, UNKNOWN } from "../rules/values";
import { hasTrustPassword, serverName } from "../rules/server-keys";
import { containsUnknown } from "../rules/values";
import { checkWith } from "../kit/check";
import { serverKindAtCheck } from "../kit/server-kind";
import type { Kind } from "../kit/contract";

/** Inputs after check. */
export interface ServerSettingsInputs {
  /** Unused: the server config has no name. Kept for the kit's messages. */
  name?: string;
  /** Server config keys this stack manages → value as LXD stores it ("" = keep the key unset). */
  config: ConfigMap;
  securityOptOuts: ServerOptOut[];
  connection?: ConnectionArgs;
}

/** State. */
export interface ServerSettingsOutputs extends ServerSettingsInputs {
  /** Each managed key's value before this stack managed it ("" = unset): put back on destroy. */
  previous: ConfigMap;
  /** Managed write-only keys that were set before the stack managed them (their value cannot be put back). */
  previousUnreadable: string[];
  /** SHA-256 fingerprint of the server certificate (the resource's id). */
  serverFingerprint: string;
  /** Accepted weakenings (opted out) and other notes, one sentence each. */
  warnings: string[];
}

/** What a drifted write-only key reads as when LXD has it set but the stack wants it unset. */
export const SET_OUTSIDE = "(set outside this stack)";

function schema() {
  return z
    .object({
      name: z.string().optional(),
      config: configSchema().refine((c) => Object.keys(c).length > 0, "must name at least one server key"),
      securityOptOuts: z.array(z.enum(SERVER_OPT_OUTS)).default([]),
      connection: connectionSchema().optional(),
    })
    .strict();
}

/** The LXD-only trust password key (Incus has none). */
const TRUST_PASSWORD = "core.trust_password";

const isWriteOnly = (k: string) => (WRITE_ONLY_SERVER_KEYS as readonly string[]).includes(k);

/** A live server value as a string: absent = "", LXD's `true` for a write-only key = set. */
function liveValue(live: Record<string, unknown>, k: string): string {
  const v = live[k];
  if (v === undefined || v === null || v === "") return "";
  return typeof v === "string" ? v : String(v);
}

function warningsOf(config: ConfigMap, optOuts: readonly string[]): string[] {
  return applyServerOptOuts(judgeServerConfig(config), optOuts, serverConfigNotes(config)).warnings;
}

/** The outputs from the live server config: each managed key as LXD holds it now. */
function outputsFrom(live: Record<string, unknown>, fingerprint: string, inputs: ServerSettingsInputs, previous: ConfigMap, previousUnreadable: string[]): ServerSettingsOutputs {
  const config: ConfigMap = {};
  for (const k of Object.keys(inputs.config)) {
    const v = liveValue(live, k);
    // A write-only key reads back only as "set": the stack's own value stands for it; set without the stack, it shows as drift.
    config[k] = isWriteOnly(k) && v !== "" ? inputs.config[k] || SET_OUTSIDE : v;
  }
  return {
    ...inputs,
    config,
    previous,
    previousUnreadable,
    serverFingerprint: fingerprint,
    warnings: warningsOf(config, inputs.securityOptOuts ?? []),
  } satisfies ServerSettingsOutputs;
}

/** Records the current values of keys coming under management. */
function record(live: Record<string, unknown>, keys: string[]): { previous: ConfigMap; unreadable: string[] } {
  const previous: ConfigMap = {};
  const unreadable: string[] = [];
  for (const k of keys) {
    const v = liveValue(live, k);
    if (isWriteOnly(k)) {
      previous[k] = "";
      if (v !== "") unreadable.push(k);
    } else previous[k] = v;
  }
  return { previous, unreadable };
}

/** Only the keys whose wanted value differs from LXD's (a write-only key is always written when wanted set). */
function changedKeys(live: Record<string, unknown>, want: ConfigMap): ConfigMap {
  const out: ConfigMap = {};
  for (const [k, v] of Object.entries(want)) {
    if (isWriteOnly(k) ? v !== "" || liveValue(live, k) !== "" : liveValue(live, k) !== v) out[k] = v;
  }
  return out;
}

export const serverSettingsKind: Kind<ServerSettingsInputs, ServerSettingsOutputs> = {
  noun: "server settings",
  inProject: false,
  outputKeys: ["previous", "previousUnreadable", "serverFingerprint", "warnings"],
  diffKeys: ["config", "securityOptOuts"],
  replaceKeys: [],
  idOf: (p) => p.serverFingerprint || "server",
  subject: (verb) => `${verb} the server config`,

  async check(news, { open }) {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    const unknown = (k: string) => unknownKeys.includes(k);
    const config = unknown("config") ? (UNKNOWN as never as ConfigMap) : normalizeConfig(value.config);
    // Keys only one server kind has (asked at preview; an unreachable server is left to create/update). On Incus
    // this refusal replaces the policy's (an opt-out cannot make a key exist).
    if (!unknown("config") && TRUST_PASSWORD in config) {
      const server = await serverKindAtCheck(open, unknown("connection") || containsUnknown([value.connection]));
      if (server.failure) failures.push(server.failure);
      else if (server.kind && !hasTrustPassword(server.kind)) {
        failures.push({
          property: `config.${TRUST_PASSWORD}`,
          reason: `config.${TRUST_PASSWORD} does not exist on ${serverName(server.kind)} (it trusts clients by token only: use a TrustToken), but it was provided; remove the key`,
        });
        return { failures };
      }
    }
    if (!unknown("config")) {
      for (const e of serverConfigShapeErrors(config)) failures.push({ property: `config.${e.key}`, reason: e.reason });
      if (!unknown("securityOptOuts")) {
        for (const f of applyServerOptOuts(judgeServerConfig(config), value.securityOptOuts).refused) failures.push({ property: f.key, reason: serverRefusal(f) });
      }
    }
    if (failures.length) return { failures };
    return { inputs: { ...value, name: undefined, config } };
  },

  async create({ lxd }, inputs, accepted) {
    const { value: server, etag } = await getServer(lxd);
    const live = (server.config ?? {}) as Record<string, unknown>;
    const fingerprint = server.environment?.certificate_fingerprint ?? "";
    const { previous, unreadable } = record(live, Object.keys(inputs.config));
    const send = changedKeys(live, inputs.config);
    // From here LXD may hold our values: a failure keeps what we recorded, so destroy can still put it back.
    accepted({ previous, previousUnreadable: unreadable, serverFingerprint: fingerprint, warnings: [] });
    if (Object.keys(send).length) {
      try {
        await patchServerConfig(lxd, send, etag);
      } catch (err) {
        // LXD refused the whole PATCH (a bad value, a stale ETag): nothing of ours is on the server.
        if (err instanceof LxdError && err.status >= 400 && err.status < 500) accepted(false);
        throw err;
      }
    }
    const after = (await getServer(lxd)).value;
    return outputsFrom((after.config ?? {}) as Record<string, unknown>, fingerprint, inputs, previous, unreadable);
  },

  async read({ lxd }, props) {
    const { value: server } = await getServer(lxd);
    return outputsFrom((server.config ?? {}) as Record<string, unknown>, server.environment?.certificate_fingerprint ?? props.serverFingerprint, props, props.previous ?? {}, props.previousUnreadable ?? []);
  },

  async update({ lxd }, olds, news) {
    const { value: server, etag } = await getServer(lxd);
    const live = (server.config ?? {}) as Record<string, unknown>;
    const oldKeys = Object.keys(olds.config ?? {});
    const added = Object.keys(news.config).filter((k) => !oldKeys.includes(k));
    const dropped = oldKeys.filter((k) => !(k in news.config));
    const fresh = record(live, added);
    const previous: ConfigMap = {};
    for (const k of Object.keys(news.config)) previous[k] = k in fresh.previous ? fresh.previous[k] : (olds.previous?.[k] ?? "");
    const unreadable = [...(olds.previousUnreadable ?? []).filter((k) => k in news.config), ...fresh.unreadable];
    // Dropped keys go back to what they were before the stack; a dropped write-only key set before stays as it is.
    const restore: ConfigMap = {};
    for (const k of dropped) if (!(olds.previousUnreadable ?? []).includes(k)) restore[k] = olds.previous?.[k] ?? "";
    const send = { ...changedKeys(live, restore), ...changedKeys(live, news.config) };
    if (Object.keys(send).length) await patchServerConfig(lxd, send, etag);
    const after = (await getServer(lxd)).value;
    return outputsFrom((after.config ?? {}) as Record<string, unknown>, after.environment?.certificate_fingerprint ?? olds.serverFingerprint, news, previous, unreadable);
  },

  async delete({ lxd }, props) {
    const { value: server, etag } = await getServer(lxd);
    const live = (server.config ?? {}) as Record<string, unknown>;
    const restore: ConfigMap = {};
    for (const k of Object.keys(props.config ?? {})) if (!(props.previousUnreadable ?? []).includes(k)) restore[k] = props.previous?.[k] ?? "";
    const send = changedKeys(live, restore);
    if (Object.keys(send).length) await patchServerConfig(lxd, send, etag);
  },
};
