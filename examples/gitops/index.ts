/**
 * GitOps: the containers are data in stack config, the LXD connection comes from stack config set by CI, and
 * this program holds no hosts, names or credentials. A pull request changes `Pulumi.<stack>.yaml`; CI previews
 * it; merging to main applies it (see ci-workflow.yml).
 *
 * Stack config (`Pulumi.<stack>.yaml`):
 *
 *   config:
 *     lxd-gitops:containers:
 *       - name: web
 *         limits: { cpu: 2, memory: 1GiB }
 *       - name: builder
 *         image: ubuntu/24.04
 *         nesting: { workload: docker }
 *         running: false
 *     lxd-gitops:image: pulumi-lxd-test           # default image (else $LXD_IMAGE)
 *     lxd-gitops:project: default                 # else $LXD_PROJECT
 *     # The connection, read by the resources' provider where it runs (set by CI from secrets):
 *     lxd:url: https://<lxd-host>:8443
 *     lxd:serverFingerprint: <sha256 of the LXD server certificate>
 *     lxd:clientCert: <PEM>
 *     lxd:clientKey: { secure: ... }               # pulumi config set --secret lxd:clientKey
 *
 * Without `lxd:url` (or LXD_URL in the environment) the local unix socket is used.
 */
import * as pulumi from "@pulumi/pulumi";
// In your own program: import * as lxd from "pulumi-lxd-hardened";
import * as lxd from "../../index";

/** One entry of the `containers` stack config. */
interface ContainerSpec {
  /** Container (and profile) name. */
  name: string;
  /** Image; default: the `image` config, then $LXD_IMAGE, then `pulumi-lxd-test`. */
  image?: string;
  /** Limits (cpu, memory, processes); default 1 CPU, 1GiB, 2000 processes. */
  limits?: lxd.ContainerLimits;
  /** Nesting, e.g. `{workload: docker}`. */
  nesting?: lxd.Nesting;
  /** Running (default) or stopped. */
  running?: boolean;
  /** Extra instance config (`user.*`, `cloud-init.user-data`, …). */
  config?: Record<string, string>;
}

const config = new pulumi.Config();
const specs = config.requireObject<ContainerSpec[]>("containers");
const defaultImage = config.get("image") || process.env.LXD_IMAGE || "pulumi-lxd-test";
const project = config.get("project") || process.env.LXD_PROJECT || undefined;

const containers = specs.map(
  (spec) =>
    new lxd.HardenedContainer(spec.name, {
      name: spec.name,
      project,
      image: spec.image ?? defaultImage,
      limits: spec.limits,
      nesting: spec.nesting,
      running: spec.running,
      config: spec.config,
    }),
);

export const names = containers.map((c) => c.name);
export const statuses = containers.map((c) => c.status);
export const securityReports = containers.map((c) => c.securityReport);
