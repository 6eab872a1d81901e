/** LXD's `used_by` URLs in words, for messages. Pure. */

/**
 * `used_by` URLs as names: `/1.0/instances/c1?project=p` → `instance "c1" (project "p")`, `/1.0/profiles/x` →
 * `profile "x"`, `/1.0/networks/br0` → `network "br0"`, `/1.0/network-acls/a` → `network ACL "a"`.
 */
export function usersOf(usedBy: string[]): string[] {
  return usedBy.map((u) => {
    const [p, q] = u.split("?");
    const parts = p.split("/").filter(Boolean);
    const kind = (parts[1] ?? "object").replace(/s$/, "").replace(/^network-acl$/, "network ACL");
    const project = new URLSearchParams(q ?? "").get("project");
    return `${kind} "${decodeURIComponent(parts[parts.length - 1] ?? u)}"${project && project !== "default" ? ` (project "${project}")` : ""}`;
  });
}
