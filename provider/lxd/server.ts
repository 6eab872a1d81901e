/** Server facts beyond GET /1.0: warnings LXD recorded about the host (API extension `warnings`). */
import type { LxdClient } from "./client";

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
