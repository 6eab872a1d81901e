/**
 * The package as a user gets it: `npm pack`ed, unpacked into a project's node_modules, and used from that
 * project directory (the provider host's working directory, as the engine starts it). The serialized shim must
 * find the implementation by package name there — not through this repository's paths.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startProviderHost, urn, withProvider, dynamicResourceType, type ProviderHost } from "../support/provider-host";
import { instanceExists, localClient, TEST_IMAGE } from "../support/lxd";
import { randomName } from "../support/engine";

const repo = path.resolve(__dirname, "..", "..");
let project: string;
let host: ProviderHost | undefined;

beforeAll(() => {
  project = fs.mkdtempSync(path.join(os.tmpdir(), "user-project-"));
  const modules = path.join(project, "node_modules");
  fs.mkdirSync(modules);
  // Pack exactly what would be published (package.json "files"), then unpack it as npm would install it.
  const tarball = execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", project], { cwd: repo, encoding: "utf8" }).trim().split("\n").pop()!;
  execFileSync("tar", ["-xzf", path.join(project, tarball), "-C", modules]);
  fs.renameSync(path.join(modules, "package"), path.join(modules, "pulumi-lxd-hardened"));
  // Its dependencies (and the SDK, a peer dependency), as the user's install provides them.
  for (const dep of ["@pulumi", "@grpc", "zod", "undici", "yaml", "google-protobuf"]) {
    if (fs.existsSync(path.join(repo, "node_modules", dep))) fs.symlinkSync(path.join(repo, "node_modules", dep), path.join(modules, dep));
  }
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "user-project", private: true }));
});

afterAll(async () => {
  await host?.close();
  fs.rmSync(project, { recursive: true, force: true });
});

test("a user's project serializes the installed package's shim, which finds the implementation by package name", async () => {
  // Serialized where the user's program runs, from the installed copy.
  const text = execFileSync(process.execPath, ["-e", `
    const { providerShim } = require("pulumi-lxd-hardened/dist/resources/shim.js");
    const { serializeFunction } = require("@pulumi/pulumi/runtime/closure/serializeClosure");
    const p = providerShim("instance");
    serializeFunction(() => p, { allowSecrets: true }).then((s) => process.stdout.write(s.text));
  `], { cwd: project, encoding: "utf8" });
  expect(text).toContain('relRoot: "node_modules/pulumi-lxd-hardened"');
  expect(text).not.toContain(repo); // no path of this checkout leaks into the user's state

  // By name alone: with the path fallback pointed nowhere, the shim still loads and checks.
  const byName = text.replace('relRoot: "node_modules/pulumi-lxd-hardened"', 'relRoot: "nowhere"');
  const checkedByName = execFileSync(process.execPath, ["-e", `
    const p = require(require.resolve("require-from-string", { paths: [require.resolve("@pulumi/pulumi")] }))(process.argv[1]).handler();
    p.check({}, { name: "by-name", image: "x" }).then((r) => process.stdout.write(JSON.stringify(r.failures ?? [])));
  `, byName], { cwd: project, encoding: "utf8" });
  expect(JSON.parse(checkedByName)).toEqual([]);

  host = await startProviderHost({ cwd: project });
  const name = randomName();
  const u = urn(dynamicResourceType("lxd", "Instance"), name);
  const checked = await host.check(u, {}, withProvider({ name, image: TEST_IMAGE }, text));
  expect(checked.failures).toEqual([]);
  const lxd = localClient();
  try {
    const created = await host.create(u, checked.inputs);
    expect(created.properties.status).toBe("Running");
    await host.delete(created.id, u, created.properties);
    expect(await instanceExists(lxd, name)).toBe(false);
  } finally {
    await lxd.close();
  }
});
