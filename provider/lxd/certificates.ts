/**
 * /1.0/certificates: the server's trust store (client and metrics certificates), and trust tokens, which LXD
 * holds as pending operations of class `token` (/1.0/operations/{id}) until they are used, cancelled or expire.
 * Facts measured on LXD 5.0.2: a certificate's `type` cannot be changed (403 "The certificate type cannot be
 * changed"); a duplicate is 409 "Certificate already in trust store"; a restricted certificate naming a project
 * that does not exist is 404 "Project not found"; a token cannot be issued while the server is not listening on
 * the network (400); a token carries `restricted` and `projects` into the certificate it adds; a used or
 * cancelled token's operation reads back `Cancelled` (status code 401) for a while, then 404. No Pulumi here.
 */
import type { LxdClient } from "./client";
import type { Certificate, Operation } from "./types";

const path = (fingerprint: string) => `/1.0/certificates/${encodeURIComponent(fingerprint)}`;

/** Certificate type: `client` (API access) or `metrics` (only /1.0/metrics; API extension `metrics`). */
export type CertificateType = "client" | "metrics";

/** The writable fields of a trust store entry (PATCH/PUT /1.0/certificates/{fingerprint}). */
export interface CertificatePut {
  name: string;
  type: CertificateType;
  /** Limited to `projects` (API extension `certificate_project`). */
  restricted: boolean;
  projects: string[];
}

/** GET a trust store entry with its ETag. @throws LxdError 404 when no certificate has that fingerprint. */
export async function getCertificate(lxd: LxdClient, fingerprint: string): Promise<{ value: Certificate; etag: string }> {
  const r = await lxd.get<Certificate>(path(fingerprint));
  return { value: r.metadata, etag: r.etag };
}

/** Fingerprints of every certificate in the trust store. */
export async function listCertificates(lxd: LxdClient): Promise<string[]> {
  return lxd.listNames("/1.0/certificates");
}

/**
 * POST /1.0/certificates with a PEM certificate (sent as LXD wants it: base64 DER, no PEM armour).
 * @throws LxdError 409 when the certificate is already trusted, 404 when a project does not exist.
 */
export async function createCertificate(lxd: LxdClient, put: CertificatePut & { certificate: string }): Promise<void> {
  await lxd.request("POST", "/1.0/certificates", { body: { ...put, certificate: pemToBase64Der(put.certificate) } });
}

/** PATCH name, restricted and projects of a trust store entry; with `etag`, 412 if it changed since it was read. */
export async function updateCertificate(lxd: LxdClient, fingerprint: string, patch: Partial<Omit<CertificatePut, "type">>, etag?: string): Promise<void> {
  await lxd.request("PATCH", path(fingerprint), { body: patch, etag });
}

/** DELETE a trust store entry. @throws LxdError 404 when it is not there. */
export async function deleteCertificate(lxd: LxdClient, fingerprint: string): Promise<void> {
  await lxd.request("DELETE", path(fingerprint));
}

/** What LXD puts in a pending token operation's metadata (API extension `certificate_token`). */
export interface TokenOperationMetadata {
  /** SHA-256 fingerprint of the server certificate. */
  fingerprint: string;
  /** `host:port` addresses the server listens on. */
  addresses: string[];
  /** The join secret. A credential. */
  secret: string;
  /** RFC 3339 expiry (`core.remote_token_expiry`); absent when tokens do not expire. */
  expiresAt?: string;
  /** The request the token was issued for: name, type, restricted, projects. */
  request?: { name?: string; type?: string; restricted?: boolean; projects?: string[] };
}

/**
 * Issues a trust token (POST /1.0/certificates with `token: true`) without waiting for its operation, which
 * stays `Running` until the token is used, cancelled or expires.
 * @returns the pending operation (id, metadata with fingerprint, addresses, secret).
 */
export async function createCertificateToken(lxd: LxdClient, req: { name: string; type?: CertificateType; restricted: boolean; projects: string[] }): Promise<Operation> {
  const r = await lxd.request<Operation>("POST", "/1.0/certificates", { body: { type: "client", ...req, token: true }, noWait: true });
  if (!r.operation) throw new Error(`LXD did not start a token operation for "${req.name}" (no API extension certificate_token?)`);
  return r.operation;
}

/** GET /1.0/operations/{id}. @throws LxdError 404 once LXD forgot it. */
export async function getOperation(lxd: LxdClient, id: string): Promise<Operation> {
  return (await lxd.get<Operation>(`/1.0/operations/${encodeURIComponent(id)}`)).metadata;
}

/** DELETE /1.0/operations/{id}: cancels a pending operation (revokes a token). @throws LxdError 404 when it is gone. */
export async function cancelOperation(lxd: LxdClient, id: string): Promise<void> {
  await lxd.request("DELETE", `/1.0/operations/${encodeURIComponent(id)}`);
}

/** The base64 DER body of a PEM certificate (the first one in the text). @throws Error when there is none. */
export function pemToBase64Der(pem: string): string {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error("certificate must be a PEM certificate (-----BEGIN CERTIFICATE-----), but no PEM block was found");
  return m[1].replace(/\s+/g, "");
}
