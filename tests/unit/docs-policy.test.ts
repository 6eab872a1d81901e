/**
 * docs/policy.md is generated from the policy's own source (scripts/gen-policy-doc.ts): the committed page must be
 * exactly what the script generates, so the page cannot drift from `POLICY`.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { POLICY_DOC, renderPolicyDoc } from "../../scripts/gen-policy-doc";
import { policyRows, WEAKENING_CLASSES } from "../../provider/policy";

const root = path.join(__dirname, "..", "..");

describe("docs/policy.md", () => {
  const page = renderPolicyDoc();

  test("the committed page is what npm run docs:policy generates", () => {
    const committed = fs.readFileSync(path.join(root, POLICY_DOC), "utf8");
    // On failure: run `npm run docs:policy` and commit docs/policy.md.
    expect(committed).toBe(page);
  });

  test("the generated page lists every row of the policy table and every class", () => {
    for (const row of policyRows()) expect(page).toContain(row.reason.replace(/\|/g, "\\|"));
    for (const c of [...WEAKENING_CLASSES, "injection"]) expect(page).toContain(`| \`${c}\` |`);
  });

  test("npm run docs:policy -- --check fails when a page differs from the policy, and passes when it does not", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "policy-doc-"));
    const check = (text: string) => {
      const file = path.join(dir, "policy.md");
      fs.writeFileSync(file, text);
      return spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/gen-policy-doc.ts", "--check", "--file", file], { cwd: root, encoding: "utf8" });
    };
    try {
      const rows = policyRows();
      const edited = check(page.replace(rows[1].reason, `${rows[1].reason} (edited by hand)`));
      expect(edited.stderr).toContain("differs from what scripts/gen-policy-doc.ts generates");
      expect(edited.status).toBe(1);
      const same = check(page);
      expect(same.stdout).toContain("is up to date");
      expect(same.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
