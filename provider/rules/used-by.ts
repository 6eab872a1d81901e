/**
 * LXD's `used_by` lists, in words: API paths (`/1.0/instances/c1?project=p`) become `instance "c1"` for error
 * messages. Pure functions, shared by the kinds whose delete or change LXD refuses while something uses them.
 */

/** `/1.0/instances/c1?project=p` → `instance "c1"`; other API paths likewise, unknown ones verbatim. */
export function describeUsedBy(url: string): string {
  return describe(url, false);
}

/**
 * {@link describeUsedBy} naming a project other than `default` too (`instance "c1" in project "p"`): for
 * server-wide objects (storage pools) whose users live in any project.
 */
export function describeUsedByInProject(url: string): string {
  return describe(url, true);
}

function describe(url: string, withProject: boolean): string {
  const [p, query] = url.split("?");
  const seg = p.replace(/^\/1\.0\//, "").split("/").map(decodeURIComponent);
  const kinds: Record<string, string> = {
    instances: "instance", containers: "instance", "virtual-machines": "instance", images: "image", profiles: "profile",
    networks: "network", "network-acls": "network ACL", "network-zones": "network zone",
  };
  const project = new URLSearchParams(query ?? "").get("project");
  const where = withProject && project && project !== "default" ? ` in project "${project}"` : "";
  if (seg[0] === "storage-pools" && seg[2] === "volumes") return `storage volume "${seg.slice(3).join("/")}" in pool "${seg[1]}"${where}`;
  if (seg[0] === "images" && seg[1]) return `image ${seg[1].slice(0, 12)}${where}`;
  if (kinds[seg[0]] && seg[1]) return `${kinds[seg[0]]} "${seg.slice(1).join("/")}"${where}`;
  return url;
}

/** A whole `used_by` list in words, each naming a project other than `default` ({@link describeUsedByInProject}). */
export function usersOf(usedBy: string[]): string[] {
  return usedBy.map(describeUsedByInProject);
}
