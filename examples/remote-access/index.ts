/**
 * Remote access for one tenant: the LXD server listens on one named address, the tenant gets a restricted
 * project, and the tenant's client certificate is trusted for that project only.
 *
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -nodes -keyout tenant.key -out tenant.crt \
 *     -days 3650 -subj /CN=tenant-a -addext extendedKeyUsage=clientAuth       # on the tenant's machine
 *   pulumi config set address 192.0.2.10:8443      # the address the tenant reaches (default 127.0.0.1:8443)
 *   pulumi config set tenant acme
 *   pulumi config set clientCertificate ./tenant.crt
 *   pulumi up
 *
 * The tenant then talks to `url`, pinning `serverFingerprint`, with its key and certificate
 * (`lxc remote add` or the package's `connection: {url, clientCert, clientKeyFile, serverFingerprint}`). On
 * destroy, the server's address goes back to what it was before the stack (unset: LXD stops listening).
 */
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
// In your own program: import * as lxd from "pulumi-lxd-hardened";
import * as lxd from "../../index";

const config = new pulumi.Config();
const address = config.get("address") || "127.0.0.1:8443";
const tenant = config.get("tenant") || "tenant-a";
const certInput = config.require("clientCertificate");
const certificate = certInput.includes("-----BEGIN CERTIFICATE-----") ? certInput : fs.readFileSync(certInput, "utf8");

// The server listens on this one address (a wildcard bind would need securityOptOuts: ["wildcard-bind"]).
const server = new lxd.ServerSettings("server", { config: { "core.https_address": address } });

// The tenant's restricted project (own images and profiles, LXD's project restrictions, limits).
const project = new lxd.TenantProject(tenant, {
  description: `Tenant ${tenant}`,
  limits: { instances: 5, cpu: 4, memory: "4GiB", processes: 10000 },
});

// The tenant's certificate, trusted for its project only (restricted is the default).
const client = new lxd.TrustCertificate(`${tenant}-client`, {
  certificate,
  projects: [project.name],
}, { dependsOn: [server] });

export const url = server.config.apply((c) => `https://${c["core.https_address"]}`);
export const serverFingerprint = server.serverFingerprint;
export const projectName = project.name;
export const clientFingerprint = client.fingerprint;
export const clientProjects = client.projects;
export const warnings = pulumi.all([server.warnings, client.warnings]).apply(([a, b]) => [...a, ...b]);
