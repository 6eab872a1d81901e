/**
 * One hardened LXD container with its own profile, on the LXD that `lxd:*` stack config points at (default:
 * the local unix socket).
 *
 * The container is unprivileged with an isolated idmap, LXD's seccomp policy plus the compat deny list and no
 * /dev/lxd; its profile holds the limits and the root disk, and nothing comes from the `default` profile (so
 * no NIC either: add one with `devices` on hosts that have a managed network).
 *
 *   pulumi config set image ubuntu/24.04        # optional; default: the local test image `pulumi-lxd-test`
 *   pulumi up
 *
 * Stack config: `image` (default `pulumi-lxd-test`), `name` (default `hardened-web`), `pool` (default `default`).
 */
import * as pulumi from "@pulumi/pulumi";
// In your own program: import * as lxd from "pulumi-lxd-hardened";
import * as lxd from "../../index";

const config = new pulumi.Config();

const web = new lxd.HardenedContainer("web", {
  name: config.get("name") ?? "hardened-web",
  image: config.get("image") ?? "pulumi-lxd-test",
  pool: config.get("pool") ?? "default",
  limits: { cpu: 1, memory: "256MiB", processes: 500 },
  config: { "user.purpose": "pulumi-lxd-hardened example" },
});

export const name = web.name;
export const status = web.status;
export const profile = web.profile.name;
export const securityReport = web.securityReport;
