/**
 * What `pulumi.dynamic.Resource` (node_modules/@pulumi/pulumi/dynamic/index.js, SDK 3.248) puts on the
 * wire, reproduced for tests that talk to the dynamic-provider host directly:
 * - the serialized provider in the reserved input `__provider`,
 * - the type token `pulumi-nodejs:dynamic[/<module>]:<type>` (type defaults to `Resource`),
 * - the URN the engine builds for it.
 */
import type * as pulumi from "@pulumi/pulumi";

/** The reserved input/output key holding the serialized provider. */
export const PROVIDER_KEY = "__provider";

/** Type token of `new pulumi.dynamic.Resource(provider, name, props)` without module/type arguments. */
export const DYNAMIC_RESOURCE_TYPE = "pulumi-nodejs:dynamic:Resource";

/** The package of every dynamic resource: the engine runs `pulumi-nodejs` as their provider plugin. */
export const DYNAMIC_PACKAGE = "pulumi-nodejs";

/** Defaults of {@link urn}: this repository's project and a fixed test stack. */
export const DEFAULT_PROJECT = "pulumi-lxd-hardened";
export const DEFAULT_STACK = "test";

interface SerializeClosureModule {
  serializeFunction(
    func: () => unknown,
    args?: { allowSecrets?: boolean },
  ): Promise<{ text: string; exportName: string; containsSecrets: boolean }>;
}

/**
 * Serializes a provider exactly as `dynamic.Resource` does:
 * `serializeFunction(() => provider, {allowSecrets: true})`, returning `.text`, the JavaScript module
 * source stored as `__provider` (its `exports.handler()` returns the provider object).
 *
 * Rules that follow from the serializer (see /work/shared/PULUMI-NOTES.md): the provider object and
 * everything it captures are copied by value, except modules under node_modules (emitted as
 * `require("pkg/...")`); a captured `pulumi.Config` freezes the whole program configuration into the
 * text; a free `require("...")` inside a method is left alone and resolved at run time from the host's
 * working directory.
 */
export async function serializeProvider(provider: object): Promise<string> {
  // Loaded on demand, as dynamic/index.js does: the serializer's dependencies are slow to load.
  const closure = require("@pulumi/pulumi/runtime/closure/serializeClosure") as SerializeClosureModule;
  const serialized = await closure.serializeFunction(() => provider, { allowSecrets: true });
  return serialized.text;
}

/**
 * Adds the serialized provider to a property bag, as `dynamic.Resource` adds it to its props.
 *
 * @throws Error "A dynamic resource must not define the __provider key" (the SDK's message) when
 *   `props` already has one.
 */
export function withProvider<T extends Record<string, unknown>>(
  props: T,
  providerText: string,
): T & { [PROVIDER_KEY]: string } {
  if (props[PROVIDER_KEY]) {
    throw new Error("A dynamic resource must not define the __provider key");
  }
  return { ...props, [PROVIDER_KEY]: providerText };
}

/**
 * The type token `dynamic.Resource` registers: `pulumi-nodejs:dynamic:Resource` by default,
 * `pulumi-nodejs:dynamic/<module>:<type>` when the subclass passes a module.
 */
export function dynamicResourceType(module?: string, type = "Resource"): string {
  return `${DYNAMIC_PACKAGE}:dynamic${module ? `/${module}` : ""}:${type}`;
}

/**
 * A resource URN as the engine builds it: `urn:pulumi:<stack>::<project>::<type>::<name>`.
 *
 * `type` is the qualified type: for a child of a component it is `<parentType>$<type>`
 * (e.g. `lxd:index:Host$pulumi-nodejs:dynamic:Resource`); the host never parses it.
 *
 * @example urn(DYNAMIC_RESOURCE_TYPE, "web")
 *   // "urn:pulumi:test::pulumi-lxd-hardened::pulumi-nodejs:dynamic:Resource::web"
 */
export function urn(type: string, name: string, stack = DEFAULT_STACK, project = DEFAULT_PROJECT): pulumi.URN {
  return `urn:pulumi:${stack}::${project}::${type}::${name}`;
}
