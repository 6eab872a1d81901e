/**
 * What LXD really holds after a bench phase: the expected instances (all running with the desired config,
 * isolated with distinct, valid idmap ranges) or none of them. Read on a direct client, not through the
 * counting proxy, so the checks do not count as the tool's requests.
 */
import * as fs from "node:fs";
import type { ConfigMap, Instance, LxdClient } from "../provider/lxd";

interface IdmapEntry {
  Isuid: boolean;
  Isgid: boolean;
  Hostid: number;
  Nsid: number;
  Maprange: number;
}

export type Expectation = { present: true; config: ConfigMap } | { present: false };

/** root's subordinate id range from /etc/subuid (what LXD allocates isolated maps from). */
function rootSubIds(): { start: number; count: number } | undefined {
  try {
    const line = fs.readFileSync("/etc/subuid", "utf8").split("\n").find((l) => l.startsWith("root:"));
    if (!line) return undefined;
    const [, start, count] = line.split(":");
    return { start: Number(start), count: Number(count) };
  } catch {
    return undefined;
  }
}

function parseIdmap(raw: string | undefined, what: string, problems: string[]): IdmapEntry[] | undefined {
  if (!raw) {
    problems.push(`${what} is missing`);
    return undefined;
  }
  try {
    const v = JSON.parse(raw) as IdmapEntry[];
    if (!Array.isArray(v) || v.length === 0) throw new Error("not a non-empty array");
    return v;
  } catch (err) {
    problems.push(`${what} is not a valid idmap (${(err as Error).message}): ${raw.slice(0, 120)}`);
    return undefined;
  }
}

/** Checks LXD against the expectation for `names` in `project`; returns the problems found (empty = OK). */
export async function verifyLxd(lxd: LxdClient, project: string, names: string[], want: Expectation): Promise<string[]> {
  const problems: string[] = [];
  const listed = (await lxd.get<Instance[]>("/1.0/instances", { project, query: { recursion: "1" } })).metadata ?? [];
  const byName = new Map(listed.map((i) => [i.name, i]));

  if (!want.present) {
    const left = names.filter((n) => byName.has(n));
    if (left.length) problems.push(`${left.length} of ${names.length} instances still exist: ${left.slice(0, 5).join(", ")}${left.length > 5 ? ", …" : ""}`);
    return problems;
  }

  const sub = rootSubIds();
  const ranges: Array<{ owner: string; kind: "uid" | "gid"; start: number; end: number }> = [];
  for (const name of names) {
    const inst = byName.get(name);
    if (!inst) {
      problems.push(`${name}: missing`);
      continue;
    }
    const p = (m: string) => problems.push(`${name}: ${m}`);
    if (inst.status !== "Running") p(`status ${inst.status}, want Running`);
    for (const [k, v] of Object.entries(want.config)) {
      if ((inst.config ?? {})[k] !== v) p(`config ${k}=${JSON.stringify((inst.config ?? {})[k])}, want ${JSON.stringify(v)}`);
    }
    if (inst.expanded_config?.["security.idmap.isolated"] !== "true") p("security.idmap.isolated is not true");
    if (inst.expanded_config?.["security.privileged"] === "true") p("privileged");
    const local: string[] = [];
    const cur = parseIdmap(inst.config?.["volatile.idmap.current"], "volatile.idmap.current", local);
    const last = parseIdmap(inst.config?.["volatile.last_state.idmap"], "volatile.last_state.idmap", local);
    if (cur && last && JSON.stringify(cur) !== JSON.stringify(last)) local.push("volatile.last_state.idmap differs from volatile.idmap.current on a running instance");
    for (const e of cur ?? []) {
      if (!(e.Isuid || e.Isgid)) local.push(`idmap entry maps neither uids nor gids: ${JSON.stringify(e)}`);
      if (e.Nsid !== 0) local.push(`idmap entry starts at container id ${e.Nsid}, want 0`);
      if (!(e.Maprange >= 65536)) local.push(`idmap range ${e.Maprange} < 65536`);
      if (e.Hostid === 0) local.push("idmap maps onto host root (Hostid 0)");
      if (sub && (e.Hostid < sub.start || e.Hostid + e.Maprange > sub.start + sub.count)) {
        local.push(`idmap ${e.Hostid}+${e.Maprange} is outside root's subordinate ids ${sub.start}+${sub.count}`);
      }
      if (e.Isuid) ranges.push({ owner: name, kind: "uid", start: e.Hostid, end: e.Hostid + e.Maprange });
      if (e.Isgid) ranges.push({ owner: name, kind: "gid", start: e.Hostid, end: e.Hostid + e.Maprange });
    }
    if (cur && !cur.some((e) => e.Isuid) ) local.push("idmap has no uid entry");
    if (cur && !cur.some((e) => e.Isgid)) local.push("idmap has no gid entry");
    for (const m of local) p(m);
  }

  // Isolated maps must not overlap, between ours and with any other isolated instance on this LXD.
  const others = (await lxd.get<Instance[]>("/1.0/instances", { query: { recursion: "1", "all-projects": "true" } })).metadata ?? [];
  for (const o of others) {
    if ((o.project ?? "default") === project && names.includes(o.name)) continue;
    if (o.expanded_config?.["security.idmap.isolated"] !== "true") continue;
    let map: IdmapEntry[] = [];
    try {
      map = JSON.parse(o.config?.["volatile.idmap.current"] ?? "[]") as IdmapEntry[];
    } catch {
      continue;
    }
    for (const e of map) {
      const owner = `${o.project ?? "default"}/${o.name}`;
      if (e.Isuid) ranges.push({ owner, kind: "uid", start: e.Hostid, end: e.Hostid + e.Maprange });
      if (e.Isgid) ranges.push({ owner, kind: "gid", start: e.Hostid, end: e.Hostid + e.Maprange });
    }
  }
  const ours = new Set(names);
  for (const kind of ["uid", "gid"] as const) {
    const rs = ranges.filter((r) => r.kind === kind).sort((a, b) => a.start - b.start);
    for (let i = 1; i < rs.length; i++) {
      const a = rs[i - 1];
      const b = rs[i];
      if (b.start < a.end && (ours.has(a.owner) || ours.has(b.owner))) {
        problems.push(`${kind} maps overlap: ${a.owner} ${a.start}..${a.end - 1} and ${b.owner} ${b.start}..${b.end - 1}`);
      }
    }
  }
  return problems;
}
