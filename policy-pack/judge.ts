/**
 * The pack's judgement: a {@link Subject} (./subjects.ts) against the provider's own policy (`assess`,
 * `judgeEffective`, `applyOptOuts`, `hardenedConfig`, the rows of `POLICY`), with the opt-out classes this stack's
 * policy pack config accepts. Nothing here adds, drops or restates a rule: every finding is the policy's.
 *
 * Which opt-outs count:
 * - resources of the bridged providers (Terraform LXD, Incus) and this package's PciDevice have no
 *   `securityOptOuts`: a finding is accepted when its class is in the pack's `optOuts`;
 * - this package's Instance, Profile, InstanceDevice, StorageVolume, ServerSettings, TrustCertificate and
 *   TrustToken: only when its class is in BOTH the pack's `optOuts` and the resource's own `securityOptOuts` (the
 *   stack's config bounds what a program may opt out of);
 * - the server's config and trust store entries are judged by the server config and trust rows of `POLICY`
 *   (`judgeServerConfig`, `judgeTrust`), with the classes `wildcard-bind`, `trust-password`, `unrestricted`;
 * - `injection` is never accepted (`applyOptOuts`).
 */
import type { ConfigMap } from "../provider/lxd";
import {
  applyOptOuts, assess, canOptOut, hardenedConfig, isFalse, judgeEffective, judgeServerConfig, judgeTrust, POLICY, PREVIEW_UNKNOWN, ruleOf,
  type Finding, type ProfileLayer, type ServerFinding,
} from "../provider/policy";
import { isPackClass, keyIn, PACK_CLASSES, requiredHardenedKeys, subjectOf, type PackClass, type Subject } from "./subjects";

/** The config of each of the pack's policies, per stack (`--policy-pack-config <file>`: `{ "<policy name>": { "optOuts": [...] } }`). */
export interface PackConfig {
  /** Classes of weakening settings this stack accepts (`PACK_CLASSES`: `WEAKENING_CLASSES`, then the server and trust classes). Default `[]`: every finding is a violation. */
  optOuts?: string[];
}

/** The config schema of each policy: `optOuts`, an array of weakening classes (instance, server and trust classes), default `[]`. */
export const CONFIG_SCHEMA = {
  properties: {
    optOuts: {
      type: "array" as const,
      items: { type: "string" as const, enum: [...PACK_CLASSES] },
      uniqueItems: true,
      default: [],
      description: `Classes of confinement-weakening settings this stack accepts: ${PACK_CLASSES.join(", ")}. Findings of class injection are refused in every case.`,
    },
  },
};

/** The opt-out classes of a policy's config (`getConfig()`); names that are not pack classes are ignored (fail closed). */
export function packOptOuts(cfg: PackConfig | undefined): PackClass[] {
  const list = cfg?.optOuts;
  return Array.isArray(list) ? list.filter(isPackClass) : [];
}

/** The classes accepted for `s`: the pack's, bounded by the resource's own `securityOptOuts` where it has them. */
export function acceptedFor(s: Subject, pack: readonly PackClass[]): PackClass[] {
  return s.ownOptOuts ? pack.filter((c) => s.ownOptOuts!.includes(c)) : [...pack];
}

const isUnknown = (v: unknown) => v === PREVIEW_UNKNOWN;

/**
 * The config an instance runs with before its profiles: for this package's Instance given the program's own inputs
 * (its check failed), the hardened defaults with its config over them, as the provider lays them; otherwise its config.
 */
function ownInstanceConfig(s: Subject): ConfigMap {
  if (isUnknown(s.config) || s.family !== "pulumi-lxd-hardened" || s.checked) return s.config;
  return { ...hardenedConfig({ type: s.type, nesting: s.nesting, devLxd: s.devLxd, defaultLimits: false }), ...s.config };
}

/** A subject's findings, and the hardened keys an instance leaves unset (each also a finding: `requiredHardenedKeys`). */
export function findingsOf(s: Subject): { findings: Finding[]; unset: ConfigMap } {
  if (s.kind === "project" || s.kind === "server" || s.kind === "trust") return { findings: [], unset: {} };
  if (s.kind !== "instance") return { findings: assess(s.config, s.devices), unset: {} };
  const opts = { nesting: s.nesting, devLxd: s.devLxd };
  const config = ownInstanceConfig(s);
  if (isUnknown(config)) return { findings: assess(config, s.devices, opts), unset: {} };
  const unset = Object.fromEntries(Object.entries(requiredHardenedKeys(s)).filter(([k]) => config[k] === undefined || config[k] === ""));
  const asEmpty = Object.fromEntries(Object.keys(unset).map((k) => [k, ""]));
  return { findings: assess({ ...asEmpty, ...config }, s.devices, opts), unset };
}

const rowReason = (f: Finding) => POLICY.find((r) => ruleOf(r) === f.rule)?.reason ?? f.reason;

/** `key=value` when the finding shows a value. */
function setting(family: Subject["family"], f: Finding): string {
  const key = keyIn(family, f.key).replace(/^config\./, "");
  return f.value === undefined ? key : `${key}=${f.value === "" || f.value.trim() !== f.value ? JSON.stringify(f.value) : f.value}`;
}

/** The server config's and trust store entry's findings (the server config and trust rows of `POLICY`). */
export function serverFindingsOf(s: Subject): ServerFinding[] {
  if (s.kind === "server") return isUnknown(s.config) ? [] : judgeServerConfig(s.config);
  if (s.kind === "trust") return s.restricted === undefined ? [] : judgeTrust(s.restricted);
  return [];
}

/** What accepts a refused finding, or that nothing does. */
function remedy(s: Subject, f: { class: string }, pack: readonly PackClass[], policyName: string): string {
  if (!isPackClass(f.class)) return "It is refused in every case (no opt-out accepts it)";
  const needs: string[] = [];
  if (!pack.includes(f.class)) needs.push(`add "${f.class}" to the optOuts of policy "${policyName}" in this stack's policy pack config`);
  if (s.ownOptOuts && !s.ownOptOuts.includes(f.class)) needs.push(`add "${f.class}" to the resource's securityOptOuts`);
  return `To accept it, ${needs.join(" and ")}`;
}

function label(s: Subject): string {
  if (s.kind === "server") return "server settings";
  if (s.kind === "trust") return `trust store entry "${s.name}"`;
  return `${s.kind === "volume" ? "storage volume" : s.kind} "${s.name}" in project "${s.project}"`;
}

/**
 * The violations of one resource: one message per refused finding, naming the resource, the setting, the class,
 * the policy's reason and what would accept it.
 */
export function resourceViolations(s: Subject, pack: readonly PackClass[], policyName: string): string[] {
  const accepted = acceptedFor(s, pack);
  const server = serverFindingsOf(s).filter((f) => !accepted.includes(f.class)).map((f) => {
    const what = f.value !== undefined && f.key.startsWith("config.") ? `${f.key.slice("config.".length)}=${f.value}` : f.key === "restricted" ? `restricted=${f.value}` : f.key.replace(/^config\./, "");
    return `${label(s)}: ${what} weakens the server's protection (${f.class}): ${f.reason}. ${remedy(s, f, pack, policyName)}`;
  });
  const { findings, unset } = findingsOf(s);
  const { refused } = applyOptOuts(findings, accepted.filter(canOptOut));
  return refused.map((f) => {
    const key = f.key.replace(/^config\./, "");
    const what = f.key.startsWith("config.") && key in unset
      ? `${keyIn(s.family, f.key).replace(/^config\./, "")} is not set, so the instance's profiles or LXD's default decide it (hardened value: ${unset[key]}), which weakens confinement (${f.class}): ${rowReason(f)}`
      : `${setting(s.family, f)} weakens confinement (${f.class}): ${f.reason}`;
    return `${label(s)}: ${what}. ${remedy(s, f, pack, policyName)}`;
  }).concat(server);
}

/** A resource of the stack, as a stack policy gets it (outputs as `props`). */
export interface StackResource {
  type: string;
  props: Record<string, unknown>;
  urn: string;
  name: string;
}

/** One instance laid over a profile of the same stack that weakens it. */
export interface ProfileInUse {
  instanceUrn: string;
  profileUrn: string;
  message: string;
}

/** LXD and Incus are different daemons: objects of one never use objects of the other. */
const daemonOf = (s: Subject) => (s.family === "incus" ? "incus" : "lxd");

/**
 * Every instance of the stack that uses a profile of the stack whose settings weaken it: the instance's own config
 * and devices laid over its profiles with `judgeEffective` (as the provider does before every create and update),
 * keeping the refused findings that come from a profile (shadowed ones included). A profile is found by daemon
 * (LXD: this package and Terraform LXD; Incus), project and name; an instance in a project whose
 * `features.profiles` is false (declared in the stack), or in a project the stack does not declare and with no
 * such profile of its own, uses the `default` project's profile. Profiles not declared in the stack (e.g. LXD's
 * `default`) are not judged. Connections and remotes are not compared: a stack that drives several LXD servers
 * should name its profiles apart.
 */
export function weakeningProfilesInUse(resources: readonly StackResource[], pack: readonly PackClass[], policyName: string): ProfileInUse[] {
  const subjects = resources.flatMap((r) => {
    const s = subjectOf(r.type, r.props, r.name);
    return s ? [{ s, urn: r.urn }] : [];
  });
  const sharedProfiles = new Map<string, boolean>();
  const profiles = new Map<string, { s: Subject; urn: string }>();
  for (const x of subjects) {
    if (x.s.kind === "project") sharedProfiles.set(`${daemonOf(x.s)} ${x.s.name}`, !isUnknown(x.s.config) && isFalse(x.s.config["features.profiles"]));
    if (x.s.kind === "profile") profiles.set(`${daemonOf(x.s)} ${x.s.project} ${x.s.name}`, x);
  }
  const find = (daemon: string, project: string, name: string) => {
    const inDefault = profiles.get(`${daemon} default ${name}`);
    if (project === "default" || sharedProfiles.get(`${daemon} ${project}`) === true) return inDefault;
    return profiles.get(`${daemon} ${project} ${name}`) ?? (sharedProfiles.has(`${daemon} ${project}`) ? undefined : inDefault);
  };
  const out: ProfileInUse[] = [];
  for (const { s, urn } of subjects) {
    if (s.kind !== "instance" || isUnknown(s.profiles)) continue;
    const used = s.profiles.filter((n) => !isUnknown(n)).map((n) => ({ n, p: find(daemonOf(s), s.project, n) }));
    const layers: ProfileLayer[] = used.map(({ n, p }) => ({ name: n, config: p?.s.config ?? {}, devices: p?.s.devices ?? {} }));
    const config = ownInstanceConfig(s);
    const { refused } = judgeEffective({
      config: isUnknown(config) ? {} : config, devices: isUnknown(s.devices) ? {} : s.devices, profiles: layers,
      optOuts: acceptedFor(s, pack).filter(canOptOut), nesting: s.nesting, devLxd: s.devLxd,
    });
    for (const { n, p } of used) {
      if (!p) continue;
      const mine = refused.filter((f) => f.source === `profile "${n}"`);
      if (!mine.length) continue;
      const list = mine.map((f) => `${setting(s.family, f)} (${f.class}): ${f.reason}. ${remedy(s, f, pack, policyName)}`).join("; ");
      out.push({
        instanceUrn: urn, profileUrn: p.urn,
        message: `instance "${s.name}" in project "${s.project}" (${urn}) uses profile "${n}" in project "${p.s.project}" (${p.urn}), which weakens its confinement: ${list}`,
      });
    }
  }
  return out;
}
