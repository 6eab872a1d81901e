/**
 * Clean-up of host firewall rules a test's nic left behind. Measured on LXD 5.0.2 with its xtables driver over
 * Debian 12's iptables 1.8.9 (the nf_tables variant): stopping or deleting an instance whose nic had
 * `security.mac_filtering` / `security.ipv4_filtering` leaves its ebtables rules (keyed by the host-side veth
 * name) in the bridge filter table. Tests remove the rules of the veths they made, once those are gone.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";

/** Deletes the ebtables rules (chains INPUT and FORWARD) that name `veth`, when that interface no longer exists. */
export function dropStaleNicFilterRules(veth: string | undefined): void {
  if (!veth || fs.existsSync(`/sys/class/net/${veth}`)) return;
  for (const chain of ["INPUT", "FORWARD"]) {
    let listing: string;
    try {
      listing = execFileSync("ebtables", ["-L", chain, "--Ln"], { encoding: "utf8" });
    } catch {
      return; // no ebtables (another firewall driver): nothing to clean
    }
    const numbers = listing.split("\n").filter((l) => l.includes(` ${veth} `) || l.endsWith(` ${veth}`)).map((l) => Number(/^(\d+)[.\s]/.exec(l)?.[1] ?? 0)).filter((n) => n > 0);
    for (const n of numbers.sort((a, b) => b - a)) execFileSync("ebtables", ["-D", chain, String(n)]);
  }
}

/** How many ebtables rules name `veth` (0 without ebtables). */
export function nicFilterRuleCount(veth: string): number {
  try {
    return execFileSync("ebtables", ["-L"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(veth)).length;
  } catch {
    return 0;
  }
}
