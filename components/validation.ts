/**
 * Program-time validation for components: values known when the program runs are checked before any child
 * is registered, and a bad one fails the preview as `pulumi.InputPropertyError` naming the property. Values
 * not known yet (outputs of other resources, promises) are left to the providers' own checks.
 */
import * as pulumi from "@pulumi/pulumi";
import { INSTANCE_NAME, type NameRule } from "../provider/rules/names";

/** LXD size strings (`"512MiB"`, `"10GiB"`, `"1GB"`): a number and a byte unit. */
const SIZE_RE = /^\d+(\.\d+)?(B|kB|MB|GB|TB|PB|EB|KiB|MiB|GiB|TiB|PiB|EiB)$/;

/** True for an LXD size string with a unit. */
export function isSizeString(v: unknown): boolean {
  return typeof v === "string" && SIZE_RE.test(v);
}

/** One rule: property path, its value as given, the test, and what it must be. */
export type Validation = [propertyPath: string, value: unknown, ok: (v: unknown) => boolean, mustBe: string];

/** A rule for a name: a string that follows LXD's naming rule (provider/rules/names.ts), in its words. */
export function nameRule(propertyPath: string, value: unknown, rule: NameRule): Validation {
  return [propertyPath, value, (v) => typeof v === "string" && rule.re.test(v), rule.mustBe];
}

/** A rule for an LXD instance name ({@link INSTANCE_NAME}: a hostname label). */
export function instanceNameRule(propertyPath: string, value: unknown): Validation {
  return nameRule(propertyPath, value, INSTANCE_NAME);
}

/** True when a value is known now: not absent, not an Output, not a promise. */
export function isKnown(v: unknown): boolean {
  return v !== undefined && v !== null && !pulumi.Output.isInstance(v) && !(v instanceof Promise);
}

/**
 * Applies the rules whose value is known now.
 * @throws pulumi.InputPropertyError for the first failing rule: `<path> must be …, but <value> was provided`.
 */
export function checkKnown(rules: Validation[]): void {
  for (const [propertyPath, value, ok, mustBe] of rules) {
    if (!isKnown(value) || ok(value)) continue;
    throw new pulumi.InputPropertyError({ propertyPath, reason: `${propertyPath} ${mustBe}, but ${JSON.stringify(value)} was provided` });
  }
}
