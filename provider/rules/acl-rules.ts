/**
 * Network ACL rules: the program's camelCase shape, LXD's snake_case wire shape (`api.NetworkACLRule`), and the
 * syntax checks LXD's network ACL docs give (subjects, ports, ICMP fields). Pure functions.
 */
import { isIP } from "node:net";
import { NETWORK_ACL_NAME } from "./names";

/** One ACL rule as a program writes it. */
export interface AclRule {
  /** `allow`, `reject` or `drop`. */
  action: "allow" | "reject" | "drop";
  /** Comma-separated subjects: CIDRs, addresses, ranges `a-b`, ACL names, `@internal`, `@external`. Absent = any. */
  source?: string;
  destination?: string;
  /** `tcp`, `udp`, `icmp4`, `icmp6`. Absent = any protocol. */
  protocol?: "tcp" | "udp" | "icmp4" | "icmp6";
  /** Comma-separated ports or ranges `a-b` (0–65535); `tcp`/`udp` only. LXD key `source_port`. */
  sourcePort?: string;
  /** LXD key `destination_port`; `tcp`/`udp` only. */
  destinationPort?: string;
  /** ICMP type (0–255); `icmp4`/`icmp6` only. LXD key `icmp_type`. */
  icmpType?: string;
  /** ICMP code (0–255); `icmp4`/`icmp6` only. LXD key `icmp_code`. */
  icmpCode?: string;
  description?: string;
  /** `enabled` (default), `disabled` or `logged`. */
  state: "enabled" | "disabled" | "logged";
}

/** The LXD wire form of a rule (every field present, "" for none). */
export interface AclRuleWire {
  action: string; source: string; destination: string; protocol: string; source_port: string; destination_port: string;
  icmp_type: string; icmp_code: string; description: string; state: string;
}

const FIELDS: [keyof AclRule, keyof AclRuleWire][] = [
  ["action", "action"], ["source", "source"], ["destination", "destination"], ["protocol", "protocol"],
  ["sourcePort", "source_port"], ["destinationPort", "destination_port"], ["icmpType", "icmp_type"], ["icmpCode", "icmp_code"],
  ["description", "description"], ["state", "state"],
];

/** camelCase → LXD's keys. */
export function ruleToWire(r: AclRule): AclRuleWire {
  const out = {} as AclRuleWire;
  for (const [c, w] of FIELDS) out[w] = (r[c] as string | undefined) ?? "";
  return out;
}

/** LXD's keys → camelCase, empty fields left out (so a read gives back what a program writes). */
export function ruleFromWire(w: Partial<AclRuleWire>): AclRule {
  const out: Record<string, string> = {};
  for (const [c, k] of FIELDS) if (w[k]) out[c] = w[k] as string;
  out.state ??= "enabled";
  return out as unknown as AclRule;
}

/** Why one subject (`source` / `destination` item) is invalid, or undefined. */
function subjectProblem(item: string): string | undefined {
  if (item === "@internal" || item === "@external") return undefined;
  if (item.includes("/")) {
    const [ip, bits, ...rest] = item.split("/");
    const v = isIP(ip);
    const max = v === 4 ? 32 : 128;
    if (!v || rest.length || !/^\d{1,3}$/.test(bits) || Number(bits) > max) return `"${item}" is not a CIDR`;
    return undefined;
  }
  if (item.includes("-") && isIP(item.split("-")[0])) {
    const [a, b, ...rest] = item.split("-");
    if (rest.length || !isIP(b) || isIP(a) !== isIP(b)) return `"${item}" is not an address range (two addresses of one family joined by "-")`;
    return undefined;
  }
  if (isIP(item)) return undefined;
  if (NETWORK_ACL_NAME.re.test(item)) return undefined;
  return `"${item}" is not a CIDR, an address, a range, an ACL name, @internal or @external`;
}

/** Why a port list is invalid, or undefined. */
function portsProblem(v: string): string | undefined {
  for (const item of v.split(",")) {
    const m = /^\s*(\d{1,5})(?:-(\d{1,5}))?\s*$/.exec(item);
    if (!m || Number(m[1]) > 65535 || (m[2] !== undefined && (Number(m[2]) > 65535 || Number(m[2]) < Number(m[1])))) {
      return `"${item}" is not a port (0–65535) or a range a-b`;
    }
  }
  return undefined;
}

/**
 * The problems of one rule, each `[field, reason]`, in the project's wording (`<field> must be …, but <value> was
 * provided`). Enum fields are checked by the schema; this checks what depends on other fields and the syntax.
 */
export function aclRuleProblems(r: AclRule): [string, string][] {
  const out: [string, string][] = [];
  for (const f of ["source", "destination"] as const) {
    const v = r[f];
    if (v === undefined || v === "") continue;
    for (const item of v.split(",").map((s) => s.trim())) {
      const why = subjectProblem(item);
      if (why) out.push([f, `${f} must be a comma-separated list of CIDRs, addresses, ranges, ACL names, @internal or @external, but ${JSON.stringify(v)} was provided (${why})`]);
    }
  }
  for (const f of ["sourcePort", "destinationPort"] as const) {
    const v = r[f];
    if (v === undefined || v === "") continue;
    if (r.protocol !== "tcp" && r.protocol !== "udp") out.push([f, `${f} must be used with protocol tcp or udp, but protocol ${JSON.stringify(r.protocol ?? "")} was provided`]);
    else {
      const why = portsProblem(v);
      if (why) out.push([f, `${f} must be a comma-separated list of ports or ranges, but ${JSON.stringify(v)} was provided (${why})`]);
    }
  }
  for (const f of ["icmpType", "icmpCode"] as const) {
    const v = r[f];
    if (v === undefined || v === "") continue;
    if (r.protocol !== "icmp4" && r.protocol !== "icmp6") out.push([f, `${f} must be used with protocol icmp4 or icmp6, but protocol ${JSON.stringify(r.protocol ?? "")} was provided`]);
    else if (!/^\d{1,3}$/.test(v) || Number(v) > 255) out.push([f, `${f} must be a number 0–255, but ${JSON.stringify(v)} was provided`]);
  }
  return out;
}
