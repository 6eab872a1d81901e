/**
 * The CrossGuard policies of the pack (./index.js builds the `PolicyPack` from them; tests call them directly,
 * since constructing a `PolicyPack` starts its gRPC server). Both are `mandatory` and take the same per-stack
 * config, `optOuts` (./judge.ts `CONFIG_SCHEMA`).
 *
 * - `lxd-hardened`: every instance, profile and device of this package, of the bridged Terraform LXD provider
 *   and of the Incus provider, this package's and Terraform LXD's custom storage volumes, and this package's
 *   server settings and trust store entries (./subjects.ts lists the types and properties), judged by the
 *   provider's own policy; one violation per refused finding.
 * - `lxd-no-weakening-profile-in-use`: every instance of the stack laid over the profiles of the stack it uses;
 *   one violation per instance and weakening profile, naming both.
 */
import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { CONFIG_SCHEMA, packOptOuts, resourceViolations, weakeningProfilesInUse, type PackConfig } from "./judge";
import { subjectOf } from "./subjects";

/** The pack's name (`pulumi preview --policy-pack` reports violations under it). */
export const PACK_NAME = "lxd-hardened";

/** Name of the resource policy. */
export const HARDENED_RESOURCES = "lxd-hardened";
/** Name of the stack policy. */
export const NO_WEAKENING_PROFILE_IN_USE = "lxd-no-weakening-profile-in-use";

/** Resource policy: instances, profiles, devices, volumes, server settings and trust entries against the hardening policy. */
export const hardenedResources: ResourceValidationPolicy = {
  name: HARDENED_RESOURCES,
  description:
    "LXD and Incus instances, profiles and devices (pulumi-lxd-hardened, the Terraform LXD provider, the Incus provider), custom storage volumes, " +
    "server settings and trust store entries must not weaken confinement or the server's protection, " +
    "by the hardening policy of pulumi-lxd-hardened; classes of weakening this stack accepts are listed in optOuts.",
  enforcementLevel: "mandatory",
  severity: "high",
  configSchema: CONFIG_SCHEMA,
  validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
    const subject = subjectOf(args.type, args.props, args.name);
    if (!subject) return;
    for (const message of resourceViolations(subject, packOptOuts(args.getConfig<PackConfig>()), HARDENED_RESOURCES)) reportViolation(message);
  },
};

/** Stack policy: an instance that uses a profile of the stack whose settings weaken it. */
export const noWeakeningProfileInUse: StackValidationPolicy = {
  name: NO_WEAKENING_PROFILE_IN_USE,
  description:
    "No instance uses a profile that weakens its confinement (a privileged profile, a device passthrough, …), judged with the instance laid over its profiles " +
    "as LXD expands them; classes of weakening this stack accepts are listed in optOuts.",
  enforcementLevel: "mandatory",
  severity: "high",
  configSchema: CONFIG_SCHEMA,
  validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
    const pack = packOptOuts(args.getConfig<PackConfig>());
    for (const v of weakeningProfilesInUse(args.resources, pack, NO_WEAKENING_PROFILE_IN_USE)) reportViolation(v.message, v.instanceUrn);
  },
};

/** The pack's policies, in the order the pack lists them. */
export const policies = [hardenedResources, noWeakeningProfileInUse];
