/**
 * A small stand-in for the Pulumi engine's resource lifecycle, driving one of our dynamic resources through
 * the real dynamic-provider host: `up` = Check → (Diff → Update | Delete+Create) or Create, `preview` =
 * Check + Diff, `refresh` = Read, `destroy` = Delete. State is kept the way the engine keeps it
 * (id, checked inputs, outputs), so multi-step tests read like `pulumi up` / `pulumi preview` runs.
 */
import { providerShim } from "../../resources/shim";
import type { KindName } from "../../provider/kit/registry";
import { serializeProvider, withProvider, urn, dynamicResourceType } from "./dynamic-resource";
import { ProviderHostError, type CheckResult, type DiffResult, type PlainObject, type ProviderHost } from "./provider-host";

/** Serialized `__provider` text per module (the same text `dynamic.Resource` stores). */
const texts = new Map<string, Promise<string>>();
export function providerText(module: KindName): Promise<string> {
  if (!texts.has(module)) texts.set(module, serializeProvider(providerShim(module)));
  return texts.get(module)!;
}

export interface ResourceState {
  id: string;
  inputs: PlainObject;
  outputs: PlainObject;
  /** Set when a create failed after the object existed (ErrorResourceInitFailed): the engine then updates it on the next run. */
  initErrors?: string[];
}

/** Thrown by `up` when Check fails, with the failures. */
export class CheckFailed extends Error {
  constructor(readonly failures: CheckResult["failures"]) {
    super(`check failed: ${failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
  }
}

export class MiniEngine {
  state?: ResourceState;
  readonly urn: string;
  /** What the last `up` did: create, update, replace or same. */
  lastAction?: "create" | "update" | "replace" | "same";

  constructor(readonly host: ProviderHost, readonly module: KindName, readonly name: string, type = "Resource") {
    this.urn = urn(dynamicResourceType("lxd", type), name);
  }

  /** Check only (as in preview); returns the checked inputs and failures. */
  async check(inputs: Record<string, unknown>, opts: { preview?: boolean } = {}): Promise<CheckResult> {
    const news = withProvider(inputs, await providerText(this.module));
    return this.host.check(this.urn, this.state?.inputs ?? {}, news, opts);
  }

  /** `pulumi preview` for this resource: Check + Diff against the current state. */
  async preview(inputs: Record<string, unknown>): Promise<{ check: CheckResult; diff?: DiffResult }> {
    const check = await this.check(inputs, { preview: true });
    if (check.failures.length || !this.state) return { check };
    return { check, diff: await this.host.diff(this.state.id, this.urn, this.state.outputs, check.inputs, { preview: true, oldInputs: this.state.inputs }) };
  }

  /** `pulumi up` for this resource. */
  async up(inputs: Record<string, unknown>): Promise<ResourceState> {
    const check = await this.check(inputs);
    if (check.failures.length) throw new CheckFailed(check.failures);
    if (!this.state) {
      const created = await this.create(check.inputs);
      this.lastAction = "create";
      return created;
    }
    const diff = await this.host.diff(this.state.id, this.urn, this.state.outputs, check.inputs, { oldInputs: this.state.inputs });
    // As the engine does: a resource whose create partially failed is updated even when the diff is empty.
    if (diff.changes === "none" && !this.state.initErrors) {
      this.lastAction = "same";
      return this.state;
    }
    if (diff.replaces.length) {
      await this.host.delete(this.state.id, this.urn, this.state.outputs, { oldInputs: this.state.inputs });
      this.state = undefined;
      const created = await this.create(check.inputs);
      this.lastAction = "replace";
      return created;
    }
    const updated = await this.host.update(this.state.id, this.urn, this.state.outputs, check.inputs, { oldInputs: this.state.inputs });
    this.state = { id: this.state.id, inputs: check.inputs, outputs: updated.properties };
    this.lastAction = "update";
    return this.state;
  }

  /** Create, keeping a partially created resource in state with its init errors, as the engine does. */
  private async create(inputs: PlainObject): Promise<ResourceState> {
    try {
      const created = await this.host.create(this.urn, inputs);
      this.state = { id: created.id, inputs, outputs: created.properties };
      return this.state;
    } catch (err) {
      if (err instanceof ProviderHostError && err.partial) {
        this.state = { id: err.id!, inputs, outputs: err.properties!, initErrors: err.reasons };
      }
      throw err;
    }
  }

  /** `pulumi refresh` for this resource: Read; a blank id drops it from state. */
  async refresh(): Promise<ResourceState | undefined> {
    if (!this.state) return undefined;
    const r = await this.host.read(this.state.id, this.urn, this.state.outputs, this.state.inputs);
    this.state = r.id ? { id: r.id, inputs: r.inputs ?? this.state.inputs, outputs: r.properties } : undefined;
    return this.state;
  }

  /** Diff of `inputs` against the state (what a second `pulumi preview` shows). */
  async diff(inputs: Record<string, unknown>): Promise<DiffResult> {
    if (!this.state) throw new Error("no state to diff against");
    const check = await this.check(inputs);
    if (check.failures.length) throw new CheckFailed(check.failures);
    return this.host.diff(this.state.id, this.urn, this.state.outputs, check.inputs, { oldInputs: this.state.inputs });
  }

  /** `pulumi destroy` for this resource. */
  async destroy(): Promise<void> {
    if (!this.state) return;
    await this.host.delete(this.state.id, this.urn, this.state.outputs, { oldInputs: this.state.inputs });
    this.state = undefined;
  }
}

/** A random name with a prefix, valid for LXD instances, profiles and projects. */
export function randomName(prefix = "t"): string {
  return `${prefix}-${Math.random().toString(16).slice(2, 10)}`;
}
