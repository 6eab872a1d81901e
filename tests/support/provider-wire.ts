/**
 * Values on the wire between the Pulumi engine and a dynamic-provider host.
 *
 * The engine sends and receives `google.protobuf.Struct`s. This module converts plain JS values to and
 * from them the way the two ends do:
 * - requests: like the Node SDK's `serializeProperties`, `undefined` object keys are omitted and
 *   `undefined` array elements become `null` (the engine never sees `undefined`);
 * - responses: `Struct.toJavaScript()`, plain values only;
 * - preview unknowns: the string sentinels of `sdk/go/common/resource/plugin/rpc.go`.
 *
 * `google-protobuf` is loaded from the copy `@pulumi/pulumi` itself resolves, so `Struct` instances are
 * the ones the generated stubs (`@pulumi/pulumi/proto/*_pb.js`) accept. Never add another copy.
 */
import * as path from "node:path";
import type * as structpbTypes from "google-protobuf/google/protobuf/struct_pb";

export type { Struct } from "google-protobuf/google/protobuf/struct_pb";

/** A JSON-like value as it travels inside a `google.protobuf.Struct`. */
export type PlainValue = null | boolean | number | string | PlainValue[] | PlainObject;

/** A property bag (inputs, outputs, state) as it travels inside a `google.protobuf.Struct`. */
export interface PlainObject {
  [key: string]: PlainValue;
}

/**
 * The value the engine sends in place of a value that is not known yet (preview only):
 * `plugin.UnknownStringValue` in Go, `runtime.unknownValue` in the Node SDK. It is the only sentinel the
 * Node dynamic-provider host itself recognises (for `__provider`).
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/**
 * All unknown sentinels the engine understands (bool, number, string, array, asset, archive, object).
 * The engine re-marshals unknowns that came from the Node SDK as {@link UNKNOWN}, but it *reads* any of
 * these as "unknown" in a provider's response, so the harness checks for all of them.
 */
export const UNKNOWN_SENTINELS: ReadonlySet<string> = new Set([
  "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
  "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
  UNKNOWN,
  "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
  "030794c1-ac77-496b-92df-f27374a8bd58",
  "e48ece36-62e2-4504-bad9-02848725956a",
  "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
]);

/** Key and signature of a secret on the wire: `{[SIG_KEY]: SECRET_SIG, value}` (`runtime/rpc.js`). */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** The directory of the installed `@pulumi/pulumi`, for resolving its own dependencies. */
export const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));

type StructModule = typeof structpbTypes;
let structModule: StructModule | undefined;

/** `google-protobuf/google/protobuf/struct_pb`, the copy that `@pulumi/pulumi` resolves. */
export function structpb(): StructModule {
  structModule ??= require(
    require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [pulumiDir] }),
  ) as StructModule;
  return structModule;
}

/**
 * Converts a property bag to a `Struct` as the SDK and engine would send it: `undefined` keys are
 * dropped, `undefined` array elements become `null`.
 *
 * @throws TypeError naming the property path for anything that has no wire form (functions, Buffers,
 *   class instances such as Date or Map, bigint, symbols, non-finite numbers). Those never reach a
 *   provider from a real program, so a test that sends one is wrong, not the provider.
 */
export function toStruct(props: Record<string, unknown>, what: string): structpbTypes.Struct {
  return structpb().Struct.fromJavaScript(toPlainObject(props, what) as Record<string, structpbTypes.JavaScriptValue>);
}

/** Like {@link toStruct}, returning the plain object instead of the protobuf message. */
export function toPlainObject(props: Record<string, unknown>, what: string): PlainObject {
  const value = toPlain(props, what);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object`);
  }
  return value;
}

function toPlain(value: unknown, at: string): PlainValue {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return value;
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new TypeError(`${at} is ${value}, which has no wire form`);
    }
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((element, i) => (element === undefined ? null : toPlain(element, `${at}[${i}]`)));
  }
  if (typeof value === "object" && isPlainObject(value)) {
    const result: PlainObject = {};
    for (const [key, element] of Object.entries(value)) {
      if (element !== undefined) {
        result[key] = toPlain(element, `${at}.${key}`);
      }
    }
    return result;
  }
  const kind = typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
  throw new TypeError(`${at} is a ${kind}, which has no wire form`);
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Converts a `Struct` from a response to a plain object; an absent struct stays `undefined`. */
export function fromStruct(struct: structpbTypes.Struct | undefined): PlainObject | undefined {
  return struct === undefined ? undefined : (struct.toJavaScript() as PlainObject);
}

/**
 * The path of the first unknown sentinel inside `value` (`"name"`, `"limits.cpu"`, `"devices[0]"`),
 * or `undefined` when everything is known.
 */
export function findUnknown(value: PlainValue | undefined, at = ""): string | undefined {
  if (typeof value === "string") {
    return UNKNOWN_SENTINELS.has(value) ? at || "(value)" : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnknown(value[i], `${at}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, element] of Object.entries(value)) {
      const found = findUnknown(element, at ? `${at}.${key}` : key);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
