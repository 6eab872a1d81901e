/**
 * Instances placed in an LXD cluster: one pinned to a member, one on a cluster group, and a hardened container
 * with three replicas spread round-robin over the members. (Per-member storage pools and networks come later.)
 *
 *   pulumi config set socketPath /var/lib/lxd-cluster/node1/unix.socket   # the test cluster (scripts/cluster-setup.sh up)
 *   pulumi up
 *
 * Changing `target` later moves an instance in place (a stopped one at once; a running one only with
 * `allowRestartForMove: true`). See docs/cluster.md.
 *
 * Stack config: `prefix` (default `demo`), `members` (default `["node1", "node2", "node3"]`), `socketPath`
 * (default: the local LXD), `image` (default `pulumi-lxd-test`).
 */
import * as pulumi from "@pulumi/pulumi";
// In your own program: import * as lxd from "pulumi-lxd-hardened";
import * as lxd from "../../index";

const config = new pulumi.Config();
const prefix = config.get("prefix") ?? "demo";
const members = config.getObject<string[]>("members") ?? ["node1", "node2", "node3"];
const socketPath = config.get("socketPath");
const image = config.get("image") ?? "pulumi-lxd-test";
const connection = socketPath ? { socketPath } : undefined;

// A cluster group of the last two members; they keep their other groups (`default`).
const pool = new lxd.ClusterGroup(`${prefix}-pool`, {
  description: "members for background workers",
  members: members.slice(1),
  connection,
});

// Pinned to the first member.
const db = new lxd.Instance(`${prefix}-db`, {
  image,
  target: members[0],
  config: { "limits.memory": "256MiB" },
  connection,
});

// On any member of the group (LXD picks one at create).
const worker = new lxd.Instance(`${prefix}-worker`, {
  image,
  target: pulumi.interpolate`@${pool.name}`,
  config: { "limits.memory": "256MiB" },
  connection,
});

// Three replicas `<prefix>-web-1..3`, one per member in order, sharing one hardened profile.
const web = new lxd.HardenedContainer(`${prefix}-web`, {
  image,
  limits: { cpu: 1, memory: "128MiB", processes: 500 },
  replicas: { count: 3, targets: members },
  connection,
});

export const groupMembers = pool.members;
export const dbLocation = db.location;
export const workerLocation = worker.location;
export const webLocations = web.locations;
