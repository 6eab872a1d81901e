/** Pure parts of the Network and NetworkAcl kinds and of the safe NIC defaults. */
import { fillNicDefaults, nicFilterDefaults, nicNetworkNames, judgeDevice, applyOptOuts, refusalMessage, securityReport } from "../../provider/policy";
import { isNetworkKey, NETWORK_MEMBER_KEYS } from "../../provider/rules/network-keys";
import { aclRuleProblems, ruleFromWire, ruleToWire, type AclRule } from "../../provider/rules/acl-rules";
import { usersOf } from "../../provider/rules/used-by";
import { networkPutConfig, ownNetworkConfig } from "../../provider/kinds/network";
import { UNKNOWN } from "../../provider/rules/values";

const bridge = (config: Record<string, string>) => ({ type: "bridge", managed: true, config });

describe("safe NIC defaults", () => {
  test("an address-less managed bridge: mac_filtering only", () => {
    expect(nicFilterDefaults({ type: "nic", network: "br0" }, bridge({ "ipv4.address": "none", "ipv6.address": "none" }))).toEqual(["security.mac_filtering"]);
  });
  test("a bridge with addresses: all three", () => {
    expect(nicFilterDefaults({ type: "nic", nictype: "bridged", parent: "br0" }, bridge({ "ipv4.address": "10.1.2.1/24", "ipv6.address": "fd00::1/64" })))
      .toEqual(["security.mac_filtering", "security.ipv4_filtering", "security.ipv6_filtering"]);
    expect(nicFilterDefaults({ type: "nic", network: "br0" }, bridge({ "ipv4.address": "10.1.2.1/24", "ipv6.address": "none" })))
      .toEqual(["security.mac_filtering", "security.ipv4_filtering"]);
  });
  test("an unmanaged parent: mac only; a managed network of another type and other nictypes: nothing", () => {
    expect(nicFilterDefaults({ type: "nic", nictype: "bridged", parent: "lxdbr-host" }, { type: "bridge", managed: false })).toEqual(["security.mac_filtering"]);
    expect(nicFilterDefaults({ type: "nic", network: "mv" }, { type: "macvlan", managed: true, config: { parent: "eth0" } })).toEqual([]);
    for (const nictype of ["macvlan", "sriov", "physical", "p2p", "routed", "ipvlan"]) expect(nicFilterDefaults({ type: "nic", nictype, parent: "eth0" }, undefined)).toEqual([]);
    expect(nicFilterDefaults({ type: "disk", path: "/x", source: "/srv" }, undefined)).toEqual([]);
  });
  test("a network not there yet: the previous state's choice is kept, else mac only", () => {
    const old = { type: "nic", network: "br0", "security.mac_filtering": "true", "security.ipv4_filtering": "true" };
    expect(nicFilterDefaults({ type: "nic", network: "br0" }, undefined, old)).toEqual(["security.mac_filtering", "security.ipv4_filtering"]);
    expect(nicFilterDefaults({ type: "nic", network: "br1" }, undefined, old)).toEqual(["security.mac_filtering"]);
    expect(nicFilterDefaults({ type: "nic", network: "br0" }, undefined)).toEqual(["security.mac_filtering"]);
  });
  test("keys the user wrote are never changed; unknowns are carried", () => {
    const out = fillNicDefaults(
      { eth0: { type: "nic", network: "br0", "security.mac_filtering": "false" }, eth1: UNKNOWN as never, eth2: { type: "nic", network: UNKNOWN } },
      { br0: bridge({ "ipv4.address": "10.0.0.1/24" }) },
    );
    expect(out.eth0).toEqual({ type: "nic", network: "br0", "security.mac_filtering": "false", "security.ipv4_filtering": "true" });
    expect(out.eth1).toBe(UNKNOWN);
    expect(out.eth2).toEqual({ type: "nic", network: UNKNOWN, "security.mac_filtering": "true" });
    expect(fillNicDefaults(UNKNOWN as never, {})).toBe(UNKNOWN);
    expect(nicNetworkNames({ a: { type: "nic", network: "br0" }, b: { type: "nic", nictype: "bridged", parent: "br1" }, c: { type: "nic", nictype: "macvlan", parent: "eth0" } })).toEqual(["br0", "br1"]);
  });
});

describe("the network policy row", () => {
  test("a filter switched off (false spelling or empty) on a bridged nic is a network finding naming the key; true spellings and other nictypes are not", () => {
    const f = judgeDevice("eth0", { type: "nic", network: "br0", "security.ipv6_filtering": "off", "security.mac_filtering": "" });
    expect(f).toEqual([expect.objectContaining({ class: "network", key: "devices.eth0" })]);
    expect(f[0].reason).toMatch(/security\.mac_filtering="".*security\.ipv6_filtering="off"|security\.ipv6_filtering="off"/);
    expect(refusalMessage(f[0])).toMatch(/add "network" to securityOptOuts/);
    expect(applyOptOuts(f, ["network"]).refused).toEqual([]);
    expect(judgeDevice("eth0", { type: "nic", network: "br0", "security.mac_filtering": "TRUE", "security.ipv4_filtering": "1" })).toEqual([]);
    expect(judgeDevice("eth0", { type: "nic", nictype: "macvlan", parent: "eth0", "security.mac_filtering": "false" })).toEqual([]);
    const report = securityReport({}, f, { apparmor: true }, ["network"]);
    expect(report.warnings[0]).toMatch(/\(network, opted out\)/);
  });
});

describe("network keys", () => {
  test("per type, user.* free, prefixes", () => {
    expect(isNetworkKey("bridge", "ipv4.address")).toBe(true);
    expect(isNetworkKey("bridge", "parent")).toBe(false);
    expect(isNetworkKey("bridge", "tunnel.t1.protocol")).toBe(true);
    expect(isNetworkKey("macvlan", "parent")).toBe(true);
    expect(isNetworkKey("macvlan", "ipv4.address")).toBe(false);
    expect(isNetworkKey("ovn", "network")).toBe(true);
    expect(isNetworkKey("sriov", "user.x")).toBe(true);
    expect(NETWORK_MEMBER_KEYS).toEqual(expect.arrayContaining(["parent", "bridge.external_interfaces"]));
  });
  test("keys LXD picked itself never drift and are kept by updates; keys the user wrote and dropped are removed", () => {
    const live = { "ipv4.address": "10.9.0.1/24", "ipv4.nat": "true", "volatile.x": "1", "user.a": "1" };
    expect(ownNetworkConfig(live, { "user.a": "1" })).toEqual({ "user.a": "1" });
    expect(ownNetworkConfig(live, { "ipv4.address": "10.9.0.1/24" })).toEqual({ "ipv4.address": "10.9.0.1/24", "user.a": "1" });
    expect(networkPutConfig(live, { "user.a": "1" }, { "user.b": "2" })).toEqual({ "ipv4.address": "10.9.0.1/24", "ipv4.nat": "true", "volatile.x": "1", "user.b": "2" });
    expect(networkPutConfig(live, { "ipv4.address": "10.9.0.1/24" }, {})).toEqual({ "ipv4.nat": "true", "volatile.x": "1" });
  });
});

describe("ACL rules", () => {
  const rule = (r: Partial<AclRule>): AclRule => ({ action: "allow", state: "enabled", ...r });
  test("camelCase ↔ LXD's keys", () => {
    const r = rule({ protocol: "tcp", sourcePort: "1-2", destinationPort: "22" });
    expect(ruleToWire(r)).toMatchObject({ source_port: "1-2", destination_port: "22", icmp_type: "", icmp_code: "" });
    expect(ruleFromWire(ruleToWire(r))).toEqual(r);
    expect(ruleFromWire({ action: "drop", protocol: "icmp6", icmp_type: "128", icmp_code: "" })).toEqual({ action: "drop", protocol: "icmp6", icmpType: "128", state: "enabled" });
  });
  test("subjects, ports and icmp fields", () => {
    expect(aclRuleProblems(rule({ source: "@internal,10.0.0.0/8,10.0.0.1-10.0.0.9,fd00::/8,web-acl" }))).toEqual([]);
    expect(aclRuleProblems(rule({ source: "10.0.0.1-fd00::1" }))[0][1]).toMatch(/not an address range/);
    expect(aclRuleProblems(rule({ destination: "@anywhere" }))[0][0]).toBe("destination");
    expect(aclRuleProblems(rule({ protocol: "udp", destinationPort: "53,1000-999" }))[0][1]).toMatch(/"1000-999"/);
    expect(aclRuleProblems(rule({ sourcePort: "22" }))[0][1]).toMatch(/but protocol "" was provided/);
    expect(aclRuleProblems(rule({ protocol: "icmp4", icmpType: "256" }))[0][1]).toMatch(/0–255/);
    expect(aclRuleProblems(rule({ protocol: "icmp6", icmpType: "128", icmpCode: "0" }))).toEqual([]);
  });
  test("used_by in words", () => {
    expect(usersOf(["/1.0/instances/c1", "/1.0/profiles/p?project=t", "/1.0/network-acls/a", "/1.0/networks/br0"]))
      .toEqual(['instance "c1"', 'profile "p" in project "t"', 'network ACL "a"', 'network "br0"']);
  });
});
