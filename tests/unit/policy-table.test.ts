/**
 * The policy table: every row is exercised by its own examples, refused without opt-outs and accepted (or never) with them.
 * Instance rows (config, raw.lxc, device) run through `assess`; server config and trust rows through the judgements
 * the ServerSettings, TrustCertificate and TrustToken kinds call (`judgeServerConfig`, `judgeTrust`).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  applyOptOuts, applyServerOptOuts, assess, canOptOut, judgeServerConfig, judgeTrust, policyRows, POLICY, PREVIEW_UNKNOWN, refusalMessage, ruleOf,
  securityReport, SERVER_OPT_OUTS, serverRefusal, TRUST_OPT_OUTS, WEAKENING_CLASSES,
  type PolicyExample, type PolicyRow, type ServerConfigRow, type TrustRow, type WeakeningClass,
} from "../../provider/policy";
import { providerFor } from "../../provider/kit/host";
import { UNKNOWN } from "../../provider/rules/values";

const run = (ex: PolicyExample) => assess(ex.config ?? {}, ex.devices ?? {});

const isServerRow = (row: PolicyRow): row is ServerConfigRow | TrustRow => row.on === "server config" || row.on === "trust";
const INSTANCE_ROWS = POLICY.filter((r) => !isServerRow(r));
const SERVER_ROWS = POLICY.filter(isServerRow);

describe.each(INSTANCE_ROWS.map((row): [string, PolicyRow] => [ruleOf(row), row]))("row %s", (rule, row) => {
  test("has a refused example that this row finds, refused without opt-outs", () => {
    expect(row.examples?.refused).toBeDefined();
    const found = run(row.examples.refused);
    expect(found.filter((f) => f.rule === rule)).not.toHaveLength(0);
    expect(found.map((f) => f.class).filter((c) => c !== row.class)).toEqual([]); // the example shows this row alone
    expect(applyOptOuts(found, []).weakened).toEqual([]);
    expect(refusalMessage(found[0])).toContain(found[0].key);
    // A device finding names the property it is about (InstanceDevice reports the refusal on it): one the device
    // has, or one its reason says is missing.
    if (row.on === "device") {
      const [device] = Object.values(row.examples.refused.devices ?? {});
      for (const f of found) {
        expect(f.property).toMatch(/^[a-z][a-z0-9._-]*$/);
        if (!(f.property! in device)) expect(f.reason).toContain(`no ${f.property}`);
      }
    }
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

/** A server or trust row's example, judged the way its kind judges it. */
const runServer = (row: ServerConfigRow | TrustRow, ex: PolicyExample) => (row.on === "server config" ? judgeServerConfig(ex.server ?? {}) : judgeTrust(ex.trust?.restricted ?? true));

describe.each(SERVER_ROWS.map((row): [string, ServerConfigRow | TrustRow] => [ruleOf(row), row]))("row %s", (rule, row) => {
  test("has a refused example that this row finds, refused without opt-outs, naming the key and the opt-out", () => {
    const found = runServer(row, row.examples.refused);
    expect(found.filter((f) => f.rule === rule)).not.toHaveLength(0);
    expect(found.map((f) => f.class).filter((c) => c !== row.class)).toEqual([]);
    expect(assess(row.examples.refused.config ?? {}, row.examples.refused.devices ?? {})).toEqual([]); // a server subject: no instance rows judge it
    const { refused, warnings } = applyServerOptOuts(found, []);
    expect(refused).toEqual(found);
    expect(warnings).toEqual([]);
    const key = found[0].key.replace(/^config\./, "");
    expect(serverRefusal(found[0])).toContain(key);
    expect(serverRefusal(found[0])).toContain(`add "${row.class}" to securityOptOuts`);
    if (key === "core.trust_password") expect(serverRefusal(found[0])).not.toContain(Object.values(row.examples.refused.server ?? {})[0]);
  });

  test("has an opted-out example: accepted with its class and reported as a warning", () => {
    expect(row.examples.optedOut).not.toBe("cannot be opted out");
    const ex = row.examples.optedOut as PolicyExample;
    const found = runServer(row, ex);
    expect(found.filter((f) => f.rule === rule)).not.toHaveLength(0);
    expect(applyServerOptOuts(found, []).refused).toEqual(found);
    const others = [...SERVER_OPT_OUTS, ...TRUST_OPT_OUTS].filter((c) => c !== row.class);
    expect(applyServerOptOuts(found, others).refused).toEqual(found);
    const { refused, warnings } = applyServerOptOuts(found, [row.class]);
    expect(refused).toEqual([]);
    expect(warnings.filter((w) => w.includes(`(${row.class}, opted out)`))).toHaveLength(found.length);
  });

  test("the kind it belongs to refuses the refused example at check, and accepts it with the opt-out", async () => {
    const ex = row.examples.refused;
    const [kind, news] = row.on === "server config"
      ? (["server-settings", { config: ex.server }] as const)
      : (["trust-token", { name: "t1", restricted: ex.trust!.restricted, projects: [] }] as const);
    const provider = providerFor(kind) as unknown as { check(o: object, n: object): Promise<{ failures?: { property: string; reason: string }[] }> };
    const refused = await provider.check({}, { ...news, __provider: "x" });
    expect(refused.failures?.map((f) => f.reason)).toEqual([expect.stringContaining(`add "${row.class}" to securityOptOuts`)]);
    const accepted = await provider.check({}, { ...news, securityOptOuts: [row.class], __provider: "x" });
    expect(accepted.failures ?? []).toEqual([]);
  });

  test("judges nothing that is a preview unknown", () => {
    if (row.on === "server config") expect(judgeServerConfig(Object.fromEntries(Object.keys(row.examples.refused.server ?? {}).map((k) => [k, PREVIEW_UNKNOWN])))).toEqual([]);
    else expect(judgeTrust(PREVIEW_UNKNOWN)).toEqual([]);
  });
});

test("rows have unique names, and every opt-out-able class has a row (instance classes on instance rows, server and trust classes on theirs)", () => {
  const rules = POLICY.map(ruleOf);
  expect(new Set(rules).size).toBe(rules.length);
  for (const c of WEAKENING_CLASSES) expect(INSTANCE_ROWS.some((r) => r.class === c)).toBe(true);
  for (const c of SERVER_OPT_OUTS) expect(SERVER_ROWS.some((r) => r.on === "server config" && r.class === c)).toBe(true);
  for (const c of TRUST_OPT_OUTS) expect(SERVER_ROWS.some((r) => r.on === "trust" && r.class === c)).toBe(true);
  expect(SERVER_ROWS.every((r) => [...SERVER_OPT_OUTS, ...TRUST_OPT_OUTS].includes(r.class as never))).toBe(true);
});

test("policyRows gives the table in plain form, top to bottom, for a generated doc", () => {
  const rows = policyRows();
  expect(rows).toHaveLength(POLICY.length);
  expect(JSON.parse(JSON.stringify(rows))).toEqual(rows); // no functions, nothing lost
  expect(rows[0]).toMatchObject({ on: "config", rule: "config * except raw.*, cloud-init.*, user.*, image.*", class: "injection", optOut: false });
  expect(rows.find((r) => r.rule === "config security.privileged")).toEqual({
    on: "config", rule: "config security.privileged", class: "privileged", optOut: true, optOutIn: "Instance, Profile", hardened: "false",
    when: "not an LXD spelling of false (false, 0, no, off in any case), or empty", reason: "a privileged container's root is the host's root",
  });
  expect(rows.filter((r) => r.on === "raw.lxc").map((r) => r.rule)).toContain("raw.lxc lxc.apparmor.*");
  expect(rows.filter((r) => r.on === "device").map((r) => r.class)).toContain("idmap");
  expect(rows.find((r) => r.rule === "server config core.trust_password")).toMatchObject({ on: "server config", class: "trust-password", optOut: true, optOutIn: "ServerSettings" });
  expect(rows.find((r) => r.rule === "trust restricted")).toMatchObject({ on: "trust", class: "unrestricted", optOut: true, optOutIn: "TrustCertificate, TrustToken", when: "false" });
  expect(rows.find((r) => r.class === "injection")).not.toHaveProperty("optOutIn");
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
