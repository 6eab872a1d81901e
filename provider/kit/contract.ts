/**
 * The contract every LXD kind implements for the provider host. A kind says what is special about it (its
 * schema, its LXD calls, which inputs force replacement, its outputs); the kit ({@link ./host}) does the rest
 * the same way for every kind: opening the client and project, 404 on read = gone and on delete = done,
 * error messages `Failed to <verb> <kind> "<name>" in project "<p>": …`, a create that LXD accepted but that
 * failed afterwards recorded as partially created, and an update of an object deleted outside the stack.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { LxdClient } from "../lxd";
import type { ConnectionArgs } from "../rules/connection";
import type { ProviderConfig } from "./connection";

/** Inputs every kind has. */
export interface KindInputs {
  /** The LXD object's name. Kinds whose object is named otherwise (an image by fingerprint, a device by instance and device name) give {@link Kind.idOf} and {@link Kind.subject}. */
  name?: string;
  /** The project; "" or absent = `default`. Absent for kinds that are not in a project. */
  project?: string;
  connection?: ConnectionArgs;
}

/** Where a call runs: the client for the resource's server, its project (normalised), stack config. */
export interface Scope {
  lxd: LxdClient;
  project: string;
  config?: ProviderConfig;
}

/** What check gets besides the new inputs. */
export interface CheckContext {
  /** The previous inputs (empty on create). */
  olds: Record<string, unknown>;
  config?: ProviderConfig;
  /** The scope of the new inputs, for a kind that must ask LXD at check (a preview may read, never write). */
  open: () => Scope;
}

/** A kind's check result: normalised inputs, or failures naming the property. */
export type KindCheck<I> = { inputs: I; failures?: undefined } | { inputs?: undefined; failures: pulumi.dynamic.CheckFailure[] };

/**
 * Called by a kind's create once LXD may hold the object: from then on, any failure leaves it in state as
 * partially created (with `properties` merged over the inputs), never forgotten. `false` says LXD holds nothing
 * after all (e.g. the kind removed it again).
 */
export type Accepted<O> = (properties?: Partial<O> | false) => void;

/** One LXD kind, host side. `I` = checked inputs, `O` = state (inputs + `outputKeys`). */
export interface Kind<I extends KindInputs, O extends I> {
  /** LXD's noun, for messages: `instance`, `profile`, `project`, … */
  readonly noun: string;
  /** False for kinds that are not inside a project (projects themselves). Default true. */
  readonly inProject?: boolean;
  /** State keys that are not inputs (declared once: read strips them to give the inputs back). */
  readonly outputKeys: readonly (Exclude<keyof O, keyof I> & string)[];
  /** Input keys the diff compares (`connection` is always compared, by server). */
  readonly diffKeys: readonly (keyof I & string)[];
  /** Those of {@link diffKeys} whose change forces replacement. */
  readonly replaceKeys: readonly (keyof I & string)[];
  /**
   * The resource's id, from its state (or, for a partial create, from the inputs and what `accepted` got).
   * Default: `<project>/<name>`, or `<name>` for kinds that are not in a project. When given, read returns it
   * too, so an id that follows the object (a project renamed in place) is corrected by a refresh.
   */
  idOf?(props: O): string;
  /**
   * What a failure names, between "Failed to " and " in project": default `<verb> <noun> "<name>"`; `verb` is
   * one of create, read, update, delete. E.g. `attach device "gpu0" to instance "c1"` for a device's create.
   */
  subject?(verb: string, props: I | O): string;
  /** Validates and normalises the new inputs (engine keys such as `__provider` already removed). */
  check(news: Record<string, unknown>, ctx: CheckContext): Promise<KindCheck<I>>;
  /**
   * Refines the kit's diff (e.g. a rename that cannot be done in place). `open` gives the scope of the new inputs
   * for a kind that must ask LXD (a preview may read, never write).
   */
  diff?(olds: O, news: I, base: pulumi.dynamic.DiffResult, open: () => Scope): pulumi.dynamic.DiffResult | Promise<pulumi.dynamic.DiffResult>;
  /** Creates the object; calls `accepted` as soon as LXD holds it. */
  create(s: Scope, inputs: I, accepted: Accepted<O>): Promise<O>;
  /** Reads the object; an LXD 404 means it is gone, and so does `undefined` (LXD answered, but the object is not there, e.g. a device no longer on its instance). */
  read(s: Scope, props: O): Promise<O | undefined>;
  /** Brings the object from `olds` (the state) to `news`. An LXD 404 means it was deleted outside the stack. */
  update(s: Scope, olds: O, news: I): Promise<O>;
  /** Deletes the object; an LXD 404 means it is already gone. */
  delete(s: Scope, props: O): Promise<void>;
}

/** A kind with its input and state types erased, as the registry holds it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKind = Kind<any, any>;
