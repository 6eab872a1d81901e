/**
 * The serialized side of every dynamic resource: a tiny provider whose methods load the kit by name when the
 * provider host runs them, and ask it for the registered kind. The engine stores this text as `__provider`;
 * keeping it small means it stays stable across versions of this package (no spurious diffs), nothing of the
 * implementation is walked by Pulumi's closure serializer, and no state or credential is captured.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import type { KindName } from "../provider/kit/registry";

/** This package's name in package.json: what the shim `require`s at run time. */
export const PACKAGE_NAME = "pulumi-lxd-hardened";

/** The package root: the nearest folder above this file with our package.json. */
function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, "utf8")).name === PACKAGE_NAME) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${__dirname}`);
    dir = up;
  }
}

/**
 * Builds the provider of the registered kind `kind`. At run time the kit is found as
 * `pulumi-lxd-hardened/dist/provider/kit/host.js` from the project directory (a normal install), else by the
 * package root's path relative to the project directory (a checkout of this repository).
 */
export function providerShim(kind: KindName): pulumi.dynamic.ResourceProvider {
  const relRoot = path.relative(process.cwd(), packageRoot()) || ".";
  const pkgName = PACKAGE_NAME;
  // Everything below is serialized: it may capture only the three strings above.
  return {
    configure(req: pulumi.dynamic.ConfigureRequest) {
      (this as { cfg?: unknown }).cfg = req.config;
    },
    check(olds, news) {
      return load().check(olds, news, cfg(this));
    },
    diff(id, olds, news) {
      return load().diff(id, olds, news, cfg(this));
    },
    create(inputs) {
      return load().create(inputs, cfg(this));
    },
    read(id, props) {
      return load().read(id, props, cfg(this));
    },
    update(id, olds, news) {
      return load().update(id, olds, news, cfg(this));
    },
    delete(id, props) {
      return load().delete(id, props, cfg(this));
    },
  } as pulumi.dynamic.ResourceProvider & { configure(req: pulumi.dynamic.ConfigureRequest): void };

  function cfg(self: unknown): unknown {
    return (self as { cfg?: unknown }).cfg;
  }
  function load() {
    // With the extension: the package's `exports` map paths as they are, without adding one.
    const sub = "dist/provider/kit/host.js";
    let mod;
    try {
      mod = require(`${pkgName}/${sub}`);
    } catch (err) {
      if ((err as { code?: string }).code !== "MODULE_NOT_FOUND") throw err;
      mod = require(require("path").resolve(process.cwd(), relRoot, sub));
    }
    return mod.providerFor(kind);
  }
}
