/**
 * The Network resource against the real LXD through the provider host, and the safe NIC defaults on an instance
 * attached to it. Every bridge here is created with ipv4.address=none and ipv6.address=none (nothing gets an
 * address, nothing leaves the machine).
 */
import { startProviderHost, rejected, type ProviderHost } from "../support/provider-host";
import { CheckFailed, MiniEngine, randomName } from "../support/engine";
import { gone, execIn, localClient, removeInstance, TEST_IMAGE } from "../support/lxd";
import { dropStaleNicFilterRules } from "../support/nic-filters";
import { createNetwork, deleteNetwork, getInstance, getNetwork, updateNetwork, type LxdClient } from "../../provider/lxd";

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

/** The config every test bridge has: no addresses. */
const NO_ADDRESSES = { "ipv4.address": "none", "ipv6.address": "none" };

const exists = async (name: string) => !(await gone(() => getNetwork(lxd, name)));
const removeNetwork = (name: string) => deleteNetwork(lxd, name).catch(() => undefined);

test("lifecycle: an address-less bridge is created, reads back with no diff, updates in place, drift is shown and removed, type forces replacement, delete leaves nothing", async () => {
  const name = randomName("nw");
  const e = new MiniEngine(host, "network", name, "Network");
  try {
    const inputs = { name, config: { ...NO_ADDRESSES, "bridge.mtu": 1400, "user.note": "a" }, description: "first" };
    const created = await e.up(inputs);
    const live = (await getNetwork(lxd, name)).value;
    expect(live).toMatchObject({ type: "bridge", managed: true, description: "first" });
    expect(live.config).toMatchObject({ ...NO_ADDRESSES, "bridge.mtu": "1400", "user.note": "a" });
    expect(created.outputs).toMatchObject({ managed: true, status: "Created", usedBy: [], effectiveConfig: { "bridge.mtu": "1400" } });
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");

    const changed = { ...inputs, config: { ...NO_ADDRESSES, "bridge.mtu": "1500" }, description: "second" };
    await e.up(changed);
    expect(e.lastAction).toBe("update");
    const after = (await getNetwork(lxd, name)).value;
    expect(after.config).toEqual(expect.objectContaining({ ...NO_ADDRESSES, "bridge.mtu": "1500" }));
    expect(after.config["user.note"]).toBeUndefined();
    expect(after.description).toBe("second");

    // A key set by hand outside the stack shows as drift after a refresh and is removed by the next apply.
    const { value, etag } = await getNetwork(lxd, name);
    await updateNetwork(lxd, name, { config: { ...value.config, "user.by-hand": "x" }, description: value.description }, etag);
    await e.refresh();
    expect((await e.diff(changed)).changes).toBe("some");
    await e.up(changed);
    expect((await getNetwork(lxd, name)).value.config["user.by-hand"]).toBeUndefined();
    expect((await e.diff(changed)).changes).toBe("none");

    expect((await e.diff({ ...changed, type: "macvlan", config: { parent: "eth0" } })).replaces).toContain("type");

    await e.destroy();
    expect(await exists(name)).toBe(false);
  } finally {
    await removeNetwork(name);
  }
});

test("rejects a config key of another network type (naming key and type), a name too long for an interface, an unknown type; user.* keys pass", async () => {
  const name = randomName("nw");
  const e = new MiniEngine(host, "network", name, "Network");
  const wrongKey = await e.check({ name, config: { ...NO_ADDRESSES, parent: "eth0" } });
  expect(wrongKey.failures).toEqual([expect.objectContaining({ property: "config.parent" })]);
  expect(wrongKey.failures[0].reason).toMatch(/"parent".*bridge network/);
  const macvlan = await e.check({ name, type: "macvlan", config: { parent: "eth0", "ipv4.nat": true } });
  expect(macvlan.failures.map((f) => f.property)).toEqual(["config.ipv4.nat"]);
  expect(macvlan.failures[0].reason).toMatch(/macvlan network/);
  const long = await e.check({ name: "a-name-of-16-chr", config: NO_ADDRESSES });
  expect(long.failures.map((f) => f.property)).toEqual(["name"]);
  const type = await e.check({ name, type: "vxlan", config: NO_ADDRESSES });
  expect(type.failures.map((f) => f.property)).toEqual(["type"]);
  const ok = await e.check({ name, config: { ...NO_ADDRESSES, "user.anything": "x", "dns.mode": "none" } });
  expect(ok.failures).toEqual([]);
  expect(ok.inputs).toMatchObject({ type: "bridge", config: { "user.anything": "x", "dns.mode": "none" } });
  expect(await exists(name)).toBe(false);
});

test("adoption: an existing network is refused without adopt, taken over with it, and put back (not deleted) on destroy", async () => {
  const name = randomName("nw");
  await createNetwork(lxd, { name, type: "bridge", config: { ...NO_ADDRESSES, "user.before": "1" }, description: "pre" });
  try {
    const e = new MiniEngine(host, "network", name, "Network");
    const inputs = { name, config: { ...NO_ADDRESSES, "user.mine": "2" } };
    const refused = await rejected(e.up(inputs));
    expect(refused.message).toMatch(/adopt: true/);
    await e.up({ ...inputs, adopt: true });
    let live = (await getNetwork(lxd, name)).value;
    expect(live.config["user.mine"]).toBe("2");
    expect(live.config["user.before"]).toBeUndefined();
    expect((await e.diff({ ...inputs, adopt: true })).changes).toBe("none");
    await e.destroy();
    live = (await getNetwork(lxd, name)).value;
    expect(live.config).toMatchObject({ ...NO_ADDRESSES, "user.before": "1" });
    expect(live.config["user.mine"]).toBeUndefined();
    expect(live.description).toBe("pre");
  } finally {
    await removeNetwork(name);
  }
});

test("a container on an address-less bridge gets security.mac_filtering (read back from LXD) and starts; deleting the network in use is refused first; switching a filter off is refused at check, accepted with the network opt-out and reported", async () => {
  const net = randomName("nw");
  const inst = randomName("nic");
  const n = new MiniEngine(host, "network", net, "Network");
  const i = new MiniEngine(host, "instance", inst, "Instance");
  const veths: string[] = [];
  const veth = async () => (await getInstance(lxd, inst)).value.config?.["volatile.eth0.host_name"];
  try {
    await n.up({ name: net, config: NO_ADDRESSES });
    const inputs = { name: inst, image: TEST_IMAGE, devices: { eth0: { type: "nic", network: net, name: "eth0" } } };
    const created = await i.up(inputs);
    expect(created.outputs.status).toBe("Running");
    veths.push((await veth())!);
    const nic = (await getInstance(lxd, inst)).value.devices.eth0;
    expect(nic).toMatchObject({ type: "nic", network: net, "security.mac_filtering": "true" });
    // Measured: on a bridge without addresses LXD drops all IPv4 under ipv4_filtering and cannot start a nic with ipv6_filtering.
    expect(nic["security.ipv4_filtering"]).toBeUndefined();
    expect(nic["security.ipv6_filtering"]).toBeUndefined();
    expect(execIn(inst, "cat /sys/class/net/eth0/operstate").trim()).toMatch(/up|unknown|lowerlayerdown/);
    expect((await i.diff(inputs)).changes).toBe("none");

    // The network is in use: its delete fails before anything changes, naming the instance.
    const inUse = await rejected(n.destroy());
    expect(inUse.message).toContain(`instance "${inst}"`);
    expect(inUse.message).toMatch(/nothing was changed/);
    expect(await exists(net)).toBe(true);
    expect((await getInstance(lxd, inst)).value.status).toBe("Running");

    // Switching a filter off: refused at check naming the key; accepted with the opt-out, and reported.
    const off = { ...inputs, devices: { eth0: { ...inputs.devices.eth0, "security.mac_filtering": false } } };
    const refused = await i.check(off);
    expect(refused.failures).toEqual([expect.objectContaining({ property: "devices" })]);
    expect(refused.failures[0].reason).toMatch(/security\.mac_filtering="false"/);
    expect(refused.failures[0].reason).toMatch(/add "network" to securityOptOuts/);
    const weakened = await i.up({ ...off, securityOptOuts: ["network"] });
    expect(i.lastAction).toBe("update");
    expect((await getInstance(lxd, inst)).value.devices.eth0["security.mac_filtering"]).toBe("false");
    const report = weakened.outputs.securityReport as { weakened: { class: string; key: string }[]; warnings: string[] };
    expect(report.weakened).toEqual([expect.objectContaining({ class: "network", key: "devices.eth0" })]);
    expect(report.warnings.join("\n")).toMatch(/security\.mac_filtering/);
    veths.push((await veth())!);

    await i.destroy();
    await n.destroy();
    expect(await exists(net)).toBe(false);
  } finally {
    await removeInstance(lxd, inst);
    await removeNetwork(net);
    for (const v of veths) dropStaleNicFilterRules(v);
  }
});

test("a profile's bridged nic gets the filter default at check; macvlan and p2p nics get none", async () => {
  const net = randomName("nw");
  const n = new MiniEngine(host, "network", net, "Network");
  try {
    await n.up({ name: net, config: NO_ADDRESSES });
    const p = new MiniEngine(host, "profile", randomName("nicp"), "Profile");
    const r = await p.check({
      name: randomName("nicp"),
      devices: {
        a: { type: "nic", nictype: "bridged", parent: net },
        b: { type: "nic", nictype: "macvlan", parent: "eth0" },
        c: { type: "nic", nictype: "p2p" },
        d: { type: "nic", nictype: "bridged", parent: "not-a-network", "security.ipv4_filtering": true },
      },
    });
    expect(r.failures).toEqual([]);
    const devices = r.inputs.devices as Record<string, Record<string, string>>;
    expect(devices.a).toEqual({ type: "nic", nictype: "bridged", parent: net, "security.mac_filtering": "true" });
    expect(devices.b).toEqual({ type: "nic", nictype: "macvlan", parent: "eth0" });
    expect(devices.c).toEqual({ type: "nic", nictype: "p2p" });
    expect(devices.d).toEqual({ type: "nic", nictype: "bridged", parent: "not-a-network", "security.ipv4_filtering": "true", "security.mac_filtering": "true" });
    await expect(p.up({ name: randomName("nicp"), devices: { a: { type: "nic", network: net, "security.ipv6_filtering": "" } } })).rejects.toThrow(CheckFailed);
  } finally {
    await n.destroy().catch(() => undefined);
    await removeNetwork(net);
  }
});
