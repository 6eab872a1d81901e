/**
 * Secret outputs of a dynamic provider. The dynamic-provider host declares that it does not accept secrets,
 * so a provider sees plain values and returns plain structs; the engine marks an output secret only where an
 * input of the same name was secret, or where the resource class lists it in `additionalSecretOutputs`.
 * A value the provider itself creates (a trust token) is therefore returned in the wire form of a secret,
 * `{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value}`, which the engine reads
 * as a secret (it unmarshals provider outputs keeping secrets) and the host passes through untouched (a plain
 * object). Its resource class names it in `additionalSecretOutputs` too: two locks, either one keeps it out of
 * the state in plain text.
 */

/** Pulumi's wire signature key and the secret signature (`@pulumi/pulumi/runtime/rpc`). */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** A secret in its wire form. */
export interface WireSecret<T> {
  [SIG_KEY]: typeof SECRET_SIG;
  value: T;
}

/** `value` in the wire form of a secret. */
export function wireSecret<T>(value: T): WireSecret<T> {
  return { [SIG_KEY]: SECRET_SIG, value } as WireSecret<T>;
}

/** The value inside a wire secret; any other value as it is (the engine sends secrets to this host unwrapped). */
export function unwrapSecret<T>(v: T | WireSecret<T>): T {
  if (v && typeof v === "object" && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG) return (v as WireSecret<T>).value;
  return v as T;
}
