/**
 * The main job is `pulumi up` of the root Pulumi.yaml (scripts/up.sh). The engine cannot run here, so this
 * checks what the engine would read: the program exists, the runtime is Node.js with TypeScript, and the
 * stack config the project declares matches the example's own project file (same keys, same defaults).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

const root = path.resolve(__dirname, "..", "..");
const read = (p: string) => parse(fs.readFileSync(path.join(root, p), "utf8"));

test("the root Pulumi.yaml runs the hardened-container example with its config", () => {
  const project = read("Pulumi.yaml");
  expect(project.runtime).toMatchObject({ name: "nodejs", options: { typescript: true } });
  expect(fs.existsSync(path.join(root, project.main))).toBe(true);
  expect(project.main).toBe("examples/hardened-container/index.ts");
  const example = read("examples/hardened-container/Pulumi.yaml");
  const defaults = (cfg: Record<string, { default?: unknown }>) => Object.fromEntries(Object.entries(cfg).map(([k, v]) => [k, v.default]));
  expect(defaults(project.config)).toEqual(defaults(example.config));
});

test("scripts/up.sh prepares LXD, builds, and runs pulumi up with a local backend", () => {
  const script = fs.readFileSync(path.join(root, "scripts/up.sh"), "utf8");
  expect(script).toMatch(/lxd-setup\.sh/);
  expect(script).toMatch(/npm run build/);
  expect(script).toMatch(/PULUMI_BACKEND_URL=.*file:\/\//);
  expect(script).toMatch(/pulumi up --yes/);
});
