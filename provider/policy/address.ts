/**
 * Listener addresses as the server policy reads them (./server.ts, and the server rows of ./table.ts): how a
 * `[host][:port]` value binds. Pure; no imports but Node's `net`.
 */
import * as net from "node:net";

/** Server keys that open a listener: `[host][:port]`. */
export const LISTENER_KEYS = ["core.https_address", "core.metrics_address", "core.debug_address"] as const;
/** How an address binds: loopback only, one named IP, a host name, every address, or not an address. */
export type BindKind = "loopback" | "specific" | "hostname" | "wildcard" | "invalid";

/** Splits `[v6]:port`, `v4:port`, `name:port`, `:port`, a bare v6 or v4 address into host and port. */
export function splitAddress(addr: string): { host: string; port?: string } | undefined {
  let m = /^\[([^\]]*)\](?::(\d+))?$/.exec(addr);
  if (m) return { host: m[1], port: m[2] };
  if ((addr.match(/:/g) ?? []).length > 1) return { host: addr };
  m = /^([^:\s]*)(?::(\d+))?$/.exec(addr);
  return m ? { host: m[1], port: m[2] } : undefined;
}

/** The bind of a listener address (`[::]:8443` → wildcard, `127.0.0.1:8443` → loopback, …). */
export function bindKind(addr: string): BindKind {
  const a = splitAddress(addr);
  if (!a) return "invalid";
  if (a.port !== undefined && !(Number(a.port) >= 1 && Number(a.port) <= 65535)) return "invalid";
  const h = a.host.toLowerCase();
  if (h === "" || h === "*") return "wildcard";
  const ip = net.isIP(h);
  if (ip === 4) return h === "0.0.0.0" ? "wildcard" : h.startsWith("127.") ? "loopback" : "specific";
  if (ip === 6) {
    if (/^[0:]+$/.test(h)) return "wildcard";
    return /^(0{0,4}:){2,7}0{0,3}1$/.test(h) || h === "::1" ? "loopback" : "specific";
  }
  if (h === "localhost") return "loopback";
  return /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(h) ? "hostname" : "invalid";
}
