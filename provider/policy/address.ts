/**
 * Listener addresses as the server policy reads them (./server.ts, and the server rows of ./table.ts): how a
 * `[host][:port]` value binds. Pure; no imports but Node's `net`.
 */
import * as net from "node:net";

/** Server keys that open a listener: `[host][:port]`. */
export const LISTENER_KEYS = [
  "core.https_address", "cluster.https_address", "core.metrics_address", "core.debug_address", "core.bgp_address", "core.dns_address",
  "core.storage_buckets_address",
] as const;
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
  // An IPv6 zone (`[::%lo]`) does not narrow the address itself.
  const h = a.host.toLowerCase().replace(/%.*$/, "");
  if (h === "" || h === "*") return "wildcard";
  const v4 = numericIPv4(h);
  if (v4 !== undefined) return v4 === 0 ? "wildcard" : v4 >>> 24 === 127 ? "loopback" : "specific";
  if (net.isIP(h) === 6) {
    const groups = ipv6Groups(h);
    // An IPv4-mapped (::ffff:a.b.c.d) or -compatible (::a.b.c.d) address binds as its IPv4 address does.
    const mapped = groups.slice(0, 5).every((g) => g === 0) && (groups[5] === 0xffff || groups[5] === 0);
    const v4part = groups[6] * 65536 + groups[7];
    if (groups.every((g) => g === 0) || (mapped && groups[5] === 0xffff && v4part === 0)) return "wildcard";
    if (groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1) return "loopback";
    if (mapped && v4part >>> 24 === 127) return "loopback";
    return "specific";
  }
  if (h === "localhost") return "loopback";
  return /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(h) ? "hostname" : "invalid";
}

/**
 * An IPv4 address as the C library's inet_aton reads it (1 to 4 parts, each decimal, octal with a leading 0 or
 * hex with 0x: `0`, `0x0`, `000.000.000.000` are all 0.0.0.0), as a number; undefined when it is not one.
 */
function numericIPv4(h: string): number | undefined {
  const parts = h.split(".");
  if (parts.length > 4 || parts.some((p) => !/^(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/.test(p))) return undefined;
  const nums = parts.map((p) => (p.startsWith("0x") ? parseInt(p.slice(2), 16) : p.length > 1 && p.startsWith("0") ? parseInt(p, 8) : Number(p)));
  const last = nums.pop()!;
  if (nums.some((n) => n > 255) || last >= 2 ** (8 * (4 - nums.length))) return undefined;
  return nums.reduce((acc, n, i) => acc + n * 2 ** (8 * (3 - i)), 0) + last;
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part counts as two). */
function ipv6Groups(h: string): number[] {
  let s = h;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split(".").map(Number);
    s = s.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const hs = head ? head.split(":") : [];
  const ts = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : Array(8 - hs.length - ts.length).fill("0");
  return [...hs, ...fill, ...ts].map((g) => parseInt(g || "0", 16));
}
