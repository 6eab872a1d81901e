/**
 * The NetworkAcl resource against the real LXD through the provider host (API extension `network_acl`).
 * Rules are only stored and attached here: nothing sends traffic.
 */
import { startProviderHost, rejected, type ProviderHost } from "../support/provider-host";
import { MiniEngine, randomName } from "../support/engine";
import { gone, instanceExists, localClient, removeInstance, TEST_IMAGE } from "../support/lxd";
import { dropStaleNicFilterRules } from "../support/nic-filters";
import { deleteNetwork, deleteNetworkAcl, getInstance, getNetworkAcl, updateNetworkAcl, type LxdClient } from "../../provider/lxd";

let host: ProviderHost;
let lxd: LxdClient;
beforeAll(async () => {
  host = await startProviderHost();
  lxd = localClient();
});
afterAll(async () => {
  await host?.close();
  await lxd?.close();
});

const exists = async (name: string) => !(await gone(() => getNetworkAcl(lxd, name)));
const removeAcl = (name: string) => deleteNetworkAcl(lxd, name).catch(() => undefined);

test("lifecycle: rules map to LXD's keys, read back with no diff, update in place, drift is shown and removed, delete leaves nothing", async () => {
  expect(await lxd.hasExtension("network_acl")).toBe(true);
  const name = randomName("acl");
  const e = new MiniEngine(host, "network-acl", name, "NetworkAcl");
  try {
    const inputs = {
      name,
      description: "web",
      ingress: [{ action: "allow", protocol: "tcp", source: "10.0.0.0/8,192.168.1.10-192.168.1.20", destinationPort: 22, description: "ssh" }],
      egress: [{ action: "drop", protocol: "icmp4", icmpType: 8, icmpCode: "0", state: "logged" }],
      config: { "user.team": "a" },
    };
    const created = await e.up(inputs);
    const live = (await getNetworkAcl(lxd, name)).value;
    expect(live.ingress).toEqual([expect.objectContaining({ action: "allow", protocol: "tcp", source: "10.0.0.0/8,192.168.1.10-192.168.1.20", destination_port: "22", description: "ssh", state: "enabled" })]);
    expect(live.egress).toEqual([expect.objectContaining({ action: "drop", protocol: "icmp4", icmp_type: "8", icmp_code: "0", state: "logged" })]);
    expect(live.config).toEqual({ "user.team": "a" });
    expect(created.outputs.usedBy).toEqual([]);
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");

    const changed = { ...inputs, ingress: [...inputs.ingress, { action: "reject", protocol: "udp", sourcePort: "1000-2000,53" }], egress: [] };
    await e.up(changed);
    expect(e.lastAction).toBe("update");
    const after = (await getNetworkAcl(lxd, name)).value;
    expect(after.ingress.map((r) => r.action)).toEqual(["allow", "reject"]);
    expect(after.ingress[1].source_port).toBe("1000-2000,53");
    expect(after.egress).toEqual([]);

    const { value, etag } = await getNetworkAcl(lxd, name);
    await updateNetworkAcl(lxd, name, { description: value.description, config: value.config, ingress: value.ingress, egress: [{ action: "allow", state: "enabled" }] }, etag);
    await e.refresh();
    expect((await e.diff(changed)).changes).toBe("some");
    await e.up(changed);
    expect((await getNetworkAcl(lxd, name)).value.egress).toEqual([]);
    expect((await e.diff({ ...changed, name: `${name}-b` })).replaces).toContain("name");

    await e.destroy();
    expect(await exists(name)).toBe(false);
  } finally {
    await removeAcl(name);
  }
});

test("rejects ports without tcp/udp, icmp fields without icmp, bad subjects, bad ports, bad actions and names, before any call to LXD", async () => {
  const name = randomName("acl");
  const e = new MiniEngine(host, "network-acl", name, "NetworkAcl");
  const r = await e.check({
    name,
    ingress: [
      { action: "allow", protocol: "icmp4", destinationPort: "22" },
      { action: "allow", protocol: "tcp", icmpType: "8" },
      { action: "allow", source: "10.0.0.0/33" },
      { action: "allow", protocol: "udp", destinationPort: "70000" },
      { action: "permit" },
      { action: "drop", destination: "bad name!" },
      { action: "drop", state: "on" },
    ],
  });
  const byProperty = Object.fromEntries(r.failures.map((f) => [f.property, f.reason]));
  expect(byProperty["ingress.0.destinationPort"]).toMatch(/destinationPort must be used with protocol tcp or udp, but protocol "icmp4" was provided/);
  expect(byProperty["ingress.1.icmpType"]).toMatch(/icmpType must be used with protocol icmp4 or icmp6/);
  expect(byProperty["ingress.2.source"]).toMatch(/"10.0.0.0\/33" is not a CIDR/);
  expect(byProperty["ingress.3.destinationPort"]).toMatch(/"70000" is not a port/);
  expect(byProperty["ingress.4.action"]).toBeDefined();
  expect(byProperty["ingress.5.destination"]).toMatch(/"bad name!"/);
  expect(byProperty["ingress.6.state"]).toBeDefined();
  expect(Object.keys(byProperty)).toHaveLength(7);
  expect((await e.check({ name: "1-starts-with-a-digit" })).failures.map((f) => f.property)).toEqual(["name"]);
  const ok = await e.check({ name, egress: [{ action: "allow", destination: "@external,@internal,other-acl,fd00::/8,::1" }] });
  expect(ok.failures).toEqual([]);
  expect(await exists(name)).toBe(false);
});

test("delete of an ACL in use is refused before anything changes, naming what uses it", async () => {
  const a = randomName("acl");
  const b = randomName("acl");
  const ea = new MiniEngine(host, "network-acl", a, "NetworkAcl");
  const eb = new MiniEngine(host, "network-acl", b, "NetworkAcl");
  try {
    await ea.up({ name: a, ingress: [{ action: "allow", protocol: "tcp", destinationPort: "80" }] });
    // Another ACL naming it as a subject uses it (LXD lists it in used_by).
    await eb.up({ name: b, ingress: [{ action: "allow", source: a }] });
    const refused = await rejected(ea.destroy());
    expect(refused.message).toContain(`network ACL "${b}"`);
    expect(refused.message).toMatch(/nothing was changed/);
    expect((await getNetworkAcl(lxd, a)).value.ingress).toHaveLength(1);
    await eb.destroy();
    await ea.destroy();
    expect(await exists(a)).toBe(false);
  } finally {
    await removeAcl(b);
    await removeAcl(a);
  }
});

test("an ACL attached to a bridge nic (security.acls) and detached; LXD without network_bridge_acl_devices refuses the attach, and no instance is left", async () => {
  const acl = randomName("acl");
  const net = randomName("nw");
  const inst = randomName("acln");
  const ea = new MiniEngine(host, "network-acl", acl, "NetworkAcl");
  const n = new MiniEngine(host, "network", net, "Network");
  const i = new MiniEngine(host, "instance", inst, "Instance");
  let veth: string | undefined;
  try {
    await ea.up({ name: acl, ingress: [{ action: "allow", protocol: "tcp", destinationPort: "22" }] });
    await n.up({ name: net, config: { "ipv4.address": "none", "ipv6.address": "none" } });
    const nic = { type: "nic", network: net, name: "eth0" };
    const attached = { name: inst, image: TEST_IMAGE, running: false, devices: { eth0: { ...nic, "security.acls": acl } } };
    if (!(await lxd.hasExtension("network_bridge_acl_devices"))) {
      const err = await rejected(i.up(attached));
      expect(err.message).toMatch(/Invalid device option "security\.acls"/);
      expect(await instanceExists(lxd, inst)).toBe(false);
      return;
    }
    await i.up(attached);
    veth = (await getInstance(lxd, inst)).value.config?.["volatile.eth0.host_name"];
    expect((await getInstance(lxd, inst)).value.devices.eth0["security.acls"]).toBe(acl);
    const inUse = await rejected(ea.destroy());
    expect(inUse.message).toContain(`instance "${inst}"`);
    await i.up({ ...attached, devices: { eth0: nic } });
    expect((await getInstance(lxd, inst)).value.devices.eth0["security.acls"]).toBeUndefined();
    await ea.destroy();
    expect(await exists(acl)).toBe(false);
  } finally {
    await removeInstance(lxd, inst);
    await removeAcl(acl);
    await deleteNetwork(lxd, net).catch(() => undefined);
    dropStaleNicFilterRules(veth);
  }
});
