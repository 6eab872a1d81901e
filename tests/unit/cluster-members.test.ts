/**
 * Member-specific configuration of StoragePool and Network (`members`), the parts that need no LXD: which keys may
 * go under `members`, what a clustered or a single server refuses (rules/members.ts, given the server's facts), the
 * per-member PATCH, the `members` output, and the kinds' checks that fail before any call to LXD.
 * tests/integration/cluster-storage-network.test.ts runs it all against the real 3-member test cluster.
 */
import { clusterFailures, managedMembers, memberKeyFailures, memberPatch } from "../../provider/rules/members";
import { MEMBER_SPECIFIC_POOL_KEYS } from "../../provider/rules/storage-pool";
import { storagePoolKind } from "../../provider/kinds/storage-pool";
import { networkKind, networkMemberKeys } from "../../provider/kinds/network";

const noLxd = () => {
  throw new Error("check must not reach LXD");
};
const checkPool = (news: Record<string, unknown>) => storagePoolKind.check(news, { olds: {}, open: noLxd });
const checkNet = (news: Record<string, unknown>) => networkKind.check(news, { olds: {}, open: noLxd });
const cluster = { clustered: true as const, members: ["node1", "node2", "node3"] };

describe("members: which keys", () => {
  it("takes only the driver's member-specific keys", () => {
    expect(memberKeyFailures({ node1: { source: "/srv/a", size: "1GiB" } }, MEMBER_SPECIFIC_POOL_KEYS.btrfs, 'driver "btrfs"')).toEqual([]);
    expect(memberKeyFailures({ node1: { size: "1GiB", "user.x": "1" } }, MEMBER_SPECIFIC_POOL_KEYS.dir, 'driver "dir"')).toEqual([
      { property: "members.node1.size", reason: 'members.node1 must hold only the member-specific keys of driver "dir" (source); other keys go in config, but "size" was provided' },
      { property: "members.node1.user.x", reason: 'members.node1 must hold only the member-specific keys of driver "dir" (source); other keys go in config, but "user.x" was provided' },
    ]);
  });
  it("rejects any member key of a remote driver (ceph has none)", () => {
    expect(memberKeyFailures({ node1: { source: "x" } }, MEMBER_SPECIFIC_POOL_KEYS.ceph, 'driver "ceph"')[0].reason).toMatch(/\(none: it is one for the whole cluster\)/);
  });
  it("gives a bridge its member keys without parent, a macvlan parent", () => {
    expect(networkMemberKeys("bridge")).toEqual(["bridge.external_interfaces", "bgp.ipv4.nexthop", "bgp.ipv6.nexthop"]);
    expect(networkMemberKeys("macvlan")).toEqual(["parent"]);
  });
});

describe("members: what the server refuses", () => {
  it("rejects members on a server that is not clustered, and takes config as before", () => {
    expect(clusterFailures({ clustered: false }, { source: "/srv/a" }, undefined, ["source"])).toEqual([]);
    expect(clusterFailures({ clustered: false }, {}, { node1: { source: "/srv/a" } }, ["source"])).toEqual([
      { property: "members", reason: 'members must be absent on a server that is not clustered (give those keys in config, or point connection at a cluster member), but {"node1":{"source":"/srv/a"}} was provided' },
    ]);
  });
  it("rejects a member-specific key in config on a cluster, naming the key and pointing to members", () => {
    expect(clusterFailures(cluster, { source: "/srv/a", "user.x": "1" }, undefined, ["source", "size"])).toEqual([
      { property: "config.source", reason: 'config.source must be given per cluster member on a clustered server (members: {<member>: {"source": …}}; LXD keeps it per member), but "/srv/a" was provided in config' },
    ]);
  });
  it("rejects a member the cluster does not have", () => {
    expect(clusterFailures(cluster, {}, { node9: { source: "/srv/a" } }, ["source"])).toEqual([
      { property: "members.node9", reason: 'members must name members of the cluster (node1, node2, node3), but "node9" was provided' },
    ]);
  });
  it("takes members of the cluster with global keys in config", () => {
    expect(clusterFailures(cluster, { "user.x": "1" }, { node1: { source: "/a" }, node3: {} }, ["source"])).toEqual([]);
  });
});

describe("members: output and writes", () => {
  it("reports the declared keys as each member has them, leaving a key the member lacks out (drift)", () => {
    const live = { node1: { source: "/a", size: "1GiB" }, node2: { source: "/lxd/filled" }, node3: {} };
    expect(managedMembers(live, { node1: { source: "/a" }, node3: { source: "/c" } })).toEqual({ node1: { source: "/a" }, node3: {} });
  });
  it("patches only what differs, and unsets a dropped key only when asked", () => {
    expect(memberPatch({ "bridge.external_interfaces": "eth1" }, {}, { "bridge.external_interfaces": "eth1" }, true)).toEqual({});
    expect(memberPatch({ "bridge.external_interfaces": "eth1" }, {}, { "bridge.external_interfaces": "eth2" }, true)).toEqual({ "bridge.external_interfaces": "eth2" });
    expect(memberPatch({ "bridge.external_interfaces": "eth1" }, { "bridge.external_interfaces": "eth1" }, {}, true)).toEqual({ "bridge.external_interfaces": "" });
    expect(memberPatch({ source: "/a" }, { source: "/a" }, {}, false)).toEqual({});
  });
});

describe("StoragePool and Network check (before any call to LXD)", () => {
  it("rejects a key that is not member-specific under members, with the driver's keys", async () => {
    const r = await checkPool({ name: "p1", driver: "dir", members: { node1: { source: "/srv/p1", "volume.size": "1GiB" } } });
    expect(r.failures).toEqual([{ property: "members.node1.volume.size", reason: expect.stringMatching(/member-specific keys of driver "dir" \(source\).*"volume.size" was provided/) }]);
  });
  it("rejects a member's bad size and a member's protected source like config's", async () => {
    const r = await checkPool({ name: "p1", driver: "btrfs", members: { node1: { size: "1G" }, node2: { source: "/var/lib/lxd/disks/x.img" } } });
    expect(r.failures).toEqual([
      { property: "members.node1.size", reason: expect.stringMatching(/^members\.node1\.size must be an LXD size.*"1G" was provided/) },
      { property: "members.node2.source", reason: expect.stringMatching(/^members\.node2\.source must not be LXD's or Incus's own data directory/) },
    ]);
  });
  it("rejects a network key under members that is not member-specific for the type (addresses are global)", async () => {
    const r = await checkNet({ name: "n1", members: { node1: { "ipv4.address": "none", parent: "eth0" } } });
    expect(r.failures?.map((f) => f.property)).toEqual(["members.node1.ipv4.address", "members.node1.parent"]);
  });
  it("needs no server when neither members nor a member-specific key is given, and normalises values", async () => {
    expect((await checkNet({ name: "n1", config: { "ipv4.address": "none", "bridge.mtu": 1400 } })).inputs).toMatchObject({ config: { "bridge.mtu": "1400" } });
    expect((await checkPool({ name: "p1", driver: "dir", members: {} })).inputs?.members).toBeUndefined();
  });
});
