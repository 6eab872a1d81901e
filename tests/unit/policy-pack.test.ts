/**
 * The CrossGuard policy pack (policy-pack/): each policy called with arguments built the way the policy SDK's
 * analyzer server builds them from the engine's request (the properties as a protobuf Struct, deserialized and
 * wrapped in the SDK's unknown-checking proxy; type, urn, name, opts, getConfig), without constructing the
 * PolicyPack (its constructor starts the analyzer server).
 *
 * This package's resources get the properties the engine really passes: the provider's checked inputs (from the
 * real instance/profile/pci-device kinds' check), or the program's inputs when that check fails.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs } from "@pulumi/policy";
import { hardenedResources, noWeakeningProfileInUse, PACK_NAME, policies, HARDENED_RESOURCES } from "../../policy-pack/policies";
import { CONFIG_SCHEMA } from "../../policy-pack/judge";
import {
  canOptOut, hardenedConfig, POLICY, PREVIEW_UNKNOWN, ruleOf, SERVER_OPT_OUTS, TRUST_OPT_OUTS, WEAKENING_CLASSES,
  type PolicyExample, type PolicyRow, type ServerConfigRow, type TrustRow,
} from "../../provider/policy";
import { providerFor } from "../../provider/kit/host";
import type { KindName } from "../../provider/kit/registry";
import { generateClientCertificate } from "../../provider/lxd";

const policyDir = path.dirname(require.resolve("@pulumi/policy/package.json"));
const { Struct } = require(require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [policyDir] }));
const { deserializeProperties } = require("@pulumi/policy/deserialize");
const { unknownCheckingProxy } = require("@pulumi/policy/proxy");

/** What the engine sends for a secret, and the unknown value of a preview. */
const SECRET_SIG = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Properties as the policy SDK hands them to a policy (server.js: Struct → deserializeProperties → unknownCheckingProxy). */
function engineProps(wire: Record<string, unknown>): Record<string, unknown> {
  return unknownCheckingProxy(deserializeProperties(Struct.fromJavaScript(JSON.parse(JSON.stringify(wire))), false));
}

const urnOf = (type: string, name: string) => `urn:pulumi:dev::lxd-app::${type}::${name}`;
const OPTS = { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] };

function resourceArgs(type: string, name: string, wire: Record<string, unknown>, config: object): ResourceValidationArgs {
  const props = engineProps(wire);
  return {
    type, props, urn: urnOf(type, name), name, opts: OPTS, stackTags: new Map(),
    isType: () => false, asType: () => undefined,
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string): never => { throw new Error(`not applicable: ${reason}`); },
  } as unknown as ResourceValidationArgs;
}

/** Runs the resource policy; returns the violation messages. */
async function validateResource(type: string, name: string, wire: Record<string, unknown>, config: object = {}): Promise<string[]> {
  const out: string[] = [];
  const v = hardenedResources.validateResource as (a: ResourceValidationArgs, r: (m: string) => void) => void | Promise<void>;
  await v(resourceArgs(type, name, wire, config), (m) => out.push(m));
  return out;
}

/** Runs the stack policy on resources given as [type, name, outputs]; returns [message, urn] pairs. */
async function validateStack(resources: [string, string, Record<string, unknown>][], config: object = {}): Promise<[string, string | undefined][]> {
  const out: [string, string | undefined][] = [];
  const args = {
    resources: resources.map(([type, name, props]) => ({
      type, name, urn: urnOf(type, name), props: engineProps(props), opts: OPTS, dependencies: [], propertyDependencies: {},
      isType: () => false, asType: () => undefined,
    })),
    stackTags: new Map(), getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string): never => { throw new Error(`not applicable: ${reason}`); },
  } as unknown as StackValidationArgs;
  await noWeakeningProfileInUse.validateStack(args, (m, urn) => out.push([m, urn]));
  return out;
}

/** What the engine passes for this package's resources: the kind's checked inputs, or the program's when check fails. */
async function checkedBy(kind: KindName, news: Record<string, unknown>): Promise<Record<string, unknown>> {
  const provider = providerFor(kind) as unknown as { check(o: object, n: object): Promise<{ inputs: Record<string, unknown> }> };
  const r = await provider.check({}, { ...news, __provider: "exports.handler = __f0;" });
  return r.inputs;
}

const incusKey = (k: string) => k.replace(/^security\.devlxd/, "security.guestapi");
const toList = (devices: Record<string, Record<string, string>> = {}) =>
  Object.entries(devices).map(([name, { type, ...properties }]) => ({ name, type: type ?? "none", properties }));
const incusConfig = (c: Record<string, string>) => Object.fromEntries(Object.entries(c).map(([k, v]) => [incusKey(k), v]));
/** The hardened keys a bridged instance must set itself (what a hardened Terraform or Incus program writes). */
const BASELINE = hardenedConfig({ type: "container", defaultLimits: false });

interface Family {
  label: string;
  type: string;
  /** The key as the resource names it. */
  key: (k: string) => string;
  /** The properties the engine passes for an example, with the resource's own opt-outs where it has them. */
  props: (ex: PolicyExample, ownOptOuts: string[]) => Promise<Record<string, unknown>>;
}

const FAMILIES: Family[] = [
  {
    label: "pulumi-lxd-hardened Instance", type: "pulumi-nodejs:dynamic/lxd:Instance", key: (k) => k,
    props: (ex, o) => checkedBy("instance", { name: "c1", image: "debian/12", config: ex.config ?? {}, devices: ex.devices ?? {}, securityOptOuts: o }),
  },
  {
    label: "pulumi-lxd-hardened Profile", type: "pulumi-nodejs:dynamic/lxd:Profile", key: (k) => k,
    props: (ex, o) => checkedBy("profile", { name: "p1", config: ex.config ?? {}, devices: ex.devices ?? {}, securityOptOuts: o }),
  },
  {
    label: "Terraform LXD Instance", type: "lxd:index/instance:Instance", key: (k) => k,
    props: async (ex) => ({ name: "c1", image: "debian/12", config: { ...BASELINE, ...ex.config }, devices: toList(ex.devices), profiles: ["default"], running: true }),
  },
  {
    label: "Terraform LXD Profile", type: "lxd:index/profile:Profile", key: (k) => k,
    props: async (ex) => ({ name: "p1", config: ex.config ?? {}, devices: toList(ex.devices) }),
  },
  {
    label: "Incus Instance", type: "incus:index/instance:Instance", key: incusKey,
    props: async (ex) => ({ name: "c1", image: "images:debian/12", config: incusConfig({ ...BASELINE, ...ex.config }), devices: toList(ex.devices), profiles: ["default"] }),
  },
  {
    label: "Incus Profile", type: "incus:index/profile:Profile", key: incusKey,
    props: async (ex) => ({ name: "p1", config: incusConfig(ex.config ?? {}), devices: toList(ex.devices) }),
  },
];

/** The config key or device an example sets, as the finding names it (`config.raw.lxc[line …]` starts `raw.lxc`). */
const subjectKey = (ex: PolicyExample) => (ex.config ? Object.keys(ex.config)[0] : `devices.${Object.keys(ex.devices ?? {})[0]}`);
const hasEmptyValue = (ex: PolicyExample) => Object.values(ex.config ?? {}).includes("");

/** The rows that judge instances and profiles (config, raw.lxc, device); the server and trust rows are tested below. */
const INSTANCE_ROWS = POLICY.filter((r) => r.on === "config" || r.on === "raw.lxc" || r.on === "device");

describe.each(FAMILIES.map((f): [string, Family] => [f.label, f]))("%s", (_label, family) => {
  describe.each(INSTANCE_ROWS.map((row): [string, PolicyRow] => [ruleOf(row), row]))("row %s", (_rule, row) => {
    test("rejects its refused example without opt-outs, naming the setting and the class", async () => {
      const messages = await validateResource(family.type, "r1", await family.props(row.examples.refused, []));
      expect(messages.length).toBeGreaterThan(0);
      const mine = messages.filter((m) => m.includes(`(${row.class})`));
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.some((m) => m.includes(family.key(subjectKey(row.examples.refused))))).toBe(true);
      if (!canOptOut(row.class)) expect(mine[0]).toMatch(/refused in every case \(no opt-out accepts it\)/);
      else expect(mine[0]).toContain(`add "${row.class}" to the optOuts of policy "${HARDENED_RESOURCES}"`);
    });

    if (!canOptOut(row.class)) {
      test("rejects its refused example even with every class opted out (pack and resource)", async () => {
        const all = [...WEAKENING_CLASSES, row.class];
        const messages = await validateResource(family.type, "r1", await family.props(row.examples.refused, all), { optOuts: all });
        expect(messages.filter((m) => m.includes(`(${row.class})`)).length).toBeGreaterThan(0);
      });
      return;
    }

    test("allows its opted-out example when the stack's pack config (and the resource, where it has securityOptOuts) accepts the class", async () => {
      const ex = row.examples.optedOut as PolicyExample;
      expect(await validateResource(family.type, "r1", await family.props(ex, [row.class]), { optOuts: [row.class] })).toEqual([]);
    });

    test("rejects its opted-out example when only the other classes are accepted", async () => {
      const ex = row.examples.optedOut as PolicyExample;
      const others = WEAKENING_CLASSES.filter((c) => c !== row.class);
      const messages = await validateResource(family.type, "r1", await family.props(ex, [...WEAKENING_CLASSES]), { optOuts: others });
      // An empty value the provider drops after an accepted check is no setting at all, unless it unsets a hardened key.
      if (family.type === "pulumi-nodejs:dynamic/lxd:Profile" && hasEmptyValue(ex)) return;
      if (family.type === "pulumi-nodejs:dynamic/lxd:Instance" && hasEmptyValue(ex) && !(subjectKey(ex) in hardenedConfig({ type: "container" }))) return;
      expect(messages.filter((m) => m.includes(`(${row.class})`)).length).toBeGreaterThan(0);
    });
  });
});

describe("this package's resources", () => {
  const INSTANCE = "pulumi-nodejs:dynamic/lxd:Instance";

  test("a hardened Instance (checked inputs, nothing opted out) passes", async () => {
    expect(await validateResource(INSTANCE, "web", await checkedBy("instance", { name: "web", image: "debian/12", config: { "limits.memory": "2GiB" } }))).toEqual([]);
  });

  test("rejects a weakening the resource opted out of when the stack's pack config does not accept it (the stack bounds the program)", async () => {
    const props = await checkedBy("instance", { name: "web", image: "debian/12", config: { "security.privileged": "true" }, securityOptOuts: ["privileged"] });
    expect(props.timeouts).toEqual({}); // the provider's check passed: these are its checked inputs
    const messages = await validateResource(INSTANCE, "web", props);
    expect(messages).toEqual([
      `instance "web" in project "default": security.privileged=true weakens confinement (privileged): a privileged container's root is the host's root. To accept it, add "privileged" to the optOuts of policy "lxd-hardened" in this stack's policy pack config`,
    ]);
  });

  test("rejects a weakening the stack accepts but the resource did not opt out of (the program's inputs, as the engine passes them when check fails)", async () => {
    const props = await checkedBy("instance", { name: "web", image: "debian/12", config: { "security.privileged": "true" } });
    expect(props.timeouts).toBeUndefined();
    const messages = await validateResource(INSTANCE, "web", props, { optOuts: ["privileged"] });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/To accept it, add "privileged" to the resource's securityOptOuts$/);
  });

  test("rejects a hardened key the program emptied with the resource's opt-out (the checked config no longer holds it)", async () => {
    const props = await checkedBy("instance", { name: "web", image: "debian/12", config: { "security.idmap.isolated": "" }, securityOptOuts: ["idmap"] });
    expect(props.config).not.toHaveProperty(["security.idmap.isolated"]);
    const messages = await validateResource(INSTANCE, "web", props);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain("security.idmap.isolated is not set, so the instance's profiles or LXD's default decide it (hardened value: true), which weakens confinement (idmap)");
    expect(await validateResource(INSTANCE, "web", props, { optOuts: ["idmap"] })).toEqual([]);
  });

  test("the nesting and devLxd inputs ask for security.nesting and security.devlxd: not violations", async () => {
    const props = await checkedBy("instance", { name: "dind", image: "debian/12", nesting: { workload: "docker" }, devLxd: true });
    expect(props.config).toMatchObject({ "security.nesting": "true", "security.devlxd": "true" });
    expect(await validateResource(INSTANCE, "dind", props)).toEqual([]);
  });

  test("a PciDevice is a devices weakening, accepted only by the stack's pack config", async () => {
    for (const [news, type] of [
      [{ instance: "vm1", deviceName: "gpu0", kind: "gpu", pci: "01:00.0" }, "gpu"],
      [{ instance: "vm1", deviceName: "nvme", kind: "pci", pci: "0000:02:00.0", instanceType: "virtual-machine" }, "pci"],
      [{ instance: "c1", deviceName: "kvm", kind: "unix-char", source: "/dev/kvm" }, "unix-char"],
    ] as const) {
      const props = await checkedBy("pci-device", news);
      expect(props.device).toMatchObject({ type });
      const messages = await validateResource("pulumi-nodejs:dynamic/lxd:PciDevice", news.deviceName, props);
      expect(messages).toEqual([expect.stringContaining(`device "${news.instance}/${news.deviceName}" in project "default": devices.${news.deviceName} weakens confinement (devices): a ${type} device passes`)]);
      expect(await validateResource("pulumi-nodejs:dynamic/lxd:PciDevice", news.deviceName, props, { optOuts: ["devices"] })).toEqual([]);
    }
  });
});

describe("the bridged providers", () => {
  test("a Terraform LXD instance must set the hardened keys itself: each one left to profiles or LXD's default is a violation of its class", async () => {
    const messages = await validateResource("lxd:index/instance:Instance", "web", { name: "web", image: "debian/12", config: { "boot.autostart": true } });
    const unset = Object.keys(BASELINE).map((k) => messages.find((m) => m.includes(`: ${k} is not set, so the instance's profiles or LXD's default decide it (hardened value: ${BASELINE[k]})`)));
    expect(unset.every((m) => m !== undefined)).toBe(true);
    expect(messages).toHaveLength(Object.keys(BASELINE).length);
    expect(await validateResource("lxd:index/instance:Instance", "web", { name: "web", image: "debian/12", config: { ...BASELINE, "boot.autostart": true } })).toEqual([]);
  });

  test("a virtual machine needs only what the hardened config sets for virtual machines", async () => {
    const vm = { name: "vm1", image: "debian/12", type: "virtual-machine" };
    expect(await validateResource("lxd:index/instance:Instance", "vm1", vm)).toEqual([expect.stringContaining("security.devlxd is not set")]);
    expect(await validateResource("incus:index/instance:Instance", "vm1", vm)).toEqual([expect.stringContaining("security.guestapi is not set")]);
  });

  test("Terraform LXD: `limits` keys are LXD's limits.* keys and the old `privileged` flag is security.privileged", async () => {
    const messages = await validateResource("lxd:index/instance:Instance", "web", {
      name: "web", image: "debian/12", config: BASELINE, limits: { cpu: 2, "kernel.nofile": "unlimited" }, privileged: true,
    });
    expect(messages).toHaveLength(2);
    expect(messages.some((m) => m.includes("limits.kernel.nofile=unlimited weakens confinement (kernel)"))).toBe(true);
    expect(messages.some((m) => m.includes("security.privileged=true weakens confinement (privileged)"))).toBe(true);
  });

  test("Incus: security.guestapi is judged as LXD's security.devlxd, and named security.guestapi", async () => {
    const messages = await validateResource("incus:index/instance:Instance", "web", { name: "web", image: "images:debian/12", config: { ...incusConfig(BASELINE), "security.guestapi": "true" } });
    expect(messages).toEqual([expect.stringContaining("security.guestapi=true weakens confinement (devlxd)")]);
    expect(messages[0]).not.toContain("security.devlxd=");
  });

  test("projects carry no instance settings: no violations", async () => {
    for (const type of ["lxd:index/project:Project", "incus:index/project:Project", "pulumi-nodejs:dynamic/lxd:Project"]) {
      expect(await validateResource(type, "p", { name: "p", config: { "features.profiles": "false", "restricted": "true" } })).toEqual([]);
    }
  });

  test("other resource types are left alone", async () => {
    expect(await validateResource("aws:s3/bucket:Bucket", "b", { config: { "security.privileged": "true" } })).toEqual([]);
  });
});

/**
 * The kinds that joined the policy after Instance and Profile: one family per resource type the pack reads, each row
 * that applies to it run with its own examples (refused; accepted by the pack's optOuts, and the resource's
 * securityOptOuts where it has them; refused when only the other classes are accepted).
 */
interface KindFamily {
  label: string;
  type: string;
  rows: PolicyRow[];
  /** The setting a violation names for an example. */
  names: (ex: PolicyExample) => string;
  props: (ex: PolicyExample, ownOptOuts: string[]) => Promise<Record<string, unknown>>;
}

const DEVICE_ROWS = POLICY.filter((r) => r.on === "device");
const VOLUME_ROWS = POLICY.filter((r) => r.on === "config" && r.keys.includes("security.shifted"));
const SERVER_ROWS = POLICY.filter((r): r is ServerConfigRow => r.on === "server config");
const TRUST_ROWS = POLICY.filter((r): r is TrustRow => r.on === "trust");
const deviceOf = (ex: PolicyExample) => Object.entries(ex.devices ?? {})[0] as [string, Record<string, string>];
const PEM = generateClientCertificate({ commonName: "pack-test" }).cert;

const KIND_FAMILIES: KindFamily[] = [
  {
    label: "pulumi-lxd-hardened InstanceDevice", type: "pulumi-nodejs:dynamic/lxd:InstanceDevice", rows: DEVICE_ROWS, names: (ex) => `devices.${deviceOf(ex)[0]}`,
    props: (ex, o) => {
      const [deviceName, { type, ...properties }] = deviceOf(ex);
      return checkedBy("instance-device", { instance: "c1", deviceName, type, properties, securityOptOuts: o });
    },
  },
  {
    label: "Terraform LXD InstanceDevice", type: "lxd:index/instanceDevice:InstanceDevice", rows: DEVICE_ROWS, names: (ex) => `devices.${deviceOf(ex)[0]}`,
    props: async (ex) => {
      const [name, { type, ...properties }] = deviceOf(ex);
      return { instanceName: "c1", name, type, properties };
    },
  },
  {
    label: "pulumi-lxd-hardened StorageVolume", type: "pulumi-nodejs:dynamic/lxd:StorageVolume", rows: VOLUME_ROWS, names: (ex) => Object.keys(ex.config ?? {})[0],
    props: (ex, o) => checkedBy("storage-volume", { pool: "default", name: "v1", config: ex.config ?? {}, securityOptOuts: o }),
  },
  {
    label: "Terraform LXD Volume (2.x)", type: "lxd:index/volume:Volume", rows: VOLUME_ROWS, names: (ex) => Object.keys(ex.config ?? {})[0],
    props: async (ex) => ({ pool: "default", name: "v1", config: ex.config ?? {} }),
  },
  {
    label: "Terraform LXD StorageVolume (3.x)", type: "lxd:index/storageVolume:StorageVolume", rows: VOLUME_ROWS, names: (ex) => Object.keys(ex.config ?? {})[0],
    props: async (ex) => ({ pool: "default", name: "v1", config: ex.config ?? {} }),
  },
  {
    label: "pulumi-lxd-hardened ServerSettings", type: "pulumi-nodejs:dynamic/lxd:ServerSettings", rows: SERVER_ROWS, names: (ex) => Object.keys(ex.server ?? {})[0],
    props: (ex, o) => checkedBy("server-settings", { config: ex.server ?? {}, securityOptOuts: o }),
  },
  {
    label: "pulumi-lxd-hardened TrustCertificate", type: "pulumi-nodejs:dynamic/lxd:TrustCertificate", rows: TRUST_ROWS, names: () => "restricted=false",
    props: (ex, o) => checkedBy("trust-certificate", { name: "ci", certificate: PEM, restricted: ex.trust?.restricted, projects: [], securityOptOuts: o }),
  },
  {
    label: "pulumi-lxd-hardened TrustToken", type: "pulumi-nodejs:dynamic/lxd:TrustToken", rows: TRUST_ROWS, names: () => "restricted=false",
    props: (ex, o) => checkedBy("trust-token", { name: "ci", restricted: ex.trust?.restricted, projects: [], securityOptOuts: o }),
  },
];
const ALL_CLASSES = [...WEAKENING_CLASSES, ...SERVER_OPT_OUTS, ...TRUST_OPT_OUTS];
const ownsOptOuts = (type: string) => type.startsWith("pulumi-nodejs:");

describe.each(KIND_FAMILIES.map((f): [string, KindFamily] => [f.label, f]))("%s", (_label, family) => {
  test("has rows to judge it by", () => expect(family.rows.length).toBeGreaterThan(0));

  describe.each(family.rows.map((row): [string, PolicyRow] => [ruleOf(row), row]))("row %s", (_rule, row) => {
    const optOutable = row.examples.optedOut !== "cannot be opted out";

    test("rejects its refused example without opt-outs, naming the setting, the class and the pack's opt-out", async () => {
      const messages = await validateResource(family.type, "r1", await family.props(row.examples.refused, []));
      const mine = messages.filter((m) => m.includes(`(${row.class})`));
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.some((m) => m.includes(family.names(row.examples.refused)))).toBe(true);
      if (!optOutable) expect(mine[0]).toMatch(/refused in every case \(no opt-out accepts it\)/);
      else expect(mine[0]).toContain(`add "${row.class}" to the optOuts of policy "${HARDENED_RESOURCES}"`);
    });

    if (!optOutable) {
      test("rejects its refused example even with every class opted out (pack and resource)", async () => {
        const messages = await validateResource(family.type, "r1", await family.props(row.examples.refused, ALL_CLASSES), { optOuts: [...ALL_CLASSES, row.class] });
        expect(messages.filter((m) => m.includes(`(${row.class})`)).length).toBeGreaterThan(0);
      });
      return;
    }

    test("allows its opted-out example when the pack's config (and the resource, where it has securityOptOuts) accepts the class", async () => {
      const ex = row.examples.optedOut as PolicyExample;
      expect(await validateResource(family.type, "r1", await family.props(ex, [row.class]), { optOuts: [row.class] })).toEqual([]);
    });

    test("rejects its opted-out example when only the other classes are accepted", async () => {
      const ex = row.examples.optedOut as PolicyExample;
      const others = ALL_CLASSES.filter((c) => c !== row.class);
      const messages = await validateResource(family.type, "r1", await family.props(ex, ALL_CLASSES), { optOuts: others });
      expect(messages.filter((m) => m.includes(`(${row.class})`)).length).toBeGreaterThan(0);
    });

    if (ownsOptOuts(family.type)) {
      test("rejects its opted-out example when the pack accepts the class but the resource did not opt out of it", async () => {
        const ex = row.examples.optedOut as PolicyExample;
        const messages = await validateResource(family.type, "r1", await family.props(ex, []), { optOuts: [row.class] });
        expect(messages).toEqual([expect.stringMatching(new RegExp(`\\(${row.class}\\).*To accept it, add "${row.class}" to the resource's securityOptOuts$`))]);
      });
    }
  });
});

describe("the kinds that joined the policy", () => {
  test("an InstanceDevice's bridged nic: the checked inputs carry the filter default and pass; switching it off is a network violation", async () => {
    const ok = await checkedBy("instance-device", { instance: "c1", deviceName: "eth1", type: "nic", properties: { nictype: "bridged", parent: "pack-no-such-br" } });
    expect(ok.device).toMatchObject({ "security.mac_filtering": "true" });
    expect(await validateResource("pulumi-nodejs:dynamic/lxd:InstanceDevice", "eth1", ok)).toEqual([]);
    const off = await checkedBy("instance-device", { instance: "c1", deviceName: "eth1", type: "nic", properties: { network: "br0", "security.mac_filtering": false }, securityOptOuts: ["network"] });
    expect(await validateResource("pulumi-nodejs:dynamic/lxd:InstanceDevice", "eth1", off)).toEqual([
      expect.stringMatching(/^device "c1\/eth1" in project "default": devices\.eth1 weakens confinement \(network\): security\.mac_filtering="false"/),
    ]);
  });

  test("the instance rows judge a volume's config too (a line break is injection), and the server rows judge no instance", async () => {
    const messages = await validateResource("lxd:index/volume:Volume", "v1", { pool: "default", name: "v1", config: { "user.x": "ok", "snapshots.pattern": "a\nb" } });
    expect(messages).toEqual([expect.stringMatching(/^storage volume "default\/v1" in project "default": snapshots\.pattern weakens confinement \(injection\)/)]);
    expect(await validateResource("lxd:index/profile:Profile", "p1", { name: "p1", config: { "core.https_address": "[::]:8443", "core.trust_password": "x" } })).toEqual([]);
  });

  test("server settings: a host name or loopback bind and an empty trust password are no violations; the password is never shown", async () => {
    const ok = await checkedBy("server-settings", { config: { "core.https_address": "127.0.0.1:8443", "core.metrics_address": "lxd.example.net:9100", "core.trust_password": "" } });
    expect(await validateResource("pulumi-nodejs:dynamic/lxd:ServerSettings", "server", ok)).toEqual([]);
    const pw = await validateResource("pulumi-nodejs:dynamic/lxd:ServerSettings", "server", { config: { "core.trust_password": "hunter2-secret" } });
    expect(pw).toEqual([expect.stringMatching(/^server settings: core\.trust_password weakens the server's protection \(trust-password\)/)]);
    expect(pw[0]).not.toContain("hunter2-secret");
  });

  test("trust entries: restricted (the kinds' default) passes; an unknown restricted waits for up", async () => {
    const restricted = await checkedBy("trust-token", { name: "ci", projects: ["team"] });
    expect(restricted.restricted).toBe(true);
    expect(await validateResource("pulumi-nodejs:dynamic/lxd:TrustToken", "ci", restricted)).toEqual([]);
    expect(await validateResource("pulumi-nodejs:dynamic/lxd:TrustCertificate", "ci", { name: "ci", certificate: PEM, restricted: UNKNOWN })).toEqual([]);
    expect(await validateResource("pulumi-nodejs:dynamic/lxd:ServerSettings", "server", { config: UNKNOWN })).toEqual([]);
  });

  test("a resource whose securityOptOuts are a preview unknown is bounded by the pack's optOuts alone (server classes too)", async () => {
    const wire = { config: { "core.https_address": ":8443" }, securityOptOuts: UNKNOWN };
    expect(await validateResource("pulumi-nodejs:dynamic/lxd:ServerSettings", "server", wire)).toHaveLength(1);
    expect(await validateResource("pulumi-nodejs:dynamic/lxd:ServerSettings", "server", wire, { optOuts: ["wildcard-bind"] })).toEqual([]);
  });
});

describe("values the engine hands over", () => {
  test("preview unknowns are not judged, and the rest still is (the SDK's proxy throws on reading one)", async () => {
    const wire = { name: "web", image: "debian/12", config: { ...BASELINE, "security.privileged": UNKNOWN }, devices: [{ name: "gpu0", type: "gpu", properties: {} }] };
    expect(() => Object.values((engineProps(wire).config as Record<string, unknown>))).toThrow(/can't be known during preview/);
    const messages = await validateResource("lxd:index/instance:Instance", "web", wire);
    expect(messages).toEqual([expect.stringContaining("devices.gpu0 weakens confinement (devices)")]);
    expect(await validateResource("lxd:index/instance:Instance", "web", { name: "web", image: "x", config: UNKNOWN, devices: UNKNOWN })).toEqual([]);
    expect(PREVIEW_UNKNOWN).toBe(UNKNOWN);
  });

  test("secret values are judged like any other", async () => {
    const wire = { name: "web", image: "debian/12", config: { ...SECRET_SIG, value: { ...BASELINE, "raw.lxc": "lxc.apparmor.profile = unconfined" } } };
    expect(await validateResource("lxd:index/instance:Instance", "web", wire)).toEqual([expect.stringContaining("weakens confinement (apparmor)")]);
  });

  test("opt-out names that are not weakening classes accept nothing", async () => {
    const wire = { name: "p1", config: { "security.privileged": "true" } };
    expect(await validateResource("lxd:index/profile:Profile", "p1", wire, { optOuts: ["Privileged", "injection", 7] })).toHaveLength(1);
  });
});

describe("stack policy: an instance using a profile that weakens it", () => {
  const TF_INSTANCE = "lxd:index/instance:Instance";
  const TF_PROFILE = "lxd:index/profile:Profile";

  test("names the instance and the privileged profile, on the instance's urn", async () => {
    const v = await validateStack([
      [TF_PROFILE, "priv", { name: "priv", config: { "security.privileged": "true" } }],
      [TF_INSTANCE, "web", { name: "web", config: BASELINE, profiles: ["default", "priv"] }],
      [TF_INSTANCE, "db", { name: "db", config: BASELINE, profiles: ["default"] }],
    ]);
    expect(v).toEqual([[expect.stringContaining(`instance "web" in project "default" (${urnOf(TF_INSTANCE, "web")}) uses profile "priv" in project "default" (${urnOf(TF_PROFILE, "priv")}), which weakens its confinement: security.privileged=true (privileged)`), urnOf(TF_INSTANCE, "web")]]);
  });

  test("flags the profile even when the instance shadows its setting today", async () => {
    const v = await validateStack([
      [TF_PROFILE, "priv", { name: "priv", config: { "security.privileged": "true" } }],
      [TF_INSTANCE, "web", { name: "web", config: { ...BASELINE, "security.privileged": "false" }, profiles: ["priv"] }],
    ]);
    expect(v).toEqual([[expect.stringContaining("shadowed today by the instance's own value"), urnOf(TF_INSTANCE, "web")]]);
  });

  test("this package's Instance over a Profile of the stack (outputs as the engine holds them); accepted only by both opt-outs", async () => {
    const profile = await checkedBy("profile", { name: "gpu", devices: { gpu: { type: "gpu" } }, securityOptOuts: ["devices"] });
    const instance = await checkedBy("instance", { name: "ml", image: "debian/12", profiles: ["default", "gpu"] });
    const resources: [string, string, Record<string, unknown>][] = [
      ["pulumi-nodejs:dynamic/lxd:Profile", "gpu", profile], ["pulumi-nodejs:dynamic/lxd:Instance", "ml", instance],
    ];
    const v = await validateStack(resources, { optOuts: ["devices"] });
    expect(v).toEqual([[expect.stringContaining(`uses profile "gpu"`), urnOf("pulumi-nodejs:dynamic/lxd:Instance", "ml")]]);
    expect(v[0][0]).toContain(`add "devices" to the resource's securityOptOuts`);
    const optedIn = await checkedBy("instance", { name: "ml", image: "debian/12", profiles: ["default", "gpu"], securityOptOuts: ["devices"] });
    expect(await validateStack([resources[0], ["pulumi-nodejs:dynamic/lxd:Instance", "ml", optedIn]], { optOuts: ["devices"] })).toEqual([]);
    expect(await validateStack([resources[0], ["pulumi-nodejs:dynamic/lxd:Instance", "ml", optedIn]])).toHaveLength(1);
  });

  test("Incus: by Incus key names, and never across daemons", async () => {
    const v = await validateStack([
      ["incus:index/profile:Profile", "api", { name: "api", config: { "security.guestapi": "true" } }],
      ["incus:index/instance:Instance", "web", { name: "web", config: incusConfig(BASELINE), profiles: ["api"] }],
      [TF_INSTANCE, "lxdweb", { name: "lxdweb", config: BASELINE, profiles: ["api"] }],
    ]);
    expect(v).toEqual([[expect.stringContaining("security.guestapi=true (devlxd)"), urnOf("incus:index/instance:Instance", "web")]]);
  });

  test("projects: features.profiles=false uses the default project's profiles; a project with its own does not", async () => {
    const priv: [string, string, Record<string, unknown>] = [TF_PROFILE, "priv", { name: "priv", config: { "security.privileged": "1" } }];
    const inst: [string, string, Record<string, unknown>] = [TF_INSTANCE, "web", { name: "web", project: "team", config: BASELINE, profiles: ["priv"] }];
    expect(await validateStack([priv, inst, ["lxd:index/project:Project", "team", { name: "team", config: { "features.profiles": "false" } }]])).toHaveLength(1);
    expect(await validateStack([priv, inst, ["lxd:index/project:Project", "team", { name: "team", config: { "features.profiles": "true" } }]])).toEqual([]);
    expect(await validateStack([priv, inst])).toHaveLength(1); // a project the stack does not declare: the default project's profile is the one found
  });
});

describe("the pack", () => {
  test("two mandatory policies with the same per-stack config schema (optOuts: the weakening classes, default none)", () => {
    expect(policies.map((p) => [p.name, p.enforcementLevel])).toEqual([["lxd-hardened", "mandatory"], ["lxd-no-weakening-profile-in-use", "mandatory"]]);
    for (const p of policies) expect(p.configSchema).toBe(CONFIG_SCHEMA);
    expect(CONFIG_SCHEMA.properties.optOuts.items.enum).toEqual([...WEAKENING_CLASSES, ...SERVER_OPT_OUTS, ...TRUST_OPT_OUTS]);
    expect(CONFIG_SCHEMA.properties.optOuts.default).toEqual([]);
    expect((hardenedResources as ResourceValidationPolicy).validateResource).toBeInstanceOf(Function);
  });

  test("its folder: PulumiPolicy.yaml, an index that builds the pack from the compiled policies, and an example config naming both policies", () => {
    const dir = path.join(__dirname, "../../policy-pack");
    expect(fs.readFileSync(path.join(dir, "PulumiPolicy.yaml"), "utf8")).toMatch(/^runtime:\n  name: nodejs/m);
    const index = fs.readFileSync(path.join(dir, "index.js"), "utf8");
    expect(index).toContain(`require("../dist/policy-pack/policies.js")`);
    expect(index).toMatch(/new PolicyPack\(PACK_NAME, \{ policies, enforcementLevel: "mandatory" \}\)/);
    expect(PACK_NAME).toBe("lxd-hardened");
    const build = JSON.parse(fs.readFileSync(path.join(__dirname, "../../tsconfig.build.json"), "utf8"));
    expect(build.include).toContain("policy-pack/**/*.ts");
    expect(JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).main).toBe("index.js");
    expect(Object.keys(JSON.parse(fs.readFileSync(path.join(dir, "policy-config.example.json"), "utf8")))).toEqual(policies.map((p) => p.name));
  });
});

describe("this package's own Instance on Incus", () => {
  test("its state holds security.guestapi (the hardened default written for Incus): read as security.devlxd, no violation", async () => {
    const config = { ...hardenedConfig({ type: "container", server: "incus" }) };
    expect(config["security.guestapi"]).toBe("false");
    expect(await validateResource("pulumi-nodejs:dynamic/lxd:Instance", "web", { name: "web", image: "x", type: "container", config })).toEqual([]);
    expect(await validateResource("pulumi-nodejs:dynamic/lxd:Instance", "web", { name: "web", image: "x", type: "container", config: { ...config, "security.guestapi": "true" } }))
      .toEqual([expect.stringContaining("weakens confinement (devlxd)")]);
  });
});
