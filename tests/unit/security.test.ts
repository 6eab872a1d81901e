/** The hardening policy's pure parts: idmap sizing, raw.lxc judgement, findings and the report. */
import { applyOptOuts, assess, hardenedConfig, idmapSizeFor, judgeRawLxc, securityReport } from "../../provider/security";
import { UNKNOWN } from "../../provider/rules/values";

test("idmap sizes follow how LXD allocates ids (65536 blocks, a nested LXD skips ids below 100000)", () => {
  expect(idmapSizeFor()).toBe(65536);
  expect(idmapSizeFor({ workload: "docker" })).toBe(131072);
  expect(idmapSizeFor({ workload: "userns" })).toBe(131072);
  expect(idmapSizeFor({ workload: "lxd" })).toBe(196608); // 100000 + 65536 → 3 blocks
  expect(idmapSizeFor({ workload: "lxd", depth: 2 })).toBe(327680); // 100000 + 196608 → 5 blocks
  expect(idmapSizeFor({ workload: "lxd", childInstances: 4 })).toBe(393216); // 100000 + 4×65536 → 6 blocks
  // "65536 per level" would under-allocate for a nested LXD:
  expect(idmapSizeFor({ workload: "lxd", depth: 2 })).toBeGreaterThan(3 * 65536);
});

test("hardened container config: unprivileged, isolated, seccomp with compat deny list, no /dev/lxd, limits", () => {
  expect(hardenedConfig({ type: "container" })).toEqual({
    "security.devlxd": "false", "limits.cpu": "1", "limits.memory": "1GiB", "limits.processes": "2000",
    "security.privileged": "false", "security.idmap.isolated": "true",
    "security.syscalls.deny_default": "true", "security.syscalls.deny_compat": "true", "security.nesting": "false",
  });
  expect(hardenedConfig({ type: "container", nesting: { workload: "docker" } })).toMatchObject({
    "security.nesting": "true", "security.idmap.size": "131072", "security.syscalls.intercept.mknod": "true",
  });
  // Container-only keys are not set on virtual machines (LXD rejects them there).
  expect(Object.keys(hardenedConfig({ type: "virtual-machine" })).sort()).toEqual(["limits.cpu", "limits.memory", "limits.processes", "security.devlxd"]);
  expect(hardenedConfig({ type: "container", defaultLimits: false })["limits.memory"]).toBeUndefined();
});

test("raw.lxc is judged line by line: harmless lines pass, each confinement change is named with its class", () => {
  expect(judgeRawLxc("# seed\nlxc.init.cmd = /sbin/init\n\nlxc.log.level=1\nlxc.environment = A=b")).toEqual([]);
  const f = judgeRawLxc("lxc.init.cmd = /sbin/init\nlxc.apparmor.profile=unconfined\nlxc.cap.drop =\nlxc.cgroup2.devices.allow = a\nlxc.mount.entry = /dev/dri dev/dri none bind\nlxc.frobnicate = 1\nnot a line");
  expect(f.map((x) => x.class)).toEqual(["apparmor", "capabilities", "devices", "raw", "raw", "raw"]);
  expect(f[0].key).toBe("config.raw.lxc[line 2: lxc.apparmor.profile]");
  expect(f[4].reason).toMatch(/not known to leave confinement unchanged/);
});

test("rejects the known ways LXD lets confinement be weakened, and only those", () => {
  const classes = (cfg: Record<string, string>, dev: Record<string, Record<string, string>> = {}) => assess(cfg, dev).map((f) => f.class);
  expect(classes({ "security.privileged": "true" })).toEqual(["privileged"]);
  expect(classes({ "security.privileged": "false", "security.idmap.isolated": "true", "limits.cpu": "2", "user.x": "y" })).toEqual([]);
  expect(classes({ "security.syscalls.deny_default": "false" })).toEqual(["seccomp"]);
  expect(classes({ "security.syscalls.deny_compat": "0" })).toEqual(["seccomp"]);
  expect(classes({ "security.syscalls.allow": "mount" })).toEqual(["seccomp"]);
  expect(classes({ "security.syscalls.intercept.mount": "true" })).toEqual(["seccomp"]);
  expect(classes({ "security.syscalls.intercept.mknod": "true" })).toEqual([]); // LXD allows only safe nodes
  expect(classes({ "security.idmap.isolated": "false" })).toEqual(["idmap"]);
  expect(classes({ "raw.idmap": "both 1000 1000" })).toEqual(["idmap"]);
  expect(classes({ "raw.apparmor": "mount," })).toEqual(["apparmor"]);
  expect(classes({ "security.nesting": "true" })).toEqual(["nesting"]);
  expect(classes({}, { gpu0: { type: "gpu" } })).toEqual(["devices"]);
  expect(classes({}, { d: { type: "disk", source: "/srv/data", path: "/data" } })).toEqual([]);
  expect(classes({}, { d: { type: "disk", source: "/srv/data", path: "/data", shift: "true" } })).toEqual(["idmap"]);
  expect(classes({}, { d: { type: "disk", source: "/var/lib/lxd/unix.socket", path: "/s" } })).toEqual(["devices"]);
  expect(classes({}, { p: { type: "proxy", bind: "instance", listen: "unix:/s", connect: "unix:/run/x" } })).toEqual(["devices"]);
  expect(applyOptOuts(assess({ "security.privileged": "true", "raw.apparmor": "x" }, {}), ["privileged"]).refused.map((f) => f.class)).toEqual(["apparmor"]);
});

test("the security report says what is really in force", () => {
  const hardened = hardenedConfig({ type: "container" });
  expect(securityReport(hardened, [], { apparmor: true })).toMatchObject({ seccomp: "lxd-default+compat", apparmor: "lxd-default", privileged: false, idmapIsolated: true, idmapSize: 65536, warnings: [] });
  const off = { ...hardened, "security.syscalls.deny_default": "false" };
  const r = securityReport(off, assess(off, {}), { apparmor: false });
  expect(r.seccomp).toBe("off");
  expect(r.apparmor).toBe("unavailable-on-host");
  expect(r.warnings).toHaveLength(2);
});

test("rejects an empty value where LXD's default for the unset key is the weak one", () => {
  expect(assess({ "security.idmap.isolated": "" }, {}).map((f) => f.class)).toEqual(["idmap"]);
  expect(assess({ "security.syscalls.deny_compat": "" }, {}).map((f) => f.class)).toEqual(["seccomp"]);
  expect(assess({ "security.privileged": "", "limits.memory": "" }, {})).toEqual([]); // unset: LXD's default is safe / a user choice
});

test("rejects sensitive host paths however they are spelled", () => {
  for (const source of ["/tmp/../etc", "//etc", "/./etc", "/etc/", "/srv/../", "/var/lib/lxd/../lxd/unix.socket"]) {
    expect(assess({}, { d: { type: "disk", source, path: "/mnt" } }).map((f) => f.class)).toEqual(["devices"]);
  }
  expect(assess({}, { d: { type: "disk", source: "/srv/etc", path: "/mnt" } })).toEqual([]);
});

test("raw.lxc lines that write host files or that LXD refuses are findings, not harmless", () => {
  const classes = (line: string) => judgeRawLxc(line).map((f) => f.class);
  expect(classes("lxc.console.logfile = /etc/cron.d/x")).toEqual(["raw"]);
  expect(classes("lxc.console.path = /dev/tty1")).toEqual(["raw"]);
  expect(classes("lxc.log.file = /tmp/x")).toEqual(["raw"]);
  expect(classes("lxc.prlimit.nofile = 1024")).toEqual(["raw"]);
  expect(classes("lxc.net.0.type = phys")).toEqual(["raw"]);
  expect(classes("lxc.console.size = 4096\nlxc.log.level = 1")).toEqual([]);
});

test("preview unknowns are not judged; warnings say whether a weakening was opted out here", () => {
  expect(assess({ "raw.lxc": UNKNOWN, "security.privileged": UNKNOWN }, {})).toEqual([]);
  const found = assess({ "security.privileged": "true" }, {});
  expect(securityReport({ "security.privileged": "true" }, found, { apparmor: true }, ["privileged"]).warnings[0]).toMatch(/\(privileged, opted out\)/);
  expect(securityReport({ "security.privileged": "true" }, found, { apparmor: true }, []).warnings[0]).toMatch(/not opted out here: it comes from a profile or was set outside this program/);
});
