/** Server facts and config: GET /1.0 with its ETag, PATCH /1.0 (server config), warnings LXD recorded about the host (API extension `warnings`). */
import type { LxdClient } from "./client";
import type { Server } from "./types";

interface Warning {
  type: string;
  status: string;
  last_message?: string;
}

const appArmorCache = new WeakMap<LxdClient, Promise<boolean>>();

/**
 * Whether LXD confines instances with AppArmor. LXD records the warning "AppArmor support has been disabled"
 * when the host lacks it (and then runs containers without mandatory access control); servers without the
 * `warnings` extension are assumed to have it. Asked once per client (concurrent callers share the request).
 */
export function hostHasAppArmor(lxd: LxdClient): Promise<boolean> {
  let pending = appArmorCache.get(lxd);
  if (!pending) {
    pending = (async () => {
      if (!(await lxd.hasExtension("warnings"))) return true;
      const warnings = (await lxd.get<Warning[]>("/1.0/warnings", { query: { recursion: "1" } })).metadata ?? [];
      return !warnings.some((w) => /apparmor support has been disabled/i.test(w.type) && w.status !== "resolved");
    })();
    appArmorCache.set(lxd, pending);
    pending.catch(() => appArmorCache.delete(lxd));
  }
  return pending;
}

/**
 * GET /1.0 with its ETag (uncached): the server's config and identity. `config` values are strings, except
 * `core.trust_password`, which LXD never returns: it reads back as the JSON boolean `true` when set (measured
 * on LXD 5.0.2).
 */
export async function getServer(lxd: LxdClient): Promise<{ value: Server; etag: string }> {
  const r = await lxd.get<Server>("/1.0");
  return { value: r.metadata, etag: r.etag };
}

/**
 * PATCH /1.0 `{config}`: sets only the keys given ("" unsets one), leaving every other server key as it is.
 * With `etag`, 412 if the server config changed since it was read. LXD validates keys and values (400).
 */
export async function patchServerConfig(lxd: LxdClient, config: Record<string, string>, etag?: string): Promise<void> {
  await lxd.request("PATCH", "/1.0", { body: { config }, etag });
}
