/**
 * TrustToken, host side: a one-time join token for a named client (`lxc config trust add <name>`): whoever
 * presents it over HTTPS gets their client certificate trusted, restricted to `projects` unless
 * `restricted: false` (refused unless `securityOptOuts` lists `unrestricted`).
 *
 * LXD endpoints: POST /1.0/certificates {name, type: client, token: true, restricted, projects} (API extension
 * `certificate_token`; refused with 400 while the server does not listen on the network), GET and DELETE
 * /1.0/operations/{id}: LXD holds a token as a pending operation of class `token`, `Running` until the token is
 * used, cancelled or expires (`core.remote_token_expiry`), then `Cancelled` for a while, then gone.
 *
 * `name`, `restricted` and `projects` (and the server) force replacement (a token cannot be changed, only revoked
 * and issued again); `securityOptOuts` is updated in place (no write to LXD, the token is kept). The id is the
 * operation's id. Read reports the resource gone once the token was used, revoked or expired: the next `up`
 * issues a new one. Delete revokes a pending token (cancels its operation).
 *
 * `token` is a credential. It is returned in the wire form of a secret (see ../kit/secret.ts) and the resource
 * class lists it in `additionalSecretOutputs`: the state holds it encrypted, never in plain text.
 */
import { z } from "zod";
import { cancelOperation, createCertificateToken, encodeTrustToken, getOperation, type Operation, type TokenOperationMetadata } from "../lxd";
import { applyServerOptOuts, judgeTrust, type TrustOptOut } from "../policy";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { checkWith } from "../kit/check";
import type { Kind } from "../kit/contract";
import { wireSecret, type WireSecret } from "../kit/secret";
import { restrictionFailures, restrictionSchema } from "../kit/restriction";

/** Inputs after check. */
export interface TrustTokenInputs {
  /** The name the client's certificate gets in the trust store (the token's `client_name`). */
  name: string;
  restricted: boolean;
  projects: string[];
  securityOptOuts: TrustOptOut[];
  connection?: ConnectionArgs;
}

/** State. */
export interface TrustTokenOutputs extends TrustTokenInputs {
  /** The pending operation that holds the token: the id. */
  operationId: string;
  /** The token, base64 as `lxc config trust add` prints it. A secret (wire form). */
  token: WireSecret<string>;
  /** SHA-256 fingerprint of the server certificate, as the token carries it (the pin for first contact). */
  serverFingerprint: string;
  /** `host:port` addresses the server listens on, as the token carries them. */
  addresses: string[];
  /** RFC 3339 expiry, "" when tokens do not expire (`core.remote_token_expiry` unset). */
  expiresAt: string;
  /** Accepted weakenings (an unrestricted token). */
  warnings: string[];
}

function schema() {
  return z
    .object({
      name: z.string().min(1, "must be a non-empty name").refine((n) => !/[\r\n]/.test(n), "must be a single line"),
      ...restrictionSchema(),
      connection: connectionSchema().optional(),
    })
    .strict();
}

function outputsFrom(op: Operation, inputs: TrustTokenInputs): TrustTokenOutputs {
  const m = (op.metadata ?? {}) as unknown as TokenOperationMetadata;
  const req = m.request ?? {};
  const restricted = req.restricted ?? inputs.restricted;
  return {
    ...inputs,
    name: req.name ?? inputs.name,
    restricted,
    projects: req.projects ?? inputs.projects,
    operationId: op.id,
    token: wireSecret(encodeTrustToken({ clientName: req.name ?? inputs.name, fingerprint: m.fingerprint, addresses: m.addresses ?? [], secret: m.secret, expiresAt: m.expiresAt })),
    serverFingerprint: m.fingerprint,
    addresses: m.addresses ?? [],
    expiresAt: m.expiresAt && !m.expiresAt.startsWith("0001-01-01") ? m.expiresAt : "",
    warnings: applyServerOptOuts(judgeTrust(restricted), inputs.securityOptOuts ?? []).warnings,
  } satisfies TrustTokenOutputs;
}

/** True while the token can still be used. */
function pending(op: Operation): boolean {
  if (op.status !== "Running") return false;
  const exp = ((op.metadata ?? {}) as unknown as TokenOperationMetadata).expiresAt;
  return !exp || exp.startsWith("0001-01-01") || new Date(exp).getTime() > Date.now();
}

export const trustTokenKind: Kind<TrustTokenInputs, TrustTokenOutputs> = {
  noun: "trust token",
  inProject: false,
  outputKeys: ["operationId", "token", "serverFingerprint", "addresses", "expiresAt", "warnings"],
  diffKeys: ["name", "restricted", "projects", "securityOptOuts"],
  replaceKeys: ["name", "restricted", "projects"],
  idOf: (p) => p.operationId ?? p.name,
  subject: (verb, p) => `${verb} trust token for "${p.name}"`,

  async check(news) {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    failures.push(...restrictionFailures(value, (k) => unknownKeys.includes(k)));
    if (failures.length) return { failures };
    return { inputs: value };
  },

  async create({ lxd }, inputs, accepted) {
    const op = await createCertificateToken(lxd, { name: inputs.name, restricted: inputs.restricted, projects: inputs.projects });
    accepted({ operationId: op.id });
    return outputsFrom(op, inputs);
  },

  async read({ lxd }, props) {
    const op = await getOperation(lxd, props.operationId);
    return pending(op) ? outputsFrom(op, props) : undefined;
  },

  async update({ lxd }, olds, news) {
    // Only opt-outs or credentials changed (everything else replaces): the token stays.
    return outputsFrom(await getOperation(lxd, olds.operationId), { ...news, name: olds.name, restricted: olds.restricted, projects: olds.projects });
  },

  async delete({ lxd }, props) {
    if (!props.operationId) return;
    const op = await getOperation(lxd, props.operationId);
    if (op.status === "Running") await cancelOperation(lxd, props.operationId);
  },
};
