/**
 * Instances placed in an LXD cluster: one pinned to a member, one on a cluster group, and a hardened container
 * with three replicas spread round-robin over the members; a `dir` storage pool with its own directory on each
 * member, and a bridge without addresses on every member (member-specific keys go in `members`).
 *
 *   pulumi config set socketPath /var/lib/lxd-cluster/node1/unix.socket   # the test cluster (scripts/cluster-setup.sh up)
 *   pulumi up
 *
 * Changing `target` later moves an instance in place (a stopped one at once; a running one only with
 * `allowRestartForMove: true`). See docs/cluster.md.
 *
 * Stack config: `prefix` (default `demo`), `members` (default `["node1", "node2", "node3"]`), `socketPath`
 * (default: the local LXD), `image` (default `pulumi-lxd-test`), `poolRoot` (default `/srv/lxd-pools`: the pool's
 * source on member `m` is `<poolRoot>/<m>`, a directory that must exist on that member's host), `uplinks` (optional,
 * member → host interface to attach to the bridge on that member, e.g. `{"node1": "eth1"}`; default none).
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
const poolRoot = config.get("poolRoot") ?? "/srv/lxd-pools";
const uplinks = config.getObject<Record<string, string>>("uplinks") ?? {};

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

// A directory pool with its own place on each member: `source` is member-specific, so it goes per member in
// `members` (in `config` it would be refused on a cluster). LXD creates it pending on every member, then once.
const data = new lxd.StoragePool(`${prefix}-data`, {
  driver: "dir",
  config: { "volume.size": "1GiB" },
  members: Object.fromEntries(members.map((m) => [m, { source: `${poolRoot}/${m}` }])),
  connection,
});

// A bridge on every member, without addresses (an L2 segment: nothing routed, nothing NATed). Host interfaces to
// enslave are member-specific (`bridge.external_interfaces`), given per member when configured.
const l2 = new lxd.Network(`${prefix}-l2`, {
  config: { "ipv4.address": "none", "ipv6.address": "none" },
  members: Object.fromEntries(Object.entries(uplinks).map(([m, nic]) => [m, { "bridge.external_interfaces": nic }])),
  description: "L2 segment on every member",
  connection,
});

export const groupMembers = pool.members;
export const dataSources = data.memberConfig;
export const dataLocations = data.locations;
export const l2Locations = l2.memberConfig.apply((c) => Object.keys(c ?? {}));
export const dbLocation = db.location;
export const workerLocation = worker.location;
export const webLocations = web.locations;
