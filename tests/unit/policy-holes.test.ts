/** The holes issue 8 closes in the hardening policy, one test (or more) each. */
import {
  applyOptOuts, assess, hardenedConfig, judgeEffective, LXD_FALSE, LXD_TRUE, refusalMessage, securityReport, WEAKENING_CLASSES,
  type Nesting, type ProfileLayer, type WeakeningClass,
} from "../../provider/policy";
import { UNKNOWN } from "../../provider/rules/values";

const classes = (config: Record<string, string>, devices: Record<string, Record<string, string>> = {}, opts = {}) => assess(config, devices, opts).map((f) => f.class);

const NESTINGS: (Nesting | undefined)[] = [undefined, { workload: "docker" }, { workload: "userns" }, { workload: "lxd", depth: 2 }];
const CLASS_OF: [RegExp, WeakeningClass][] = [
  [/^security\.privileged$/, "privileged"], [/^security\.idmap\./, "idmap"], [/^security\.syscalls\./, "seccomp"],
  [/^security\.nesting$/, "nesting"], [/^security\.devlxd$/, "devlxd"],
];

describe("hole 1: an empty value never unsets a hardened default", () => {
  const keys = new Set<string>();
  for (const type of ["container", "virtual-machine"] as const) {
    for (const nesting of type === "container" ? NESTINGS : [undefined]) {
      for (const devLxd of [false, true]) for (const k of Object.keys(hardenedConfig({ type, nesting, devLxd }))) keys.add(k);
    }
  }
  const hardenedKeys = [...keys].filter((k) => !k.startsWith("limits.")).sort();

  test("the keys hardenedConfig sets are the ones this test knows", () => {
    expect(hardenedKeys).toEqual([
      "security.devlxd", "security.idmap.isolated", "security.idmap.size", "security.nesting", "security.privileged",
      "security.syscalls.deny_compat", "security.syscalls.deny_default", "security.syscalls.intercept.mknod", "security.syscalls.intercept.setxattr",
    ]);
  });

  test.each(hardenedKeys)("rejects %s=\"\" with its class, whatever the inputs asked for", (key) => {
    const cls = CLASS_OF.find(([re]) => re.test(key))![1];
    for (const opts of [{}, { nesting: { workload: "docker" } as Nesting, devLxd: true }]) {
      const found = assess({ [key]: "" }, {}, opts);
      expect(found.map((f) => f.class)).toEqual([cls]);
      expect(found[0].reason).toMatch(/^an empty value unsets the key and with it the hardened default \(.+\), so a profile or LXD's default decides/);
      expect(refusalMessage(found[0])).toContain(`add "${cls}" to securityOptOuts`);
    }
  });

  test("the default limits stay a user choice: emptying them is no finding", () => {
    expect(assess({ "limits.cpu": "", "limits.memory": "", "limits.processes": "" }, {})).toEqual([]);
  });
});

describe("hole 2: hardened booleans fail closed (LXD's shared.IsTrue / IsFalse: lower-cased, never trimmed)", () => {
  const upper = (s: string) => s.toUpperCase();
  const title = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  const spellings = (list: readonly string[]) => list.flatMap((s) => [s, upper(s), title(s)]);
  const notSpellings = (word: string) => [` ${word}`, `${word} `, `\t${word}`, `${upper(word)} `, "nope", "t", "y", "f", "n", "enabled", "disabled", "2", "-1", "truee", "fals"];

  test("LXD's spellings are the four words each way", () => {
    expect([...LXD_TRUE]).toEqual(["true", "1", "yes", "on"]);
    expect([...LXD_FALSE]).toEqual(["false", "0", "no", "off"]);
  });

  test.each([
    ["security.privileged", "false", "privileged"], ["security.nesting", "false", "nesting"], ["security.devlxd", "false", "devlxd"],
    ["security.idmap.isolated", "true", "idmap"], ["security.syscalls.deny_default", "true", "seccomp"], ["security.syscalls.deny_compat", "true", "seccomp"],
  ])("%s: only a spelling of %s passes", (key, hardened, cls) => {
    const good = spellings(hardened === "true" ? LXD_TRUE : LXD_FALSE);
    const bad = [...notSpellings(hardened), ...spellings(hardened === "true" ? LXD_FALSE : LXD_TRUE)];
    for (const v of good) expect({ v, found: classes({ [key]: v }) }).toEqual({ v, found: [] });
    for (const v of bad) expect({ v, found: classes({ [key]: v }) }).toEqual({ v, found: [cls] });
    expect(classes({ [key]: UNKNOWN })).toEqual([]); // a preview unknown is judged when known
  });
});

describe("hole 3: line breaks are refused in every value LXD may write into the LXC config, with no opt-out", () => {
  const everyOptOut = [...WEAKENING_CLASSES, "injection" as WeakeningClass];

  test.each([
    ["environment.A", "x\nlxc.apparmor.profile = unconfined"], ["environment.B", "x\ry"], ["limits.cpu", "1\n"], ["boot.autostart", "true\r\n"],
    ["linux.sysctl.net.core.somaxconn", "1\nx"], ["snapshots.schedule", "@daily\n"],
  ])("rejects a line break in %s", (key, value) => {
    const found = assess({ [key]: value }, {});
    expect(found.map((f) => f.class)).toEqual(["injection"]);
    expect(applyOptOuts(found, everyOptOut).weakened).toEqual([]);
    expect(found[0].value).toBeUndefined(); // never echoed
    expect(refusalMessage(found[0])).toMatch(/refused in every case \(no opt-out accepts it\)$/);
  });

  test("a line break in a hardened key is both an injection and its own class", () => {
    expect(classes({ "security.privileged": "false\nlxc.cap.drop =" }).sort()).toEqual(["injection", "privileged"]);
  });

  test("keys that are multi-line by design pass: raw.*, cloud-init.*, user.*", () => {
    expect(assess({
      "cloud-init.user-data": "#cloud-config\npackages: [curl]\n", "user.user-data": "#cloud-config\n", "user.note": "a\r\nb",
      "raw.lxc": "lxc.init.cmd = /sbin/init\nlxc.log.level = 1\n", "raw.idmap": "",
    }, {})).toEqual([]);
  });

  test("image.* keys (LXD's copy of the image's properties, never in the LXC config) pass; a lone \\r in raw.lxc starts a line", () => {
    expect(assess({ "image.description": "Ubuntu\njammy" }, {})).toEqual([]);
    const found = assess({ "raw.lxc": "lxc.init.cmd = /sbin/init\rlxc.apparmor.profile = unconfined" }, {});
    expect(found.map((f) => [f.class, f.key])).toEqual([["apparmor", "config.raw.lxc[line 2: lxc.apparmor.profile]"]]);
  });

  test("rejects a line break in any device property or device name", () => {
    expect(classes({}, { d: { type: "disk", source: "/srv/data", path: "/data\r" } })).toEqual(["injection"]);
    expect(classes({}, { d: { type: "nic", network: "lxdbr0", name: "eth0\nlxc.net.1.type = phys" } })).toEqual(["injection"]);
    expect(classes({}, { "eth\n1": { type: "nic", network: "lxdbr0" } })).toEqual(["injection"]);
    expect(applyOptOuts(assess({}, { d: { type: "disk", source: "/srv", path: "/x\n" } }), everyOptOut).refused).toHaveLength(1);
  });
});

describe("hole 4: the host kernel (class kernel)", () => {
  test("linux.kernel_modules is a finding", () => {
    expect(classes({ "linux.kernel_modules": "ip_tables,overlay" })).toEqual(["kernel"]);
    expect(classes({ "linux.kernel_modules": "" })).toEqual([]);
  });

  test("linux.sysctl.* is a finding outside the container's own network and IPC namespaces", () => {
    for (const k of ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", "net.netfilter.nf_conntrack_max", "net.unix.max_dgram_qlen", "net.core.somaxconn", "kernel.shmmni", "kernel.sem", "fs.mqueue.msg_max"]) {
      expect([k, classes({ [`linux.sysctl.${k}`]: "1" })]).toEqual([k, []]);
    }
    // Host-wide keys, user namespace limits (host-wide in a privileged container) and odd spellings are refused.
    for (const k of ["vm.overcommit_memory", "kernel.domainname", "net.core.bpf_jit_harden", "user.max_user_namespaces", "NET.ipv4.ip_forward", "net/ipv4/ip_forward", "net.core.somaxconn.", "fs.mqueue", "kernel.shmmni2"]) {
      expect([k, classes({ [`linux.sysctl.${k}`]: "1" })]).toEqual([k, ["kernel"]]);
    }
    expect(classes({ "linux.sysctl.vm.swappiness": "" })).toEqual([]);
  });

  test.each([
    ["nofile", ["unlimited", "-1", "1048577", "1024:unlimited", "1024:-1", "lots", "UNLIMITED"], ["1024", "1048576", "1024:1048576", " 4096 "]],
    ["memlock", ["unlimited", "67108865", "-1"], ["65536", "67108864"]],
    ["nproc", ["unlimited", "65537"], ["4096", "65536"]],
    ["msgqueue", ["unlimited", "8388609"], ["819200"]],
    ["rtprio", ["1", "99", "unlimited"], ["0"]],
    ["nice", ["21", "40", "unlimited"], ["0", "20"]],
  ])("limits.kernel.%s: lifted values are findings, bounded ones are not", (name, lifted, bounded) => {
    for (const v of lifted) expect({ v, found: classes({ [`limits.kernel.${name}`]: v }) }).toEqual({ v, found: ["kernel"] });
    for (const v of bounded) expect({ v, found: classes({ [`limits.kernel.${name}`]: v }) }).toEqual({ v, found: [] });
  });

  test("limits whose kernel default is already unlimited are not judged", () => {
    expect(classes({ "limits.kernel.core": "unlimited", "limits.kernel.stack": "unlimited", "limits.kernel.as": "-1" })).toEqual([]);
  });

  test("kernel findings are accepted with the kernel opt-out", () => {
    expect(applyOptOuts(assess({ "linux.kernel_modules": "overlay", "limits.kernel.nofile": "unlimited" }, {}), ["kernel"]).refused).toEqual([]);
  });
});

describe("hole 5: security.devlxd is judged like the devLxd input (class devlxd)", () => {
  test("set by hand it is a finding that points at the devLxd input", () => {
    const [f] = assess({ "security.devlxd": "true" }, {});
    expect(f.class).toBe("devlxd");
    expect(refusalMessage(f)).toMatch(/config\.security\.devlxd weakens confinement: .*use the guestApi: true input.*add "devlxd" to securityOptOuts/);
  });

  test("Incus's security.guestapi is judged alike: a finding of class devlxd, unless the guestApi input asked for it", () => {
    const [f] = assess({ "security.guestapi": "true" }, {});
    expect(f.class).toBe("devlxd");
    expect(refusalMessage(f)).toMatch(/config\.security\.guestapi weakens confinement: .*guestApi: true input/);
    expect(classes({ "security.guestapi": "true" }, {}, { devLxd: true })).toEqual([]);
    expect(classes({ "security.guestapi": "false" }, {})).toEqual([]);
    expect(classes(hardenedConfig({ type: "container", server: "incus" }))).toEqual([]);
    expect(Object.keys(hardenedConfig({ type: "container", server: "incus" }))).toContain("security.guestapi");
    expect(Object.keys(hardenedConfig({ type: "container", server: "incus" }))).not.toContain("security.devlxd");
  });

  test("assess options say which inputs asked for nesting and /dev/lxd, so callers filter nothing by hand", () => {
    const docker: Nesting = { workload: "docker" };
    expect(classes({ "security.devlxd": "true" }, {}, { devLxd: true })).toEqual([]);
    expect(classes({ "security.nesting": "true" }, {}, { nesting: docker })).toEqual([]);
    expect(classes(hardenedConfig({ type: "container", nesting: docker, devLxd: true }), {}, { nesting: docker, devLxd: true })).toEqual([]);
    expect(classes(hardenedConfig({ type: "container", nesting: docker, devLxd: true }))).toEqual(["devlxd", "nesting"]);
    // The input asks for true, not for anything: a value that is not a spelling of true is still refused.
    expect(classes({ "security.devlxd": "maybe", "security.nesting": "" }, {}, { nesting: docker, devLxd: true })).toEqual(["devlxd", "nesting"]);
  });
});

describe("hole 6: disks", () => {
  test.each(["/var", "/var/", "/var/lib", "/usr", "/usr/lib", "/lib", "/var/lib/../lib", "/run", "/var/log/lxd/c1", "/"])("rejects a disk of %s (is, is under or contains a protected path)", (source) => {
    expect(classes({}, { d: { type: "disk", source, path: "/mnt" } })).toEqual(["devices"]);
  });

  test.each(["/srv", "/srv/var", "/var/tmp", "/var/lib/lxd-backups", "/home/u/src", "/varx"])("accepts a disk of %s", (source) => {
    expect(classes({}, { d: { type: "disk", source, path: "/mnt" } })).toEqual([]);
  });

  test("shift=true is an idmap finding on any disk, pool volumes included", () => {
    expect(classes({}, { v: { type: "disk", pool: "default", source: "shared", path: "/s", shift: "true" } })).toEqual(["idmap"]);
    expect(classes({}, { v: { type: "disk", source: "/srv/data", path: "/s", shift: "On" } })).toEqual(["idmap"]);
    expect(classes({}, { v: { type: "disk", pool: "default", source: "shared", path: "/s", shift: "false" } })).toEqual([]);
    expect(classes({}, { v: { type: "disk", pool: "default", source: "shared", path: "/s", shift: "nope" } })).toEqual(["idmap"]); // fails closed
  });
});

describe("hole 7: judgeEffective judges the instance laid over its profiles", () => {
  const base = { devices: {}, optOuts: [] as WeakeningClass[] };
  const hardened = hardenedConfig({ type: "container" });

  test("a profile's weakening is refused, named with the profile, the key and the opt-out", () => {
    const r = judgeEffective({ ...base, config: { "limits.cpu": "2" }, profiles: [{ name: "p1", config: { "security.privileged": "true" } }] });
    expect(r.refused).toEqual([expect.objectContaining({ class: "privileged", key: "config.security.privileged", source: 'profile "p1"', value: "true" })]);
    expect(refusalMessage(r.refused[0])).toBe(
      'profile "p1" sets security.privileged=true, which weakens confinement: a privileged container\'s root is the host\'s root. ' +
      'Refused for instance config laid over its profiles; to accept it, add "privileged" to securityOptOuts');
    expect(judgeEffective({ ...base, config: {}, profiles: [{ name: "p1", config: { "security.privileged": "true" } }], optOuts: ["privileged"] }).refused).toEqual([]);
  });

  test("the instance wins over all profiles, later profiles over earlier ones", () => {
    const profiles: ProfileLayer[] = [{ name: "a", config: { "security.nesting": "true", "limits.cpu": "4" } }, { name: "b", config: { "security.nesting": "false", "security.privileged": "1" } }];
    const r = judgeEffective({ ...base, config: hardened, profiles });
    // The instance's hardened privileged=false and nesting=false win, so what runs is hardened; the profiles'
    // weakenings are still findings (C15): only the instance's own keys keep them off.
    expect(r.findings.map((f) => [f.source, f.key])).toEqual([['profile "a"', "config.security.nesting"], ['profile "b"', "config.security.privileged"]]);
    expect(r.findings.every((f) => f.reason.endsWith("(shadowed today by the instance's own value)"))).toBe(true);
    expect(r.config).toMatchObject({ "security.nesting": "false", "security.privileged": "false", "limits.cpu": "1" });
    expect(r.configSources["security.privileged"]).toBe("instance");
    const r2 = judgeEffective({ ...base, config: {}, profiles });
    // Profile b's nesting=false shadows a's true: a's stays a finding, naming what shadows it.
    expect(r2.findings.map((f) => [f.source, f.key])).toEqual([['profile "b"', "config.security.privileged"], ['profile "a"', "config.security.nesting"]]);
    expect(r2.findings[1].reason).toMatch(/shadowed today by profile "b"/);
    expect(r2.configSources["limits.cpu"]).toBe('profile "a"');
  });

  test("an instance security.privileged=\"\" over a profile's true is refused twice: the empty value, and the profile's true that shows through", () => {
    const r = judgeEffective({ ...base, config: { ...hardened, "security.privileged": "" }, profiles: [{ name: "p1", config: { "security.privileged": "true" } }] });
    expect(r.config["security.privileged"]).toBe("true");
    expect(r.refused.map((f) => [f.source, f.class, f.value])).toEqual([['profile "p1"', "privileged", "true"], ["instance", "privileged", ""]]);
    expect(refusalMessage(r.refused[1])).toMatch(/^the instance sets security\.privileged="", which weakens confinement: an empty value unsets the key/);
  });

  test("an instance device replaces a profile's device of the same name whole", () => {
    const profiles = [{ name: "p1", devices: { data: { type: "disk", source: "/var/lib", path: "/d" }, gpu: { type: "gpu" } } }];
    const r = judgeEffective({ ...base, config: {}, devices: { data: { type: "disk", source: "/srv/data", path: "/d" } }, profiles });
    expect(r.devices.data).toEqual({ type: "disk", source: "/srv/data", path: "/d" });
    expect(r.findings.map((f) => [f.source, f.key, f.class])).toEqual([['profile "p1"', "devices.gpu", "devices"], ['profile "p1"', "devices.data", "devices"]]);
    expect(refusalMessage(r.findings[0])).toMatch(/^profile "p1" sets devices\.gpu, which weakens confinement: a gpu device passes a host GPU\. .*add "devices"/);
    // The profile's /var/lib disk is replaced by the instance's own device today: still a finding, said so.
    expect(r.findings[1].reason).toMatch(/shadowed today by the instance's own device/);
    // A device of type none in the instance hides the profile's device from what runs, not from judgement.
    const masked = judgeEffective({ ...base, config: {}, devices: { gpu: { type: "none" } }, profiles });
    expect(masked.devices.gpu).toEqual({ type: "none" });
    expect(masked.findings.map((f) => f.key)).toEqual(["devices.data", "devices.gpu"]);
  });

  test("raw.lxc lines and injections from a profile name the profile; injections stay refused with every opt-out", () => {
    const r = judgeEffective({
      ...base, config: {}, optOuts: [...WEAKENING_CLASSES],
      profiles: [{ name: "p2", config: { "raw.lxc": "lxc.apparmor.profile = unconfined", "environment.X": "a\nlxc.cap.drop =" } }],
    });
    expect(r.weakened.map((f) => [f.source, f.key])).toEqual([['profile "p2"', "config.raw.lxc[line 1: lxc.apparmor.profile]"]]);
    expect(r.refused.map((f) => [f.source, f.class])).toEqual([['profile "p2"', "injection"]]);
    expect(refusalMessage(r.refused[0])).toMatch(/^profile "p2" sets environment\.X, which weakens confinement: .*refused in every case/);
  });

  test("the report's warnings say which layer set an accepted weakening", () => {
    const r = judgeEffective({ ...base, config: {}, optOuts: ["privileged"], profiles: [{ name: "p1", config: { "security.privileged": "true" } }] });
    expect(securityReport(r.config, r.weakened, { apparmor: true }, ["privileged"]).warnings).toEqual([
      "config.security.privileged weakens confinement (privileged, opted out): a privileged container's root is the host's root (set by profile \"p1\")",
    ]);
  });

  test("the inputs that asked for nesting and /dev/lxd are honoured; preview unknowns are carried, not judged", () => {
    const docker: Nesting = { workload: "docker" };
    const config = hardenedConfig({ type: "container", nesting: docker, devLxd: true });
    expect(judgeEffective({ ...base, config, profiles: [], nesting: docker, devLxd: true }).findings).toEqual([]);
    expect(judgeEffective({ ...base, config, profiles: [] }).findings.map((f) => f.class)).toEqual(["devlxd", "nesting"]);
    const r = judgeEffective({ ...base, config: { "security.privileged": UNKNOWN }, profiles: [{ name: "p", config: UNKNOWN as never, devices: { d: UNKNOWN as never } }] });
    expect(r.findings).toEqual([]);
    expect(r.config["security.privileged"]).toBe(UNKNOWN);
  });
});
