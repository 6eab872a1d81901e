/**
 * Check and diff helpers every kind uses: zod issues become check failures naming the property, preview
 * unknowns are carried, and the diff compares inputs by meaning (project "" = `default`, connections by server).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { containsUnknown, sameJson, UNKNOWN } from "../rules/values";
import { normalizeProject } from "../rules/names";
import type { ConnectionArgs } from "../rules/connection";
import { serverIdentity, type ProviderConfig } from "./connection";

/**
 * Runs a zod schema in `check`: returns the parsed value, or failures naming the property and the reason.
 * Issues on values that are preview unknowns (or inside one) are not failures: the value is not known yet.
 * With `keepUnknown`, a preview validates and defaults everything known, and returns the properties that are
 * (or hold) unknowns as the unknown sentinel, listed in `unknownKeys`.
 */
export function checkWith<S extends z.ZodType>(
  schema: S,
  news: Record<string, unknown>,
  opts: { keepUnknown?: boolean } = {},
): { value?: z.output<S>; failures: pulumi.dynamic.CheckFailure[]; unknownKeys: string[] } {
  // `__provider` (and any other engine-owned `__` key) is not an input of ours.
  const own = Object.fromEntries(Object.entries(news).filter(([k]) => !k.startsWith("__")));
  const r = schema.safeParse(own);
  if (r.success) return { value: r.data, failures: [], unknownKeys: [] };
  const failures: pulumi.dynamic.CheckFailure[] = [];
  const unknownKeys = new Set<string>();
  for (const issue of r.error.issues) {
    if (isUnderUnknown(news, issue.path as (string | number)[])) {
      unknownKeys.add(String(issue.path[0] ?? ""));
      continue;
    }
    const property = issue.path.length ? issue.path.map(String).join(".") : "(inputs)";
    // A bad record key: say which key, with the key schema's own message rather than "Invalid key in record".
    const inner = (issue as { issues?: { message: string }[] }).issues?.[0]?.message;
    const reason = issue.code === "invalid_key" && inner
      ? `${issue.path.slice(0, -1).map(String).join(".")} key ${JSON.stringify(String(issue.path[issue.path.length - 1]))} ${inner}`
      : `${property} ${issue.message}`;
    failures.push({ property, reason });
  }
  if (failures.length || !opts.keepUnknown || unknownKeys.has("")) return { failures, unknownKeys: [...unknownKeys] };
  const known = Object.fromEntries(Object.entries(own).filter(([k]) => !unknownKeys.has(k)));
  const again = schema.safeParse(known);
  if (!again.success) return { failures: [], unknownKeys: [...unknownKeys] };
  const value = { ...(again.data as Record<string, unknown>) };
  for (const k of unknownKeys) value[k] = UNKNOWN;
  return { value: value as z.output<S>, failures: [], unknownKeys: [...unknownKeys] };
}

function isUnderUnknown(root: unknown, p: (string | number)[]): boolean {
  let cur: unknown = root;
  if (cur === UNKNOWN) return true;
  for (const seg of p) {
    if (cur === null || typeof cur !== "object") return false;
    cur = (cur as Record<string | number, unknown>)[seg];
    if (cur === UNKNOWN) return true;
  }
  return containsUnknown(cur);
}

/**
 * The diff of two input objects by top-level property, with `replaceKeys` forcing replacement. Unknown new
 * values count as changes. `project` is compared by meaning ("" and `default` are one project), and
 * `connection` always by the server it reaches ({@link serverIdentity}): another server forces replacement,
 * the same server written another way (the default socket spelled out, the default port) is no change.
 */
export function diffProps(
  oldState: object, newInputs: object, keys: readonly string[], replaceKeys: readonly string[], config?: ProviderConfig,
): pulumi.dynamic.DiffResult {
  const olds = oldState as Record<string, unknown>;
  const news = newInputs as Record<string, unknown>;
  const meaning = (o: Record<string, unknown>, k: string) =>
    k === "project" && !containsUnknown(o[k]) ? normalizeProject(o[k] as string | undefined) : o[k];
  const changed = keys.filter((k) => containsUnknown(news[k]) || !sameJson(meaning(olds, k), meaning(news, k)));
  const replaces = changed.filter((k) => replaceKeys.includes(k));
  const server = (c: unknown) => serverIdentity(c as ConnectionArgs | undefined, config);
  if (containsUnknown(news.connection) || server(olds.connection) !== server(news.connection)) {
    changed.push("connection");
    replaces.push("connection");
  }
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: replaces.length > 0 };
}
