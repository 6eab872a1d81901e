/**
 * How LXD reads config values, as the policy needs it: its boolean spellings, the preview unknown, and line
 * breaks. The policy is loaded by the provider host and by the program side: it imports only the rules.
 */
import { UNKNOWN } from "../rules/values";

/** The value the Pulumi engine sends for inputs not known yet during preview ({@link UNKNOWN}). Never judged. */
export const PREVIEW_UNKNOWN = UNKNOWN;

/**
 * LXD's spellings of true and false (canonical/lxd `shared.IsTrue` / `shared.IsFalse`): compared after
 * lower-casing the whole value, with no trimming, so `TRUE` and `Off` count and `" false"` or `"false "` do not.
 */
export const LXD_TRUE = ["true", "1", "yes", "on"] as const;
export const LXD_FALSE = ["false", "0", "no", "off"] as const;

/** True when `v` is an LXD spelling of true. */
export const isTrue = (v: string | undefined): boolean => v !== undefined && (LXD_TRUE as readonly string[]).includes(v.toLowerCase());
/** True when `v` is an LXD spelling of false. */
export const isFalse = (v: string | undefined): boolean => v !== undefined && (LXD_FALSE as readonly string[]).includes(v.toLowerCase());
/** True when `v` holds a line feed or a carriage return. */
export const hasLineBreak = (v: string): boolean => /[\r\n]/.test(v);

/** True when a whole map or device is a preview unknown (not an object to walk). */
export const isUnknownMap = (m: unknown): boolean => m === PREVIEW_UNKNOWN || m === null || typeof m !== "object";
