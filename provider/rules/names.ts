/**
 * LXD's naming rules, defined once: the zod schemas of every kind and the components' program-time checks
 * use these. Each rule is a pattern and the words of an error ("must be …").
 *
 * Sources: LXD's `instance/instance_utils.go` ValidName (hostname rules), `lxd/project` (project names),
 * `shared/api` (profiles, pools, networks), and the config key syntax of LXD's documentation.
 */
import { z } from "zod";

/** One naming rule: the pattern and what a value must be (for messages). */
export interface NameRule {
  re: RegExp;
  mustBe: string;
}

/** Instance names: a hostname label, 1–63 letters, digits and dashes, starting with a letter (LXD: `ValidName`). */
export const INSTANCE_NAME: NameRule = {
  re: /^[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/,
  mustBe: "must be 1–63 letters, digits or dashes, starting with a letter and not ending with a dash",
};

/** Profile names: 1–63 characters without spaces or slashes. */
export const PROFILE_NAME: NameRule = { re: /^[^\s/]{1,63}$/, mustBe: "must be 1–63 characters without spaces or slashes" };

/** Project names: non-empty, no spaces, slashes, underscores or quotes. */
export const PROJECT_NAME: NameRule = {
  re: /^(?!(?:\*|\.\.?)$)[^\s/_'"]+$/,
  mustBe: "must be non-empty, without spaces, slashes, underscores or quotes, and not \"*\", \".\" or \"..\" (LXD reserves them)",
};

/** Storage pool names: 1–63 letters, digits, dashes, dots and underscores, not starting with a dash or dot. */
export const POOL_NAME: NameRule = { re: /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,62}$/, mustBe: "must be 1–63 letters, digits, '.', '_' or '-', starting with a letter, digit or '_'" };

/** Custom storage volume and volume snapshot names (the same rule as pools: no slashes, no leading dot or dash). */
export const VOLUME_NAME: NameRule = { re: /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,62}$/, mustBe: "must be 1–63 letters, digits, '.', '_' or '-', starting with a letter, digit or '_'" };

/** Network names: an interface name, 1–15 characters, letters, digits, dashes, dots and underscores. */
export const NETWORK_NAME: NameRule = { re: /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,14}$/, mustBe: "must be 1–15 letters, digits, '.', '_' or '-' (an interface name)" };

/** Network ACL names: 1–63 letters, digits and dashes, not starting with a digit or dash, not ending with a dash (LXD's network ACL docs). */
export const NETWORK_ACL_NAME: NameRule = {
  re: /^[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/,
  mustBe: "must be 1–63 letters, digits or dashes, starting with a letter and not ending with a dash",
};

/** Device names inside an instance or profile. */
export const DEVICE_NAME: NameRule = { re: /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/, mustBe: "must be 1–63 letters, digits, '-', '_' or '.', starting with a letter or digit" };

/**
 * Snapshot names (instance and volume snapshots): non-empty, no spaces or slashes (LXD: "Cannot contain space or /
 * characters"), and not `.` or `..` (they would name another path in the REST API).
 */
export const SNAPSHOT_NAME: NameRule = { re: /^(?!\.\.?$)[^\s/]{1,255}$/, mustBe: "must be 1–255 characters without spaces or slashes, and not . or .." };

/** LXD config keys: lower-case words joined by dots (any case after `user.` and `environment.`); no spaces. */
export const CONFIG_KEY: NameRule = {
  re: /^((user|environment)\.\S+|[a-z0-9][a-z0-9._-]*)$/,
  mustBe: "must be an LXD config key (lower-case, dot-separated, no spaces; any case after user. or environment.)",
};

/** A zod string schema for a rule. */
export function nameSchema(rule: NameRule) {
  return z.string().regex(rule.re, rule.mustBe);
}

/** A config value as a program may write it: a string, or a number or boolean that is normalised to LXD's string. */
export function scalarSchema() {
  return z.union([z.string(), z.number(), z.boolean()]);
}

/** A `config` input: LXD config keys to values ({@link scalarSchema}). */
export function configSchema() {
  return z.record(nameSchema(CONFIG_KEY), scalarSchema());
}

/** A `members` input (clusters): a member's name to its member-specific config. */
export function membersSchema() {
  return z.record(z.string().min(1, "must be a cluster member's name"), configSchema());
}

/** The `project` input of every resource: optional, "" or omitted = `default` (case C05). */
export function projectSchema() {
  return z.string().regex(/^(?!(?:\*|\.\.?)$)[^\s/_'"]*$/, PROJECT_NAME.mustBe.replace("non-empty, ", "")).optional();
}

/** LXD's project name for "no project given": an empty project and `default` are the same project (case C05). */
export function normalizeProject(p: string | undefined | null): string {
  return p ? p : "default";
}
