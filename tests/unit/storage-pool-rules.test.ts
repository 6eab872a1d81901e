/** Storage pool rules without LXD: the per-driver key table, sizes, the protected-source rule, and the kind's check. */
import {
  MEMBER_SPECIFIC_POOL_KEYS, POOL_DRIVERS, POOL_KEYS, normalizeHostPath, poolKeyProblem, protectedSourceReason,
} from "../../provider/rules/storage-pool";
import { storagePoolKind } from "../../provider/kinds/storage-pool";
import { UNKNOWN } from "../../provider/rules/values";
import { POOL_KEY_EXTENSIONS } from "../../provider/rules/server-keys";

const check = (news: Record<string, unknown>) =>
  storagePoolKind.check(news, { olds: {}, open: () => { throw new Error("check must not reach LXD"); } });

describe("protected sources", () => {
  test.each([
    "/", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/boot", "/dev", "/proc", "/sys", "/run", "/root",
    "/home", "/var", "/var/lib", "/var/snap", "/var/lib/lxd", "/var/lib/incus",
    "/etc/", "//etc//", "/srv/../etc", "/var/lib/./lxd/", "/var/lib/lxd/storage-pools/x", "/var/lib/lxd/disks/p.img",
    "/var/lib/incus/anything", "/srv/../var/lib/lxd/x/..", "/var/snap/lxd/common/lxd/storage-pools", "/home/..",
  ])("rejects %s", (p) => {
    expect(protectedSourceReason(p)).toMatch(/^config\.source must not be .* but ".*" was provided$/);
  });

  test.each(["/srv/lxd-pool", "/var/lib/lxd-pools", "/var/lib/incus2", "/home/alice/pool", "/etc/x/../../srv/p", "/dev/sdb", "/var/lib/lxdx"])(
    "accepts %s",
    (p) => {
      expect(protectedSourceReason(p)).toBeUndefined();
    },
  );

  test("names LXD's data directory when the path is inside it, a system directory otherwise", () => {
    expect(protectedSourceReason("/var/lib/lxd/x")).toMatch(/LXD's or Incus's own data directory .*\(\/var\/lib\/lxd\)/);
    expect(protectedSourceReason("/usr/")).toMatch(/system directory of the host \(\/usr\)/);
  });

  test("LXD_DIR is protected with everything inside it; relative names (datasets, OSD pools) are not paths", () => {
    expect(protectedSourceReason("/srv/lxd-data/pools/a", "/srv/lxd-data")).toMatch(/\(\/srv\/lxd-data\)/);
    expect(protectedSourceReason("/srv/lxd-data/pools/a")).toBeUndefined();
    expect(protectedSourceReason("tank/lxd")).toBeUndefined();
  });

  test("LXD_DIR and INCUS_DIR are both protected when given (either may be unset)", () => {
    expect(protectedSourceReason("/srv/incus-data/pools/a", undefined, "/srv/incus-data")).toMatch(/\(\/srv\/incus-data\)/);
    expect(protectedSourceReason("/srv/lxd-data/x", "/srv/lxd-data", "/srv/incus-data")).toMatch(/\(\/srv\/lxd-data\)/);
    expect(protectedSourceReason("/srv/other", "/srv/lxd-data", "/srv/incus-data")).toBeUndefined();
  });

  test("normalises dots, repeated and trailing slashes", () => {
    expect(normalizeHostPath("/var//lib/../lib/lxd/")).toBe("/var/lib/lxd");
    expect(normalizeHostPath("/")).toBe("/");
  });
});

describe("keys by driver", () => {
  test("every driver takes user.*, and no volatile.* key", () => {
    for (const d of POOL_DRIVERS) {
      expect(poolKeyProblem(d, "user.Anything", "x")).toBeUndefined();
      expect(poolKeyProblem(d, "volatile.initial_source", "x")).toMatch(/LXD's own/);
    }
  });

  test("member-specific keys are keys of their driver", () => {
    for (const d of POOL_DRIVERS) for (const k of MEMBER_SPECIFIC_POOL_KEYS[d]) expect(POOL_KEYS[d]).toContain(k);
    expect(MEMBER_SPECIFIC_POOL_KEYS.zfs).toEqual(expect.arrayContaining(["source", "size", "zfs.pool_name"]));
    expect(MEMBER_SPECIFIC_POOL_KEYS.lvm).toEqual(expect.arrayContaining(["lvm.vg_name", "lvm.thinpool_name"]));
  });

  test("size strings as LXD parses them", () => {
    for (const ok of ["10GiB", "500MB", "10kB", "1073741824", "0", "2TiB"]) expect(poolKeyProblem("btrfs", "size", ok)).toBeUndefined();
    for (const bad of ["10G", "10KB", "1.5GiB", "10 GiB", "-1", "10gib", "big"]) {
      expect(poolKeyProblem("btrfs", "size", bad)).toBe(`config.size must be an LXD size: a whole number with an optional unit (B, kB, MB, GB, TB, PB, EB, KiB, MiB, GiB, TiB, PiB, EiB), e.g. 10GiB or 500MB, but ${JSON.stringify(bad)} was provided`);
    }
    expect(poolKeyProblem("dir", "volume.size", "1G")).toMatch(/^config\.volume\.size must be an LXD size/);
  });
});

describe("check (schema) of the drivers that are validated, not created, here", () => {
  test.each([
    ["lvm", { source: "/dev/sdb", size: "20GiB", "lvm.vg_name": "vg0", "lvm.thinpool_name": "tp", "lvm.use_thinpool": true, "lvm.vg.force_reuse": false, "volume.block.filesystem": "xfs", "volume.lvm.stripes": 2 }],
    ["zfs", { source: "tank/lxd", "zfs.pool_name": "tank/lxd", "zfs.clone_copy": "rebase", "zfs.export": false, size: "30GiB", "volume.zfs.use_refquota": true, "volume.zfs.blocksize": "16KiB" }],
    ["ceph", { "ceph.cluster_name": "ceph", "ceph.osd.pool_name": "lxd", "ceph.user.name": "admin", "ceph.osd.pg_num": 32, "ceph.rbd.features": "layering", "volume.block.filesystem": "ext4" }],
    ["cephfs", { source: "fs0/lxd", "cephfs.cluster_name": "ceph", "cephfs.path": "/lxd", "cephfs.user.name": "admin", "cephfs.fscache": false }],
  ])("accepts %s with its own keys, values as strings", async (driver, config) => {
    const r = await check({ name: "pool1", driver, config: { ...config, "user.note": 1 } });
    expect(r.failures).toBeUndefined();
    expect(Object.values(r.inputs!.config).every((v) => typeof v === "string")).toBe(true);
    expect(r.inputs!.config["user.note"]).toBe("1");
  });

  test.each([
    ["lvm", "zfs.pool_name"], ["zfs", "lvm.vg_name"], ["ceph", "size"], ["cephfs", "ceph.osd.pool_name"], ["dir", "size"], ["btrfs", "volume.block.filesystem"],
  ])("rejects on %s the key %s, naming it, the driver and its keys", async (driver, key) => {
    const r = await check({ name: "pool1", driver, config: { [key]: "1" } });
    expect(r.failures).toEqual([{ property: `config.${key}`, reason: expect.stringContaining(`config key "${key}" is not a storage pool key of driver "${driver}" (its keys: source,`) }]);
  });

  test("rejects a bad driver, a bad name, a bad boolean, a protected source", async () => {
    expect((await check({ name: "p", driver: "nfs" })).failures).toEqual([expect.objectContaining({ property: "driver", reason: expect.stringMatching(/driver must be one of dir, btrfs, lvm, zfs, ceph, cephfs/) })]);
    expect((await check({ name: "-p", driver: "dir" })).failures).toEqual([expect.objectContaining({ property: "name", reason: expect.stringMatching(/^name must be 1–63/) })]);
    expect((await check({ name: "p", driver: "lvm", config: { "lvm.use_thinpool": "yes" } })).failures).toEqual([{ property: "config.lvm.use_thinpool", reason: 'config.lvm.use_thinpool must be true or false, but "yes" was provided' }]);
    expect((await check({ name: "p", driver: "dir", config: { source: "/var/lib/../lib/lxd/" } })).failures).toEqual([{ property: "config.source", reason: expect.stringMatching(/^config\.source must not be LXD's/) }]);
  });

  test("preview unknowns are carried, what is known still judged", async () => {
    // An unknown driver: the driver's keys cannot be judged yet (the create's check will).
    const r = await check({ name: "p", driver: UNKNOWN, config: { "zfs.pool_name": "x" } });
    expect(r.failures ?? []).toEqual([]);
    expect((await check({ name: "p", driver: "dir", config: { "user.a": UNKNOWN, size: "1G" } })).failures).toEqual([expect.objectContaining({ property: "config.size" })]);
    expect((await check({ name: "p", driver: "dir", config: UNKNOWN })).inputs!.config).toBe(UNKNOWN);
  });
});

describe("users of a pool in words", () => {
  test("names the kind, the name, and a project other than default", async () => {
    const { describeUsedByInProject, describeUsedBy } = await import("../../provider/rules/used-by");
    expect(describeUsedByInProject("/1.0/instances/c1?project=team")).toBe('instance "c1" in project "team"');
    expect(describeUsedByInProject("/1.0/profiles/default")).toBe('profile "default"');
    expect(describeUsedByInProject("/1.0/storage-pools/p1/volumes/custom/v1?project=default")).toBe('storage volume "custom/v1" in pool "p1"');
    expect(describeUsedByInProject("/1.0/images/0123456789abcdef0123")).toBe("image 0123456789ab");
    expect(describeUsedBy("/1.0/instances/c1?project=team")).toBe('instance "c1"');
  });
});

describe("keys only some servers take", () => {
  test("source.wipe is a key of btrfs, lvm and zfs (boolean); lvm.metadata_size of lvm (a size); each names its API extension", () => {
    for (const d of ["btrfs", "lvm", "zfs"] as const) expect(poolKeyProblem(d, "source.wipe", "true")).toBeUndefined();
    expect(poolKeyProblem("dir", "source.wipe", "true")).toMatch(/^config key "source.wipe" is not a storage pool key of driver "dir"/);
    expect(poolKeyProblem("btrfs", "source.wipe", "yes")).toBe('config.source.wipe must be true or false, but "yes" was provided');
    expect(poolKeyProblem("lvm", "lvm.metadata_size", "10MiB")).toBeUndefined();
    expect(poolKeyProblem("lvm", "lvm.metadata_size", "10M")).toMatch(/^config\.lvm\.metadata_size must be an LXD size/);
    expect(POOL_KEY_EXTENSIONS).toEqual({ "source.wipe": "storage_pool_source_wipe", "lvm.metadata_size": "storage_lvm_metadatasize" });
  });
});
