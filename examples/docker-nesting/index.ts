/**
 * A hardened LXD container that can run Docker inside, without becoming privileged.
 *
 * `nesting: {workload: "docker"}` sets `security.nesting=true`, gives the container an isolated idmap of 131072
 * ids (Docker's own user namespace needs a second 65536-id block next to the container's) and enables LXD's
 * safe `mknod` and `setxattr` syscall interception that Docker's overlay filesystem and device nodes need. The
 * container stays unprivileged with LXD's seccomp policy; `securityReport` shows `nesting: true` and the idmap.
 *
 *   pulumi config set image ubuntu/24.04        # an image where Docker can be installed
 *   pulumi up
 *
 * Stack config: `image` (default `pulumi-lxd-test`, which has no Docker: it only proves the settings),
 * `name` (default `docker-host`).
 */
import * as pulumi from "@pulumi/pulumi";
// In your own program: import * as lxd from "pulumi-lxd-hardened";
import * as lxd from "../../index";

const config = new pulumi.Config();

const dockerHost = new lxd.HardenedContainer("docker-host", {
  name: config.get("name") ?? "docker-host",
  image: config.get("image") ?? "pulumi-lxd-test",
  nesting: { workload: "docker" },
  // Docker images and layers need room and processes.
  limits: { cpu: 2, memory: "2GiB", processes: 10000 },
});

export const name = dockerHost.name;
export const status = dockerHost.status;
export const idmapSize = dockerHost.securityReport.idmapSize;
export const securityReport = dockerHost.securityReport;
