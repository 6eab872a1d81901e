/**
 * TrustCertificate, host side: a client (or metrics) certificate in the server's trust store, restricted to
 * a list of projects by default.
 *
 * LXD endpoints: POST /1.0/certificates, GET|PATCH|DELETE /1.0/certificates/{fingerprint} (API extensions
 * `certificate_update`, `certificate_project`; type `metrics` needs `metrics`).
 *
 * `certificate` and `type` force replacement (LXD cannot change a certificate's type, and the fingerprint is
 * the certificate); `name`, `restricted` and `projects` are changed in place (PATCH with the ETag). The id is
 * the fingerprint (SHA-256 of the DER certificate, lower-case hex). `restricted: false` (full control of the
 * server) is refused unless `securityOptOuts` lists `unrestricted`, and reported in `warnings`. `adopt: true`
 * takes over a certificate already trusted (its former name, restriction and projects are put back on destroy
 * instead of removing it).
 */
import { X509Certificate } from "node:crypto";
import { z } from "zod";
import { createCertificate, deleteCertificate, getCertificate, isConflict, isNotFound, updateCertificate, LxdError, type Certificate, type CertificatePut, type CertificateType } from "../lxd";
import { applyServerOptOuts, judgeTrust, type TrustOptOut } from "../policy";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { UNKNOWN } from "../rules/values";
import { checkWith } from "../kit/check";
import type { Kind } from "../kit/contract";
import { amend, lxdSays } from "../kit/errors";
import { restrictionFailures, restrictionSchema } from "../kit/restriction";

/** Inputs after check. */
export interface TrustCertificateInputs {
  name: string;
  /** The certificate, PEM as LXD returns it (normalised). */
  certificate: string;
  type: CertificateType;
  restricted: boolean;
  projects: string[];
  securityOptOuts: TrustOptOut[];
  adopt: boolean;
  connection?: ConnectionArgs;
}

/** State. */
export interface TrustCertificateOutputs extends TrustCertificateInputs {
  /** SHA-256 fingerprint of the certificate (DER), lower-case hex: the id. */
  fingerprint: string;
  /** What an adopted certificate was before (put back on destroy); absent when this stack added it. */
  adoptedFrom?: CertificatePut;
  /** Accepted weakenings (an unrestricted certificate), one sentence each. */
  warnings: string[];
}

/** The PEM text of a certificate as LXD writes it, and its fingerprint; undefined when it is not a certificate. */
export function parseCertificate(pem: string): { pem: string; fingerprint: string } | undefined {
  try {
    const x = new X509Certificate(pem);
    return { pem: x.toString().replace(/\r\n/g, "\n"), fingerprint: x.fingerprint256.replace(/:/g, "").toLowerCase() };
  } catch {
    return undefined;
  }
}

function schema() {
  return z
    .object({
      name: z.string().min(1, "must be a non-empty name").refine((n) => !/[\r\n]/.test(n), "must be a single line"),
      certificate: z.string(),
      type: z.enum(["client", "metrics"]).default("client"),
      ...restrictionSchema(),
      adopt: z.boolean().default(false),
      connection: connectionSchema().optional(),
    })
    .strict();
}

function outputsFrom(c: Certificate, inputs: TrustCertificateInputs, adoptedFrom?: CertificatePut): TrustCertificateOutputs {
  const restricted = c.restricted ?? false;
  return {
    ...inputs,
    name: c.name,
    certificate: parseCertificate(c.certificate)?.pem ?? c.certificate,
    type: c.type as CertificateType,
    restricted,
    projects: c.projects ?? [],
    fingerprint: c.fingerprint,
    adoptedFrom,
    warnings: applyServerOptOuts(judgeTrust(restricted), inputs.securityOptOuts ?? []).warnings,
  } satisfies TrustCertificateOutputs;
}

/** LXD's 404 for a project the certificate names is not "the certificate is gone": said as the project's. */
function projectMissing(err: unknown, projects: string[]): unknown {
  if (err instanceof LxdError && err.status === 404 && /project/i.test(err.lxdMessage)) {
    return new Error(`${lxdSays(err)}: one of the projects ${JSON.stringify(projects)} does not exist`, { cause: err });
  }
  return err;
}

const putOf = (i: TrustCertificateInputs) => ({ name: i.name, restricted: i.restricted, projects: i.projects });

export const trustCertificateKind: Kind<TrustCertificateInputs, TrustCertificateOutputs> = {
  noun: "trust certificate",
  inProject: false,
  outputKeys: ["fingerprint", "adoptedFrom", "warnings"],
  diffKeys: ["name", "certificate", "type", "restricted", "projects", "securityOptOuts"],
  replaceKeys: ["certificate", "type"],
  idOf: (p) => p.fingerprint ?? parseCertificate(p.certificate)?.fingerprint ?? p.name,

  async check(news) {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    const unknown = (k: string) => unknownKeys.includes(k);
    let certificate = value.certificate;
    if (!unknown("certificate")) {
      const parsed = parseCertificate(certificate);
      if (!parsed) {
        const start = JSON.stringify(certificate.length > 40 ? `${certificate.slice(0, 40)}…` : certificate);
        failures.push({ property: "certificate", reason: `certificate must be a PEM X.509 certificate (-----BEGIN CERTIFICATE-----), but ${start} was provided` });
      } else certificate = parsed.pem;
    }
    failures.push(...restrictionFailures(value, unknown));
    if (failures.length) return { failures };
    return { inputs: { ...value, certificate: unknown("certificate") ? UNKNOWN : certificate } };
  },

  async create({ lxd }, inputs, accepted) {
    const fingerprint = parseCertificate(inputs.certificate)!.fingerprint;
    if (inputs.adopt) {
      try {
        const { value, etag } = await getCertificate(lxd, fingerprint);
        if (value.type !== inputs.type) throw new Error(`the trusted certificate is of type "${value.type}", not "${inputs.type}" (LXD cannot change a certificate's type)`);
        const adoptedFrom: CertificatePut = { name: value.name, type: value.type as CertificateType, restricted: value.restricted ?? false, projects: value.projects ?? [] };
        await updateCertificate(lxd, fingerprint, putOf(inputs), etag).catch((e) => Promise.reject(projectMissing(e, inputs.projects)));
        accepted({ fingerprint, adoptedFrom });
        return outputsFrom((await getCertificate(lxd, fingerprint)).value, inputs, adoptedFrom);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    try {
      await createCertificate(lxd, { ...putOf(inputs), type: inputs.type, certificate: inputs.certificate });
    } catch (err) {
      if (isConflict(err)) throw amend(err, ` (fingerprint ${fingerprint}; set adopt: true to bring the trusted certificate under management)`);
      throw projectMissing(err, inputs.projects);
    }
    accepted({ fingerprint });
    return outputsFrom((await getCertificate(lxd, fingerprint)).value, inputs);
  },

  async read({ lxd }, props) {
    return outputsFrom((await getCertificate(lxd, props.fingerprint)).value, props, props.adoptedFrom);
  },

  async update({ lxd }, olds, news) {
    const { etag } = await getCertificate(lxd, olds.fingerprint);
    await updateCertificate(lxd, olds.fingerprint, putOf(news), etag).catch((e) => Promise.reject(projectMissing(e, news.projects)));
    return outputsFrom((await getCertificate(lxd, olds.fingerprint)).value, news, olds.adoptedFrom);
  },

  async delete({ lxd }, props) {
    if (props.adoptedFrom) {
      // Trusted before this stack: put its former name, restriction and projects back rather than removing it.
      const { etag } = await getCertificate(lxd, props.fingerprint);
      const { name, restricted, projects } = props.adoptedFrom;
      await updateCertificate(lxd, props.fingerprint, { name, restricted, projects }, etag);
      return;
    }
    await deleteCertificate(lxd, props.fingerprint);
  },
};
