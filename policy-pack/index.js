// The CrossGuard policy pack of pulumi-lxd-hardened:
//   pulumi preview --policy-pack <this folder> [--policy-pack-config <file.json>]
// It loads the compiled policies from the package (../dist/policy-pack/policies.js: run `npm run build` in a
// checkout; an installed package ships them) and @pulumi/policy from the program's node_modules.
"use strict";
const { PolicyPack } = require("@pulumi/policy");
const { PACK_NAME, policies } = require("../dist/policy-pack/policies.js");

new PolicyPack(PACK_NAME, { policies, enforcementLevel: "mandatory" });
