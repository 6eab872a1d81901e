/**
 * Timestamps as LXD takes and gives them: RFC3339 (`2030-01-31T12:00:00Z`, `2030-01-31T13:00:00+01:00`). LXD sends
 * the zero time `0001-01-01T00:00:00Z` for "never"; inputs use an absent value for that.
 */
import { z } from "zod";

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** True for the zero time LXD uses for "not set". */
export function isZeroTime(t: string | undefined | null): boolean {
  return !t || t.startsWith("0001-01-01T00:00:00");
}

/**
 * One spelling per instant, so that an input and what LXD reports compare equal: UTC, `Z`, milliseconds only
 * when not zero (`2030-01-31T11:00:00Z`). The zero time and an absent value give `undefined`.
 */
export function canonicalTime(t: string | undefined | null): string | undefined {
  if (isZeroTime(t)) return undefined;
  const ms = Date.parse(t!);
  if (Number.isNaN(ms)) return t!;
  return new Date(ms).toISOString().replace(/\.000Z$/, "Z");
}

/** A zod schema for an RFC3339 timestamp input (date, time and offset required). */
export function rfc3339Schema() {
  return z.string().superRefine((s, ctx) => {
    if (RFC3339.test(s) && !Number.isNaN(Date.parse(s))) return;
    ctx.addIssue({ code: "custom", message: `must be an RFC3339 timestamp such as 2030-01-31T12:00:00Z, but ${JSON.stringify(s)} was provided` });
  });
}
