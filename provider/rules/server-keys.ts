/**
 * Where LXD and Incus (LXD's community fork) differ, mapped in one place. The provider speaks the same REST API
 * to both (`/1.0/instances`, never `/1.0/containers`, which Incus no longer serves); the server kind is what
 * GET /1.0 `environment.server` says (`LxdClient.serverKind()`), never guessed from a socket path.
 *
 * | what | LXD | Incus |
 * |---|---|---|
 * | guest API (the socket inside an instance) | `/dev/lxd`, `security.devlxd`, `security.devlxd.images` | `/dev/incus`, `security.guestapi`, `security.guestapi.images` (the LXD keys are refused: `Unknown configuration key`) |
 * | trust | `core.trust_password` and tokens | tokens only (no `core.trust_password`) |
 * | `Ready` status | not produced by LXD 5.0 | a process inside sends `PATCH /1.0 {"state": "Ready"}` on `/dev/incus/sock` (extension `instance_ready_state`) |
 * | storage pool keys | LXD 5.0: no `source.wipe`, no `lvm.metadata_size` (`Invalid option`) | both (extensions `storage_pool_source_wipe`, `storage_lvm_metadatasize`) |
 *
 * The policy judges both spellings of the guest API key alike (its table lists both); the `guestApi` input (alias
 * `devLxd`) writes the key of the server the instance is created on.
 */
import type { ServerKind } from "../lxd";

/** The guest API key of each server kind (`/dev/lxd` on LXD, `/dev/incus` on Incus). */
export const GUEST_API_KEY: Readonly<Record<ServerKind, string>> = { lxd: "security.devlxd", incus: "security.guestapi" };

/** Every key of the guest API family on either server (the policy's table rows list these). */
export const GUEST_API_KEYS = ["security.devlxd", "security.guestapi"] as const;

/** The path of the guest API socket inside an instance of each server kind. */
export const GUEST_API_SOCKET: Readonly<Record<ServerKind, string>> = { lxd: "/dev/lxd/sock", incus: "/dev/incus/sock" };

/** The guest API key (`security.devlxd` or `security.guestapi`) for `server` (default LXD). */
export function guestApiKey(server: ServerKind = "lxd"): string {
  return GUEST_API_KEY[server];
}

/** True for a key of the guest API family on either server: `security.devlxd[.*]` or `security.guestapi[.*]`. */
export function isGuestApiKey(key: string): boolean {
  return GUEST_API_KEYS.some((k) => key === k || key.startsWith(`${k}.`));
}

/**
 * `key` spelled for `server`: `security.devlxd[.images]` ↔ `security.guestapi[.images]`; every other key
 * unchanged (the rest of the config API is the same on both).
 */
export function keyFor(server: ServerKind, key: string): string {
  for (const k of GUEST_API_KEYS) {
    if (key === k || key.startsWith(`${k}.`)) return `${GUEST_API_KEY[server]}${key.slice(k.length)}`;
  }
  return key;
}

/** A config map with its keys spelled for `server` (see {@link keyFor}). */
export function configFor<T>(server: ServerKind, config: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [keyFor(server, k), v]));
}

/** Whether the server can trust a client by `core.trust_password` (LXD); Incus has tokens only. */
export function hasTrustPassword(server: ServerKind): boolean {
  return server === "lxd";
}

/** The server's name in messages. */
export function serverName(server: ServerKind): string {
  return server === "incus" ? "Incus" : "LXD";
}

/**
 * Storage pool config keys that only servers with an API extension take (LXD 5.0.2 answers `Invalid option "<key>"`;
 * Incus 6.0 has both): key → extension. Feature-detected, never guessed from the server kind.
 * - `source.wipe` (btrfs, lvm, zfs): wipe the source block device before creating the pool (`true`/`false`).
 * - `lvm.metadata_size` (lvm): the size of the physical volume's metadata area (a size string).
 */
export const POOL_KEY_EXTENSIONS: Readonly<Record<string, string>> = {
  "source.wipe": "storage_pool_source_wipe",
  "lvm.metadata_size": "storage_lvm_metadatasize",
};
