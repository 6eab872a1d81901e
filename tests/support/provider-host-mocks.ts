/**
 * `pulumi.runtime.setMocks` mocks that run dynamic resources through a real dynamic-provider host.
 *
 * With mocks, the SDK hands every registration to `Mocks.newResource` in-process. For a dynamic resource
 * (`pulumi-nodejs:dynamic:Resource` or `pulumi-nodejs:dynamic/<module>:<type>`) the inputs hold the
 * serialized provider as `__provider`; {@link mockResourcesToHost} forwards them to the host the way the
 * engine plans a create — Check(olds = {}, news) then Create(checked inputs) — so an example program's
 * create path runs against the real provider code. Other resources echo their inputs.
 *
 * What the engine would do around these calls is mirrored where a provider can observe it: secrets are
 * unwrapped before Check (the host does not accept secrets) and outputs whose input of the same name was
 * secret come back secret; in preview (`setMocks(..., preview = true)`) unknowns are sent as
 * {@link UNKNOWN} and Create is not called. There is no state, so no diff/update/replace/delete
 * planning: the lifecycle belongs to host-level tests. `additionalSecretOutputs` is invisible to mocks.
 */
import * as pulumi from "@pulumi/pulumi";
import { DYNAMIC_PACKAGE, PROVIDER_KEY, urn as makeUrn } from "./dynamic-resource";
import { ProviderHostError, type ProviderHost } from "./provider-host";
import { SECRET_SIG, SIG_KEY, UNKNOWN, toPlainObject, type PlainObject } from "./provider-wire";

/** One resource the program registered, in registration order. */
export interface RecordedResource {
  /** Type token, e.g. `pulumi-nodejs:dynamic/memory:Item`. */
  type: string;
  name: string;
  /** URN sent to the host: `urn(type, name, pulumi.getStack(), pulumi.getProject())` (no parent chain). */
  urn: string;
  custom: boolean;
  /** Inputs as the engine sends them to Check: secrets unwrapped, unknowns as `UNKNOWN`, with `__provider`. */
  inputs: PlainObject;
  /** Inputs after the host's Check (what Create received); equal to `inputs` for echoed resources. */
  checkedInputs: PlainObject;
  /** Id from Create (`""` in preview); `undefined` until registration finished or when it failed. */
  id: string | undefined;
  /** Outputs from Create (plain; secrets re-applied only in what the program sees). */
  outputs: PlainObject;
  /** True when Check/Create ran on the host (dynamic resources). */
  viaHost: boolean;
  /** True once `cleanup()` deleted it through the host. */
  deleted: boolean;
}

/** Options of {@link mockResourcesToHost}. */
export interface HostMocksOptions {
  /**
   * Handles registrations of non-dynamic resources.
   * @default echo: `{id: custom ? "<name>-id" : undefined, state: inputs}`
   */
  newResource?: (
    args: pulumi.runtime.MockResourceArgs,
  ) => pulumi.runtime.MockResourceResult | Promise<pulumi.runtime.MockResourceResult>;
  /**
   * Handles provider function calls (invokes).
   * @default echo: returns the call's inputs
   */
  call?: (
    args: pulumi.runtime.MockCallArgs,
  ) => pulumi.runtime.MockCallResult | Promise<pulumi.runtime.MockCallResult>;
}

/** Mocks that forward dynamic resources to a host and record every registration. */
export interface HostMocks extends pulumi.runtime.Mocks {
  /** Every registration so far, in registration order. */
  readonly resources: readonly RecordedResource[];
  /** The recorded resource with this type token and name. */
  find(type: string, name: string): RecordedResource | undefined;
  /**
   * Deletes, in reverse registration order, every resource created through the host (including
   * partially created ones). Await the program's outputs first. Idempotent.
   * @throws AggregateError with every Delete that failed (the others still run).
   */
  cleanup(): Promise<void>;
}

/**
 * Builds mocks for `pulumi.runtime.setMocks(mocks, project, stack, preview)` that run dynamic
 * resources on `host` (see the module comment).
 *
 * @example
 *   const mocks = mockResourcesToHost(host);
 *   await pulumi.runtime.setMocks(mocks, "pulumi-lxd-hardened", "test");
 *   const item = new MemoryItem("web", { name: "web" });
 *   await valueOf(item.id);
 *   expect(mocks.find(item type, "web")?.outputs).toMatchObject({ ... });
 *   await mocks.cleanup();
 */
export function mockResourcesToHost(host: ProviderHost, opts: HostMocksOptions = {}): HostMocks {
  const resources: RecordedResource[] = [];

  async function newDynamicResource(args: pulumi.runtime.MockResourceArgs, record: RecordedResource) {
    if (args.id) {
      throw new Error(`mockResourcesToHost: reading or importing ${args.type} "${args.name}" is not supported`);
    }
    const preview = pulumi.runtime.isDryRun();
    const checked = await host.check(record.urn, {}, record.inputs, { preview });
    if (checked.failures.length > 0) {
      const problems = checked.failures.map((f) => `${f.property}: ${f.reason}`).join("; ");
      throw new Error(`Check(${record.urn}) failed: ${problems}`);
    }
    record.checkedInputs = checked.inputs;
    try {
      const created = await host.create(record.urn, checked.inputs, { preview });
      record.id = created.id;
      record.outputs = created.properties;
    } catch (error) {
      if (error instanceof ProviderHostError && error.partial) {
        // The engine keeps a partially created resource in state; so does the record, for cleanup().
        record.id = error.id;
        record.outputs = error.properties ?? {};
      }
      throw error;
    }
    return { id: record.id, state: annotateSecrets(record.outputs, args.inputs as Record<string, unknown>) };
  }

  return {
    resources,

    async newResource(args) {
      const record: RecordedResource = {
        type: args.type,
        name: args.name,
        urn: makeUrn(args.type, args.name, pulumi.getStack(), pulumi.getProject()),
        custom: args.custom ?? false,
        inputs: engineObject(args.inputs, `${args.type} "${args.name}" inputs`),
        checkedInputs: {},
        id: undefined,
        outputs: {},
        viaHost: isDynamic(args),
        deleted: false,
      };
      resources.push(record);
      if (record.viaHost) {
        return newDynamicResource(args, record);
      }
      const result = opts.newResource
        ? await opts.newResource(args)
        : { id: args.custom ? `${args.name}-id` : undefined, state: args.inputs as Record<string, unknown> };
      record.checkedInputs = record.inputs;
      record.id = result.id;
      record.outputs = engineObject(result.state, `${args.type} "${args.name}" state`);
      return result;
    },

    async call(args) {
      return opts.call ? opts.call(args) : (args.inputs as pulumi.runtime.MockCallResult);
    },

    find(type, name) {
      return resources.find((r) => r.type === type && r.name === name);
    },

    async cleanup() {
      const failures: unknown[] = [];
      for (const record of [...resources].reverse()) {
        if (!record.viaHost || !record.id || record.deleted) continue;
        try {
          await host.delete(record.id, record.urn, record.outputs, { oldInputs: record.checkedInputs });
          record.deleted = true;
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length > 0) {
        throw new AggregateError(failures, `cleanup: ${failures.length} delete(s) failed`);
      }
    },
  };
}

/**
 * Resolves an `Output` known during the program: the value, for awaiting in tests.
 * Never settles for an output that is unknown (preview), like `apply`.
 */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise<T>((resolve) => {
    output.apply((value) => {
      resolve(value);
      return value;
    });
  });
}

function isDynamic(args: pulumi.runtime.MockResourceArgs): boolean {
  const inputs = args.inputs as Record<string, unknown>;
  return args.type.startsWith(`${DYNAMIC_PACKAGE}:dynamic`) && typeof inputs[PROVIDER_KEY] === "string";
}

function isSecretWrapper(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/**
 * Mock inputs → what the engine sends a provider that accepts neither secrets nor resources:
 * secrets unwrapped, unknowns as {@link UNKNOWN}, `undefined` dropped.
 */
function engineInputs(value: unknown): unknown {
  if (pulumi.isUnknown(value)) return UNKNOWN;
  if (isSecretWrapper(value)) return engineInputs(value.value);
  if (Array.isArray(value)) return value.map(engineInputs);
  if (pulumi.Resource.isInstance(value)) {
    throw new Error("mockResourcesToHost: resource references in inputs are not supported");
  }
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, element]) => [key, engineInputs(element)]));
  }
  return value;
}

/** {@link engineInputs} of a property bag, as a plain object. */
function engineObject(bag: unknown, what: string): PlainObject {
  return toPlainObject(engineInputs(bag) as Record<string, unknown>, what);
}

function containsSecret(value: unknown): boolean {
  if (isSecretWrapper(value)) return true;
  if (Array.isArray(value)) return value.some(containsSecret);
  if (typeof value === "object" && value !== null) return Object.values(value).some(containsSecret);
  return false;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isSecretWrapper(value);
}

/**
 * The engine's `annotateSecrets(outs, ins)`: an output becomes secret when the input of the same name
 * contained a secret; objects on both sides are compared key by key.
 */
function annotateSecrets(outs: PlainObject, ins: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...outs };
  for (const [key, inValue] of Object.entries(ins)) {
    if (!(key in outs)) continue;
    const outValue = outs[key];
    if (isObject(outValue) && isObject(inValue)) {
      result[key] = annotateSecrets(outValue as PlainObject, inValue);
    } else if (containsSecret(inValue)) {
      result[key] = pulumi.secret(outValue);
    }
  }
  return result;
}
