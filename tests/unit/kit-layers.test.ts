/**
 * The kit's layering, checked on the compiled package (`npm test` builds dist/ first): the provider host loads
 * only the kit, the client, the policy, the rules and the kinds (never @pulumi/pulumi, never a resource class);
 * the program-side resource classes never load the REST client or the kit; providers never import components.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { KINDS } from "../../provider/kit/registry";

const root = path.resolve(__dirname, "..", "..");

/** The modules a fresh node process loads for `script`, relative to the repository (node_modules by package). */
function loadedBy(script: string): string[] {
  const out = execFileSync(process.execPath, ["-e", `${script}; console.log(JSON.stringify(Object.keys(require.cache)))`], { cwd: root, encoding: "utf8" });
  return (JSON.parse(out.trim().split("\n").pop()!) as string[]).map((p) => {
    const nm = p.lastIndexOf("node_modules/");
    return nm >= 0 ? `node_modules/${p.slice(nm + 13).split("/").slice(0, p.slice(nm + 13).startsWith("@") ? 2 : 1).join("/")}` : path.relative(root, p);
  });
}

test("the provider host loads the kit and every kind without @pulumi/pulumi and without resources/ or components/", () => {
  const loaded = loadedBy(`const h = require("./dist/provider/kit/host.js"); for (const k of ${JSON.stringify(Object.keys(KINDS))}) h.providerFor(k)`);
  expect(loaded).toContain("dist/provider/kinds/instance.js");
  expect(loaded).toContain("dist/provider/lxd/client.js");
  expect(loaded.filter((m) => m.startsWith("node_modules/@pulumi") || m.startsWith("dist/resources/") || m.startsWith("dist/components/"))).toEqual([]);
});

test("the provider host loads only the kind it runs", () => {
  const loaded = loadedBy(`require("./dist/provider/kit/host.js").providerFor("profile")`);
  expect(loaded).toContain("dist/provider/kinds/profile.js");
  expect(loaded.filter((m) => m.startsWith("dist/provider/kinds/") && m !== "dist/provider/kinds/profile.js")).toEqual([]);
});

test("fails when a kind is not registered, naming the known ones", () => {
  const { providerFor } = require(path.join(root, "dist/provider/kit/host.js")) as { providerFor(n: string): unknown };
  expect(() => providerFor("nope")).toThrow(/"nope" is not a resource kind of this version of pulumi-lxd-hardened \(known: instance, profile/);
});

test("the resource classes (program side) load neither the REST client nor the kit", () => {
  const loaded = loadedBy(fs.readdirSync(path.join(root, "resources")).filter((f) => f.endsWith(".ts")).map((f) => `require("./dist/resources/${f.replace(/\.ts$/, ".js")}")`).join(";"));
  expect(loaded).toContain("dist/resources/instance.js");
  expect(loaded.filter((m) => m.startsWith("dist/provider/lxd/") || m.startsWith("dist/provider/kit/") || m.startsWith("dist/provider/kinds/") || m === "node_modules/undici")).toEqual([]);
});

test("providers import nothing from components/", () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(".ts") && /from "(\.\.\/)+components/.test(fs.readFileSync(p, "utf8"))) offenders.push(path.relative(root, p));
    }
  };
  walk(path.join(root, "provider"));
  expect(offenders).toEqual([]);
});
