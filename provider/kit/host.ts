/**
 * The provider host's side of every dynamic resource: {@link providerFor} turns a registered kind into the
 * object the serialized shim calls (check/diff/create/read/update/delete with the stack config). Only the kit,
 * the client, the policy and the kind that runs are loaded here; never the program-side resource classes.
 */
import type * as pulumi from "@pulumi/pulumi";
import { isNotFound, LxdError } from "../lxd";
import { normalizeProject } from "../rules/names";
import { stripUndefined } from "../rules/values";
import { clientFor, unknownRemote, type ProviderConfig } from "./connection";
import { diffProps } from "./check";
import { lxdSays } from "./errors";
import type { AnyKind, KindInputs, Scope } from "./contract";
import { KINDS, type KindName } from "./registry";

type Props = Record<string, unknown> & KindInputs;

/** The kind's own id, else `project/name` for kinds in a project, `name` for the others. */
function idOf(kind: AnyKind, p: Props): string {
  if (kind.idOf) return kind.idOf(p);
  return kind.inProject === false ? String(p.name) : `${normalizeProject(p.project)}/${p.name}`;
}

function scopeOf(p: Props, config?: ProviderConfig): Scope {
  return { lxd: clientFor(p.connection, config), project: normalizeProject(p.project), config };
}

/**
 * `Failed to <verb> <noun> "<name>" in project "<p>": <message>`, unless the kind's message already says so
 * (LXD's own messages often start with "Failed to" too: an LxdError is always prefixed).
 */
export function failure(kind: AnyKind, verb: string, p: Props, err: unknown): Error {
  const detail = lxdSays(err);
  if (!(err instanceof LxdError) && /^Failed to /.test(detail)) return err instanceof Error ? err : new Error(detail);
  const where = kind.inProject === false ? "" : ` in project "${normalizeProject(p.project)}"`;
  const what = kind.subject ? kind.subject(verb, p) : `${verb} ${kind.noun} "${p.name}"`;
  const wrapped = new Error(`Failed to ${what}${where}: ${detail}`, { cause: err });
  return err instanceof LxdError ? Object.assign(wrapped, { status: err.status }) : wrapped;
}

/** The error a create rejects with when the object exists in LXD but a later step failed: the engine keeps it in state. */
export function partialCreate(message: string, id: string, properties: Record<string, unknown>): Error {
  return Object.assign(new Error(message), { id, properties: stripUndefined(properties), reasons: [message] });
}

/** The inputs a state corresponds to: the state without the kind's output keys. */
export function inputsOf(kind: AnyKind, outs: Record<string, unknown>): Record<string, unknown> {
  const drop = new Set<string>(kind.outputKeys);
  return Object.fromEntries(Object.entries(outs).filter(([k]) => !drop.has(k)));
}

/** The dynamic provider of one kind. */
export function kitProvider(kind: AnyKind) {
  return {
    async check(olds: Record<string, unknown>, news: Record<string, unknown>, config?: ProviderConfig): Promise<pulumi.dynamic.CheckResult> {
      const own = Object.fromEntries(Object.entries(news).filter(([k]) => !k.startsWith("__")));
      const remote = (own.connection as { remote?: unknown } | undefined)?.remote;
      if (typeof remote === "string") {
        const why = unknownRemote(remote, config);
        if (why) return { inputs: news, failures: [{ property: "connection.remote", reason: why }] };
      }
      const r = await kind.check(own, { olds, config, open: () => scopeOf(own as Props, config) });
      if (r.failures) return { inputs: news, failures: r.failures };
      return { inputs: { ...news, ...stripUndefined(r.inputs) } };
    },

    async diff(_id: string, olds: Props, news: Props, config?: ProviderConfig): Promise<pulumi.dynamic.DiffResult> {
      const base = diffProps(olds, news, kind.diffKeys, kind.replaceKeys, config);
      return kind.diff ? kind.diff(olds, news, base, () => scopeOf(news, config)) : base;
    },

    async create(inputs: Props, config?: ProviderConfig): Promise<pulumi.dynamic.CreateResult> {
      let held: Record<string, unknown> | undefined;
      try {
        const s = scopeOf(inputs, config);
        const outs = await kind.create(s, inputs, (properties) => {
          held = properties === false ? undefined : { ...inputs, ...properties };
        });
        return { id: idOf(kind, outs), outs: stripUndefined(outs) };
      } catch (err) {
        const e = failure(kind, "create", inputs, err);
        if (!held) throw e;
        throw partialCreate(`${e.message} (LXD may hold the ${kind.noun}: it is kept in state, and the next run converges from what LXD holds)`, idOf(kind, held as Props), held);
      }
    },

    async read(id: string, props: Props, config?: ProviderConfig): Promise<pulumi.dynamic.ReadResult> {
      try {
        const read = await kind.read(scopeOf(props, config), props);
        if (!read) return { id: "", props: {} };
        const outs = stripUndefined(read);
        return { id: kind.idOf ? kind.idOf(outs) : id, props: outs, inputs: inputsOf(kind, outs) } as pulumi.dynamic.ReadResult;
      } catch (err) {
        if (isNotFound(err)) return { id: "", props: {} };
        throw failure(kind, "read", props, err);
      }
    },

    async update(_id: string, olds: Props, news: Props, config?: ProviderConfig): Promise<pulumi.dynamic.UpdateResult> {
      try {
        return { outs: stripUndefined(await kind.update(scopeOf(news, config), olds, news)) };
      } catch (err) {
        if (isNotFound(err)) {
          throw failure(kind, "update", news, new Error(`it no longer exists in LXD (deleted outside the stack?). Run \`pulumi refresh\` to drop it from the state; the next \`pulumi up\` creates it again`));
        }
        throw failure(kind, "update", news, err);
      }
    },

    async delete(_id: string, props: Props, config?: ProviderConfig): Promise<void> {
      try {
        await kind.delete(scopeOf(props, config), props);
      } catch (err) {
        if (isNotFound(err)) return;
        throw failure(kind, "delete", props, err);
      }
    },
  };
}

const built = new Map<string, ReturnType<typeof kitProvider>>();

/**
 * The provider of a registered kind, as the shim loads it.
 * @throws Error when `name` is not a kind of this version of the package.
 */
export function providerFor(name: string): ReturnType<typeof kitProvider> {
  let p = built.get(name);
  if (!p) {
    const load = (KINDS as Record<string, (() => AnyKind) | undefined>)[name];
    if (!load) throw new Error(`"${name}" is not a resource kind of this version of pulumi-lxd-hardened (known: ${Object.keys(KINDS).join(", ")})`);
    p = kitProvider(load());
    built.set(name, p);
  }
  return p;
}

export type { KindName };
