/**
 * Check helpers for the restriction of a trust certificate or token (TrustCertificate, TrustToken): the
 * `restricted`, `projects` and `securityOptOuts` inputs and their failures.
 */
import { z } from "zod";
import { applyServerOptOuts, judgeTrust, serverRefusal, TRUST_OPT_OUTS, type TrustOptOut } from "../policy";
import { PROJECT_NAME } from "../rules/names";

/** The schema fields `restricted` (default true), `projects` (default []) and `securityOptOuts` (default []). */
export function restrictionSchema() {
  return {
    restricted: z.boolean().default(true),
    projects: z.array(z.string().regex(PROJECT_NAME.re, PROJECT_NAME.mustBe)).default([]),
    securityOptOuts: z.array(z.enum(TRUST_OPT_OUTS)).default([]),
  };
}

/** Check failures of a restriction: unrestricted without the opt-out; restricted to no project at all. */
export function restrictionFailures(v: { restricted: boolean; projects: string[]; securityOptOuts: TrustOptOut[] }, unknown: (k: string) => boolean): { property: string; reason: string }[] {
  const out: { property: string; reason: string }[] = [];
  if (!unknown("restricted") && !unknown("securityOptOuts")) {
    for (const f of applyServerOptOuts(judgeTrust(v.restricted), v.securityOptOuts).refused) out.push({ property: "restricted", reason: serverRefusal(f) });
  }
  if (!unknown("restricted") && !unknown("projects") && v.restricted && v.projects.length === 0) {
    out.push({ property: "projects", reason: "projects must list at least one project when restricted is true (a restricted certificate reaches only its projects), but [] was provided" });
  }
  return out;
}
