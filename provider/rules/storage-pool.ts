/**
 * Storage pool rules, defined once: the drivers, the config keys each driver takes (LXD 5.0's storage driver
 * reference, checked against LXD 5.0.2, which answers `Invalid option "<key>"` for the others), which keys are
 * member-specific in a cluster, which keys LXD fills in itself, LXD size strings, and the host paths a pool's
 * `source` must never be. Pure data and functions (no client, no Pulumi): the storage pool kind, its tests and
 * later the cluster work use them.
 */
import * as posix from "node:path/posix";

/** Storage drivers LXD 5.0 documents for pools. */
export const POOL_DRIVERS = ["dir", "btrfs", "lvm", "zfs", "ceph", "cephfs"] as const;
export type PoolDriver = (typeof POOL_DRIVERS)[number];

/** Pool keys every driver takes (LXD: the common pool rules). `source` is the driver's own (a path, a device, a dataset, an OSD pool). */
const COMMON_POOL_KEYS = ["source", "rsync.bwlimit", "rsync.compression"] as const;

/** Volume defaults every driver takes: `volume.<key>` is the default of `<key>` for new volumes of the pool. */
const COMMON_VOLUME_KEYS = [
  "volume.size", "volume.snapshots.expiry", "volume.snapshots.schedule", "volume.snapshots.pattern",
  "volume.security.shifted", "volume.security.unmapped",
] as const;

/** Volume defaults of block-backed drivers (a filesystem on a block device). */
const BLOCK_VOLUME_KEYS = ["volume.block.filesystem", "volume.block.mount_options"] as const;

/**
 * The config keys of a pool, by driver (besides `user.*`, which LXD takes on every pool and does not validate).
 * `volatile.*` keys are LXD's own and are not listed: a program cannot set them. Keys only some servers take
 * (`source.wipe`, `lvm.metadata_size`: Incus 6.0 has them, LXD 5.0 answers `Invalid option`) are listed here and
 * refused before any write on a server without their API extension (`POOL_KEY_EXTENSIONS` in server-keys.ts).
 */
export const POOL_KEYS: Record<PoolDriver, readonly string[]> = {
  dir: [...COMMON_POOL_KEYS, ...COMMON_VOLUME_KEYS],
  btrfs: [...COMMON_POOL_KEYS, "size", "source.wipe", "btrfs.mount_options", ...COMMON_VOLUME_KEYS],
  lvm: [
    ...COMMON_POOL_KEYS, "size", "source.wipe", "lvm.vg_name", "lvm.thinpool_name", "lvm.thinpool_metadata_size", "lvm.metadata_size", "lvm.use_thinpool", "lvm.vg.force_reuse",
    ...COMMON_VOLUME_KEYS, ...BLOCK_VOLUME_KEYS, "volume.lvm.stripes", "volume.lvm.stripes.size",
  ],
  zfs: [
    ...COMMON_POOL_KEYS, "size", "source.wipe", "zfs.pool_name", "zfs.clone_copy", "zfs.export",
    ...COMMON_VOLUME_KEYS, "volume.zfs.blocksize", "volume.zfs.remove_snapshots", "volume.zfs.use_refquota", "volume.zfs.reserve_space",
  ],
  ceph: [
    ...COMMON_POOL_KEYS, "ceph.cluster_name", "ceph.osd.pool_name", "ceph.osd.data_pool_name", "ceph.osd.pg_num", "ceph.osd.force_reuse",
    "ceph.rbd.clone_copy", "ceph.rbd.du", "ceph.rbd.features", "ceph.user.name",
    ...COMMON_VOLUME_KEYS, ...BLOCK_VOLUME_KEYS,
  ],
  cephfs: [...COMMON_POOL_KEYS, "cephfs.cluster_name", "cephfs.path", "cephfs.user.name", "cephfs.fscache", ...COMMON_VOLUME_KEYS],
};

/**
 * Keys whose value belongs to one cluster member (LXD: member-specific configuration, set per member with
 * `?target=` while the pool is pending): a local pool's place on each member. Remote drivers (`ceph`, `cephfs`)
 * have none: their pool is one pool for the whole cluster. For the cluster work; nothing here sets them per member.
 */
export const MEMBER_SPECIFIC_POOL_KEYS: Record<PoolDriver, readonly string[]> = {
  dir: ["source"],
  btrfs: ["source", "size"],
  lvm: ["source", "size", "lvm.vg_name", "lvm.thinpool_name"],
  zfs: ["source", "size", "zfs.pool_name"],
  ceph: [],
  cephfs: [],
};

/**
 * Keys LXD fills in at creation when the program leaves them out (`source` of a loop-backed pool becomes
 * `<LXD_DIR>/disks/<name>.img`, `size` the loop file's size, the volume group, dataset or OSD pool the pool's name,
 * …). While the program does not set them they are LXD's: never drift, kept on every update.
 */
export const SERVER_FILLED_POOL_KEYS: readonly string[] = [
  "source", "size", "lvm.vg_name", "lvm.thinpool_name", "lvm.thinpool_metadata_size", "lvm.use_thinpool", "zfs.pool_name",
  "ceph.cluster_name", "ceph.osd.pool_name", "ceph.osd.pg_num", "ceph.user.name", "cephfs.cluster_name", "cephfs.path", "cephfs.user.name",
];

/** Keys whose value is an LXD size string. */
export const POOL_SIZE_KEYS: readonly string[] = ["size", "volume.size", "lvm.thinpool_metadata_size", "lvm.metadata_size", "volume.lvm.stripes.size", "volume.zfs.blocksize"];

/** Keys whose value is `true` or `false`. */
export const POOL_BOOLEAN_KEYS: readonly string[] = [
  "rsync.compression", "source.wipe", "lvm.use_thinpool", "lvm.vg.force_reuse", "zfs.export", "ceph.osd.force_reuse", "ceph.rbd.clone_copy", "ceph.rbd.du",
  "cephfs.fscache", "volume.security.shifted", "volume.security.unmapped", "volume.zfs.remove_snapshots", "volume.zfs.use_refquota",
  "volume.zfs.reserve_space",
];

/** True for keys LXD owns on a pool (`volatile.*`): never written by a program, never drift. */
export function isVolatilePoolKey(key: string): boolean {
  return key.startsWith("volatile.");
}

/**
 * An LXD size string: a whole number of bytes, or a whole number with one of LXD's units (decimal `kB`, `MB`, `GB`,
 * `TB`, `PB`, `EB`; binary `KiB`, `MiB`, `GiB`, `TiB`, `PiB`, `EiB`; `B`). LXD 5.0.2 refuses `10G`, `10KB`,
 * `1.5GiB` and `10 GiB`.
 */
export const SIZE_RE = /^\d+(B|kB|MB|GB|TB|PB|EB|KiB|MiB|GiB|TiB|PiB|EiB)?$/;
export const SIZE_MUST_BE = "must be an LXD size: a whole number with an optional unit (B, kB, MB, GB, TB, PB, EB, KiB, MiB, GiB, TiB, PiB, EiB), e.g. 10GiB or 500MB";

/** The problem with config key `key` (value `value`) on a pool of `driver`, or undefined when LXD 5.0 takes it. */
export function poolKeyProblem(driver: PoolDriver, key: string, value: string): string | undefined {
  if (key.startsWith("user.")) return undefined;
  if (isVolatilePoolKey(key)) return `config key "${key}" is LXD's own (volatile.*): a program cannot set it`;
  const allowed = POOL_KEYS[driver];
  if (!allowed.includes(key)) {
    return `config key "${key}" is not a storage pool key of driver "${driver}" (its keys: ${allowed.join(", ")}; and user.*)`;
  }
  if (value === "") return undefined;
  if (POOL_SIZE_KEYS.includes(key) && !SIZE_RE.test(value)) return `config.${key} ${SIZE_MUST_BE}, but ${JSON.stringify(value)} was provided`;
  if (POOL_BOOLEAN_KEYS.includes(key) && !["true", "false"].includes(value)) return `config.${key} must be true or false, but ${JSON.stringify(value)} was provided`;
  if (key === "zfs.clone_copy" && !["true", "false", "rebase"].includes(value)) return `config.zfs.clone_copy must be true, false or rebase, but ${JSON.stringify(value)} was provided`;
  return undefined;
}

/** Host directories a pool must never take over, exactly these (a pool's driver writes into, or wipes, its source). */
const PROTECTED_EXACT = [
  "/", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/dev", "/proc", "/sys", "/run", "/root",
  "/home", "/var", "/var/lib", "/var/snap", "/var/lib/lxd", "/var/lib/incus",
];
/** Directories no pool source may be inside: LXD's and Incus's own data (the snap's LXD_DIR too). */
const PROTECTED_TREES = ["/var/lib/lxd", "/var/lib/incus", "/var/snap/lxd/common/lxd"];

/** A path with `.`, `..`, repeated and trailing slashes resolved (`/var/lib/../lib/lxd/` → `/var/lib/lxd`). */
export function normalizeHostPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, "") : n;
}

/**
 * Why a pool `source` must not be used, or undefined when it may. Only absolute paths are judged (a ZFS dataset
 * or an OSD pool name is not a path). Refused: the system directories (`/`, `/etc`, `/usr`, `/bin`, `/sbin`,
 * `/lib*`, `/boot`, `/dev`, `/proc`, `/sys`, `/run`, `/root`, `/home`, `/var`, `/var/lib`, `/var/snap`), LXD's and
 * Incus's data directories (`/var/lib/lxd`, `/var/lib/incus`, the snap's `/var/snap/lxd/common/lxd`, and
 * `dataDirs`, the daemons' `LXD_DIR` and `INCUS_DIR` when set) and anything inside those. Symlinks are not followed (the host may
 * be remote).
 */
export function protectedSourceReason(source: string, ...dataDirs: (string | undefined)[]): string | undefined {
  if (!source.startsWith("/")) return undefined;
  const p = normalizeHostPath(source);
  const own = dataDirs.filter((d): d is string => d !== undefined && d.startsWith("/")).map(normalizeHostPath);
  const trees = [...PROTECTED_TREES, ...own].filter((t) => t !== "/");
  const tree = trees.find((t) => p === t || p.startsWith(`${t}/`));
  if (tree) {
    return `config.source must not be LXD's or Incus's own data directory or anything inside it (${tree}): the pool would overwrite or delete the daemon's state, but ${JSON.stringify(source)} was provided`;
  }
  if (PROTECTED_EXACT.includes(p)) {
    return `config.source must not be a system directory of the host (${p}): the storage driver takes over its source and may wipe it, but ${JSON.stringify(source)} was provided`;
  }
  return undefined;
}
