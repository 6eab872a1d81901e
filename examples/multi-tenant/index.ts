/**
 * Two tenants on one LXD host, each in its own restricted project with a hardened container.
 *
 * Each tenant project (TenantProject) has its own images and profiles, project-wide limits, and LXD's project
 * restrictions: no privileged or non-isolated containers, no raw.lxc/low-level keys, no host devices, no host
 * networking, no nesting. Its `default` profile is hardened too, for what the tenant launches by hand.
 * Because each project keeps its own images, the image is imported into each project from a tarball.
 *
 *   pulumi config set --path 'tenants[0]' acme
 *   pulumi config set --path 'tenants[1]' globex
 *   pulumi config set imageFile ./my-image.tar.gz   # a unified image tarball (metadata.yaml + rootfs/)
 *   pulumi up
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
// In your own program: import * as lxd from "pulumi-lxd-hardened";
import * as lxd from "../../index";

const config = new pulumi.Config();
const tenants = config.getObject<string[]>("tenants") ?? ["tenant-a", "tenant-b"];
// In this repository: the busybox test image that `bash scripts/build-test-image.sh` writes.
const imageFile = path.resolve(config.get("imageFile") || path.join(__dirname, "..", "..", ".cache", "pulumi-lxd-test.tar.gz"));

const created = tenants.map((tenant) => {
  const project = new lxd.TenantProject(tenant, {
    description: `Tenant ${tenant}`,
    limits: { instances: 5, cpu: 5, memory: "5GiB", processes: 10000 },
  });
  // The tenant's own copy of the image (the project has features.images=true).
  const image = new lxd.Image(`${tenant}-image`, {
    file: imageFile,
    project: project.name,
    aliases: [{ name: "base", description: "base image of the tenant's containers" }],
  });
  const web = new lxd.HardenedContainer(`${tenant}-web`, {
    project: project.name,
    image: image.fingerprint,
    limits: { cpu: 1, memory: "512MiB", processes: 1000 },
  });
  return { tenant, project, web };
});

export const projects = created.map((t) => t.project.name);
export const defaultProfiles = created.map((t) => t.project.profile.name);
export const containers = created.map((t) => ({ project: t.web.project, name: t.web.name, status: t.web.status }));
export const securityReports = created.map((t) => t.web.securityReport);
