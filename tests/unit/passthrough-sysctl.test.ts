import { LXD_PRODUCTION_SYSCTLS, renderLxdLimits, renderLxdSysctl } from "../../components/passthrough/sysctl";

describe("LXD production server settings", () => {
  test("carries the documented sysctls and values", () => {
    const text = renderLxdSysctl("o");
    for (const line of [
      "fs.inotify.max_user_instances = 1048576",
      "fs.inotify.max_user_watches = 1048576",
      "fs.inotify.max_queued_events = 1048576",
      "vm.max_map_count = 262144",
      "kernel.dmesg_restrict = 1",
      "net.core.bpf_jit_limit = 1000000000",
      "net.ipv4.neigh.default.gc_thresh3 = 8192",
      "kernel.keys.maxkeys = 2000",
    ]) {
      expect(text).toContain(`\n${line}\n`);
    }
    expect(text.trim().split("\n")).toHaveLength(LXD_PRODUCTION_SYSCTLS.length + 1);
  });
  test("applies overrides in place", () => {
    const text = renderLxdSysctl("o", { "kernel.dmesg_restrict": "0", "fs.file-max": "9999999" });
    expect(text).toContain("\nkernel.dmesg_restrict = 0\n");
    expect(text).not.toContain("kernel.dmesg_restrict = 1");
    expect(text).toContain("\nfs.file-max = 9999999\n");
  });
  test("rejects an override that would inject a line", () => {
    expect(() => renderLxdSysctl("o", { "vm.max_map_count": "1\nkernel.modules_disabled = 1" })).toThrow(/short plain value/);
    expect(() => renderLxdSysctl("o", { "../../etc": "1" })).toThrow(/dotted lower-case/);
  });
  test("limits.d sets nofile and memlock for * and root", () => {
    const rows = renderLxdLimits("o").trim().split("\n").slice(1).map((l) => l.split(/\s+/));
    expect(rows).toContainEqual(["*", "soft", "nofile", "1048576"]);
    expect(rows).toContainEqual(["root", "hard", "nofile", "1048576"]);
    expect(rows).toContainEqual(["*", "hard", "memlock", "unlimited"]);
    expect(rows).toHaveLength(8);
  });
});
