/** Server facts beyond GET /1.0: warnings LXD recorded about the host (API extension `warnings`). */
import type { LxdClient } from "./client";

interface Warning {
  type: string;
  status: string;
  last_message?: string;
}

const appArmorCache = new WeakMap<LxdClient, boolean>();

/**
 * Whether LXD confines instances with AppArmor. LXD records the warning "AppArmor support has been disabled"
 * when the host lacks it (and then runs containers without mandatory access control); servers without the
 * `warnings` extension are assumed to have it.
 */
export async function hostHasAppArmor(lxd: LxdClient): Promise<boolean> {
  const cached = appArmorCache.get(lxd);
  if (cached !== undefined) return cached;
  let has = true;
  if (await lxd.hasExtension("warnings")) {
    const warnings = (await lxd.get<Warning[]>("/1.0/warnings", { query: { recursion: "1" } })).metadata ?? [];
    has = !warnings.some((w) => /apparmor support has been disabled/i.test(w.type) && w.status !== "resolved");
  }
  appArmorCache.set(lxd, has);
  return has;
}
