/**
 * Judgement: a config and devices pair against `POLICY` (./table.ts), the opt-outs, and the refusal message.
 */
import type { ConfigMap, DeviceMap } from "../lxd";
import { canOptOut, type Finding, type WeakeningClass } from "./classes";
import type { Nesting } from "./hardened";
import { emptyValueReason, isHarmlessLxcKey, POLICY, ruleOf, type ConfigRow, type DeviceRow, type RawLxcRow } from "./table";
import { hasLineBreak, isTrue, isUnknownMap, PREVIEW_UNKNOWN } from "./values";

/** What the caller's inputs asked for, so that the keys those inputs set are not findings. */
export interface JudgeOptions {
  /** The `nesting` input is set: `security.nesting` spelled true is asked for, not a finding. */
  nesting?: Nesting | boolean;
  /** The `devLxd` input is true: `security.devlxd` spelled true is asked for, not a finding. */
  devLxd?: boolean;
}

const CONFIG_ROWS = POLICY.filter((r): r is ConfigRow => r.on === "config");
const LXC_ROWS = POLICY.filter((r): r is RawLxcRow => r.on === "raw.lxc");
const DEVICE_ROWS = POLICY.filter((r): r is DeviceRow => r.on === "device");

/** `pattern` is a key, `prefix.*` or `*`. */
const keyMatches = (key: string, pattern: string) => pattern === "*" || (pattern.endsWith(".*") ? key.startsWith(pattern.slice(0, -1)) : key === pattern);
const rowMatches = (row: ConfigRow, key: string) => row.keys.some((p) => keyMatches(key, p)) && !(row.except ?? []).some((p) => keyMatches(key, p));

/** The value a finding may show: single-line, short, not under a key that may hold free text or secrets. */
function shownValue(key: string, value: string): { value?: string } {
  if (hasLineBreak(value) || value.length > 120 || /^(raw|environment|user|cloud-init)\./.test(key)) return {};
  return { value };
}

/**
 * Judges `raw.lxc` line by line: blank lines, comments and `HARMLESS_LXC_KEYS` pass; every other line is a
 * finding of the first `raw.lxc` row of `POLICY` that matches it (unknown `lxc.*` keys and lines that are not
 * `lxc.key = value` are `raw`). Keys: `config.raw.lxc[line <n>: <key>]`.
 */
export function judgeRawLxc(text: string): Finding[] {
  if (text === PREVIEW_UNKNOWN) return [];
  const out: Finding[] = [];
  // A lone \r counts as a line end too: judging more lines than LXC reads is the safe side.
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const first = line.split("=")[0].trim();
    const lxcKey = line.includes("=") && first.startsWith("lxc.") ? first : undefined;
    if (lxcKey !== undefined && isHarmlessLxcKey(lxcKey)) return;
    const row = LXC_ROWS.find((r) => r.matches(lxcKey));
    if (!row) return; // unreachable: the last two rows match every line
    const reason = lxcKey === undefined ? `"${line}" ${row.reason}` : `${lxcKey} ${row.reason}`;
    out.push({ class: row.class, key: `config.raw.lxc[line ${i + 1}: ${first}]`, reason, rule: ruleOf(row) });
  });
  return out;
}

/** The findings for one config key and value (none for a preview unknown). */
export function judgeConfigValue(key: string, value: string, opts: JudgeOptions = {}): Finding[] {
  if (value === PREVIEW_UNKNOWN || typeof value !== "string") return [];
  const out: Finding[] = [];
  for (const row of CONFIG_ROWS) {
    if (!rowMatches(row, key)) continue;
    let reason: string;
    if (value === "" && row.hardened !== undefined) reason = emptyValueReason(row);
    else if (row.weakens(value, key)) {
      if (row.askedBy && opts[row.askedBy] && isTrue(value)) continue;
      reason = row.reason;
    } else continue;
    out.push({ class: row.class, key: `config.${key}`, reason, ...shownValue(key, value), rule: ruleOf(row) });
  }
  if (key === "raw.lxc") out.push(...judgeRawLxc(value));
  return out;
}

/** The findings for one device (none for a device that is a preview unknown; unknown properties are skipped). */
export function judgeDevice(name: string, device: Record<string, string>): Finding[] {
  if (isUnknownMap(device)) return [];
  const known = Object.fromEntries(Object.entries(device).filter(([, v]) => v !== PREVIEW_UNKNOWN));
  const out: Finding[] = [];
  for (const row of DEVICE_ROWS) {
    const reason = row.weakens(name, known);
    if (reason === undefined) continue;
    const property = typeof row.property === "function" ? row.property(known) : row.property;
    out.push({ class: row.class, key: `devices.${name}`, ...(property === undefined ? {} : { property }), reason, rule: ruleOf(row) });
  }
  return out;
}

/**
 * Every finding in a config + devices pair: config keys first (in the map's order), then devices. A map that
 * is a preview unknown as a whole is not judged. `opts` says which inputs asked for `security.nesting` /
 * `security.devlxd`, so callers need not filter those findings themselves.
 */
export function assess(config: ConfigMap, devices: DeviceMap, opts: JudgeOptions = {}): Finding[] {
  return [
    ...(isUnknownMap(config) ? [] : Object.entries(config).flatMap(([k, v]) => judgeConfigValue(k, v, opts))),
    ...(isUnknownMap(devices) ? [] : Object.entries(devices).flatMap(([n, d]) => judgeDevice(n, d))),
  ];
}

/**
 * Splits findings into refused and accepted-but-weakened: a finding is accepted only when its class can be
 * opted out of (`WEAKENING_CLASSES`) and is in `optOuts`. `injection` findings are always refused, even if a
 * caller slips the name into `optOuts`.
 */
export function applyOptOuts(findings: Finding[], optOuts: readonly WeakeningClass[]): { refused: Finding[]; weakened: Finding[] } {
  const accepted = (f: Finding) => canOptOut(f.class) && optOuts.includes(f.class);
  return { refused: findings.filter((f) => !accepted(f)), weakened: findings.filter(accepted) };
}

/** `key=value` for a message: the value quoted when it is empty or has spaces at either end. */
function setting(f: Finding): string {
  const key = f.key.replace(/^config\./, "");
  if (f.value === undefined) return key;
  return `${key}=${f.value === "" || f.value.trim() !== f.value ? JSON.stringify(f.value) : f.value}`;
}

/**
 * The message for a refused finding, naming the key, the reason and the opt-out:
 * - from `assess`: `config.security.privileged weakens confinement: <reason>. It is refused by the hardened
 *   defaults; to accept it, add "privileged" to securityOptOuts`;
 * - from `judgeEffective` (with a source): `profile "p1" sets security.privileged=true, which weakens
 *   confinement: <reason>. Refused for instance config laid over its profiles; to accept it, add
 *   "privileged" to securityOptOuts`;
 * - for a class that cannot be opted out (`injection`): the same, ending `It is refused in every case (no opt-out accepts it)`.
 */
export function refusalMessage(f: Finding): string {
  const remedy = canOptOut(f.class) ? `to accept it, add "${f.class}" to securityOptOuts` : "no opt-out accepts it";
  if (f.source === undefined) {
    return canOptOut(f.class)
      ? `${f.key} weakens confinement: ${f.reason}. It is refused by the hardened defaults; ${remedy}`
      : `${f.key} weakens confinement: ${f.reason}. It is refused in every case (${remedy})`;
  }
  const who = f.source === "instance" ? "the instance" : f.source;
  return canOptOut(f.class)
    ? `${who} sets ${setting(f)}, which weakens confinement: ${f.reason}. Refused for instance config laid over its profiles; ${remedy}`
    : `${who} sets ${setting(f)}, which weakens confinement: ${f.reason}. It is refused in every case (${remedy})`;
}
