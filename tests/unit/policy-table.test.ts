/** The policy table: every row is exercised by its own examples, refused without opt-outs and accepted (or never) with them. */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  applyOptOuts, assess, canOptOut, policyRows, POLICY, PREVIEW_UNKNOWN, refusalMessage, ruleOf, securityReport, WEAKENING_CLASSES,
  type PolicyExample, type PolicyRow, type WeakeningClass,
} from "../../provider/policy";
import { UNKNOWN } from "../../provider/rules/values";

const run = (ex: PolicyExample) => assess(ex.config ?? {}, ex.devices ?? {});

describe.each(POLICY.map((row): [string, PolicyRow] => [ruleOf(row), row]))("row %s", (rule, row) => {
  test("has a refused example that this row finds, refused without opt-outs", () => {
    expect(row.examples?.refused).toBeDefined();
    const found = run(row.examples.refused);
    expect(found.filter((f) => f.rule === rule)).not.toHaveLength(0);
    expect(found.map((f) => f.class).filter((c) => c !== row.class)).toEqual([]); // the example shows this row alone
    expect(applyOptOuts(found, []).weakened).toEqual([]);
    expect(refusalMessage(found[0])).toContain(found[0].key);
  });

  test("has an opted-out example: accepted with its class and reported as weakened, or never accepted", () => {
    expect(row.examples?.optedOut).toBeDefined();
    if (!canOptOut(row.class)) {
      expect(row.examples.optedOut).toBe("cannot be opted out");
      const found = run(row.examples.refused);
      // Not even a caller that slips the class name into the opt-outs gets it accepted.
      expect(applyOptOuts(found, [...WEAKENING_CLASSES, row.class as WeakeningClass]).refused).toEqual(found);
      expect(refusalMessage(found[0])).toMatch(/refused in every case \(no opt-out accepts it\)/);
      expect(refusalMessage(found[0])).not.toMatch(/securityOptOuts/);
      return;
    }
    expect(row.examples.optedOut).not.toBe("cannot be opted out");
    const ex = row.examples.optedOut as PolicyExample;
    const found = run(ex);
    expect(found.filter((f) => f.rule === rule)).not.toHaveLength(0);
    expect(applyOptOuts(found, []).refused).toEqual(found);
    const { refused, weakened } = applyOptOuts(found, [row.class]);
    expect(refused).toEqual([]);
    expect(weakened).toEqual(found);
    expect(refusalMessage(found[0])).toContain(`add "${row.class}" to securityOptOuts`);
    const report = securityReport(ex.config ?? {}, weakened, { apparmor: true }, [row.class]);
    expect(report.weakened).toEqual(found);
    expect(report.warnings.filter((w) => w.includes(`(${row.class}, opted out)`))).toHaveLength(found.length);
  });

  test("judges nothing that is a preview unknown", () => {
    const ex = row.examples.refused;
    const blank = (m: Record<string, unknown>) => Object.fromEntries(Object.keys(m).map((k) => [k, UNKNOWN]));
    expect(assess(blank(ex.config ?? {}) as never, blank(ex.devices ?? {}) as never)).toEqual([]);
  });
});

test("rows have unique names, and every opt-out-able class has a row", () => {
  const rules = POLICY.map(ruleOf);
  expect(new Set(rules).size).toBe(rules.length);
  for (const c of WEAKENING_CLASSES) expect(POLICY.some((r) => r.class === c)).toBe(true);
});

test("policyRows gives the table in plain form, top to bottom, for a generated doc", () => {
  const rows = policyRows();
  expect(rows).toHaveLength(POLICY.length);
  expect(JSON.parse(JSON.stringify(rows))).toEqual(rows); // no functions, nothing lost
  expect(rows[0]).toMatchObject({ on: "config", rule: "config * except raw.*, cloud-init.*, user.*, image.*", class: "injection", optOut: false });
  expect(rows.find((r) => r.rule === "config security.privileged")).toEqual({
    on: "config", rule: "config security.privileged", class: "privileged", optOut: true, hardened: "false",
    when: "not an LXD spelling of false (false, 0, no, off in any case), or empty", reason: "a privileged container's root is the host's root",
  });
  expect(rows.filter((r) => r.on === "raw.lxc").map((r) => r.rule)).toContain("raw.lxc lxc.apparmor.*");
  expect(rows.filter((r) => r.on === "device").map((r) => r.class)).toContain("idmap");
});

test("the policy loads without the REST client or @pulumi/pulumi (it runs on both sides; only the rules below it), and shares the preview unknown", () => {
  expect(PREVIEW_UNKNOWN).toBe(UNKNOWN);
  const dir = path.join(__dirname, "../../provider/policy");
  for (const file of fs.readdirSync(dir)) {
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gms)) {
      const [, typeOnly, from] = m;
      const ok = typeOnly !== undefined || from.startsWith("./") || from.startsWith("node:") || from.startsWith("../rules/");
      expect({ file, from, ok }).toEqual({ file, from, ok: true });
    }
  }
});
