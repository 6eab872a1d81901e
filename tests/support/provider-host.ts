/**
 * Drives dynamic providers exactly the way the Pulumi engine does, without the engine.
 *
 * The engine runs every Node.js dynamic resource through the SDK's own host,
 * `node <@pulumi/pulumi/cmd/dynamic-provider> <engine-address>`, started in the project directory with
 * `PULUMI_NODEJS_PROJECT`/`PULUMI_PROJECT`/`PULUMI_CONFIG` in its environment. The host serves
 * `pulumirpc.ResourceProvider` on 127.0.0.1 and prints its port as the first stdout line; it never dials
 * the engine address. {@link startProviderHost} starts that same host, connects the generated gRPC
 * client, sends Handshake then Configure (as the engine does), and exposes the resource RPCs with plain
 * values in and out.
 *
 * Engine-side behaviour reproduced here, because a provider only ever sees it through the engine
 * (sdk/go/common/resource/plugin/provider_plugin.go):
 * - unknowns: only sent in preview, as {@link UNKNOWN}; outside preview an unknown in a response is an
 *   error (`unexpected unknown property value for "<key>"`);
 * - preview Create/Update: the host reports `supportsPreview: false`, so the engine does not call it and
 *   uses the inputs as the planned state;
 * - Create returning an empty id is an error;
 * - errors carrying `pulumirpc.ErrorResourceInitFailed` are partial failures: the engine keeps
 *   `{id, properties}` in state and reports `reasons`.
 *
 * Everything (process, channel) is unref'd and a preloaded watchdog ends the host when the test process
 * exits, so a test that forgets {@link ProviderHost.close} cannot hang jest or leak a process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { backendStackConfig } from "./backend";
import { randomBytes, randomUUID } from "node:crypto";
import * as path from "node:path";
import type { Readable, Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provpb from "@pulumi/pulumi/proto/provider_pb";
import * as statuspb from "@pulumi/pulumi/proto/status_pb";
import { DEFAULT_PROJECT, DEFAULT_STACK, DYNAMIC_PACKAGE, urn as makeUrn } from "./dynamic-resource";
import {
  SECRET_SIG,
  SIG_KEY,
  findUnknown,
  fromStruct,
  structpb,
  toPlainObject,
  toStruct,
  type PlainObject,
  type Struct,
} from "./provider-wire";

export {
  DEFAULT_PROJECT,
  DEFAULT_STACK,
  DYNAMIC_RESOURCE_TYPE,
  PROVIDER_KEY,
  dynamicResourceType,
  serializeProvider,
  urn,
  withProvider,
} from "./dynamic-resource";
export { UNKNOWN, type PlainObject, type PlainValue } from "./provider-wire";

/** The placeholder engine address passed to the host, which never dials it. */
const ENGINE_ADDRESS = "127.0.0.1:1";

/** Same limit as the engine's gRPC client (rpcutil.GrpcChannelOptions) and the SDK's channel options. */
const MAX_RPC_MESSAGE_BYTES = 400 * 1024 * 1024;

/** How much of the host's stdout/stderr is kept for {@link ProviderHost.output}. */
const OUTPUT_LIMIT_CHARS = 64 * 1024;

const WATCHDOG = path.join(__dirname, "host-watchdog.js");
const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** Options of {@link startProviderHost}. */
export interface ProviderHostOptions {
  /**
   * Working directory of the host: the engine uses the project directory. Serialized providers resolve
   * `require("...")` calls from here.
   * @default the repository root
   */
  cwd?: string;
  /**
   * Stack configuration, `key → value`. Keys are `"<namespace>:<key>"` or a bare `"<key>"`, which is
   * qualified with {@link project} (as `pulumi config set key` does). The engine passes the *whole* stack
   * config to dynamic providers, both as Configure args (seen by `provider.configure({config})`) and as
   * `PULUMI_CONFIG` (seen by `require("@pulumi/pulumi").runtime.getConfig` inside the host).
   * @default {}
   */
  config?: Record<string, string>;
  /**
   * Config keys (as given in {@link config}) that are secrets: sent to Configure wrapped as secrets, as
   * the engine does; the host unwraps them.
   * @default []
   */
  secretKeys?: string[];
  /** Extra environment variables for the host, on top of this process's environment. */
  env?: Record<string, string>;
  /**
   * Project name: `PULUMI_NODEJS_PROJECT`, and the namespace `config.get("key")` reads inside the host.
   * @default "pulumi-lxd-hardened"
   */
  project?: string;
  /** Stack name used in the default provider's URN sent with Configure. @default "test" */
  stack?: string;
  /** Give up if the host has not printed its port and answered Configure by then. @default 30000 */
  startTimeoutMs?: number;
}

/** What the host declared in its ConfigureResponse (the engine plans around these). */
export interface HostProtocol {
  /** `false` for the dynamic-provider host: secrets are unwrapped before they reach providers. */
  acceptSecrets: boolean;
  /** `false`: resource references arrive as their id (custom resources) or URN. */
  acceptResources: boolean;
  /** `false`: the engine never calls Create/Update during preview. */
  supportsPreview: boolean;
  acceptOutputs: boolean;
}

/** Result of Check: `{inputs, failures: [{property, reason}]}`; `inputs` always includes `__provider`. */
export interface CheckResult {
  inputs: PlainObject;
  failures: Array<{ property: string; reason: string }>;
}

/** One entry of a detailed diff (the dynamic-provider host never sends any). */
export interface PropertyDiff {
  kind: "add" | "add-replace" | "delete" | "delete-replace" | "update" | "update-replace";
  inputDiff: boolean;
}

/**
 * Result of Diff. The host maps the provider's `changes` true/false/undefined to some/none/unknown,
 * passes `replaces` and `deleteBeforeReplace` through and drops `stables`. Without a provider `diff`,
 * the host answers `unknown` and the engine compares the inputs itself (including `__provider`).
 */
export interface DiffResult {
  changes: "some" | "none" | "unknown";
  replaces: string[];
  deleteBeforeReplace: boolean;
  /** Changed top-level keys, if the provider reported them (the dynamic host does not). */
  diffs: string[];
  /** Per-property diff, or `undefined` when the response has none (always, for the dynamic host). */
  detailedDiff: Record<string, PropertyDiff> | undefined;
}

/** Result of Create: the new id and the outputs (which include `__provider`). */
export interface CreateResult {
  id: string;
  properties: PlainObject;
}

/**
 * Result of Read. An empty `id` means the resource is gone. `inputs` is `undefined` when the provider
 * returned none (then the engine keeps the old inputs) and always for a provider without `read`.
 */
export interface ReadResult {
  id: string;
  properties: PlainObject;
  inputs: PlainObject | undefined;
}

/** Result of Update: the new outputs (which include `__provider`; without a provider `update`, only it). */
export interface UpdateResult {
  properties: PlainObject;
}

/** A running dynamic-provider host. All methods take and return plain values. */
export interface ProviderHost {
  /** The port the host printed; the harness connects to 127.0.0.1:port. */
  readonly port: number;
  readonly pid: number;
  /** Milliseconds from spawn until Configure answered. */
  readonly startupMs: number;
  readonly protocol: HostProtocol;

  /**
   * Check(olds, news) as the engine sends it: `olds` are the previous inputs (`{}` on create), `news`
   * the program's inputs with `__provider`. Values equal to {@link UNKNOWN} are only allowed with
   * `{preview: true}`, as in the engine.
   */
  check(
    urn: string,
    olds: Record<string, unknown>,
    news: Record<string, unknown>,
    opts?: { preview?: boolean },
  ): Promise<CheckResult>;

  /**
   * Diff: `olds` are the stored outputs (what the host passes to `provider.diff(id, olds, news)`),
   * `news` the checked new inputs; `oldInputs` defaults to `olds`.
   */
  diff(
    id: string,
    urn: string,
    olds: Record<string, unknown>,
    news: Record<string, unknown>,
    opts?: { preview?: boolean; oldInputs?: Record<string, unknown>; ignoreChanges?: string[] },
  ): Promise<DiffResult>;

  /**
   * Create from checked inputs. With `{preview: true}` the host is not called (it does not support
   * preview) and the result is `{id: "", properties: props}`, as the engine plans it.
   *
   * @throws ProviderHostError with `partial === true` and `{id, properties, reasons}` when the provider
   *   rejected with them (a partially created resource the engine keeps in state).
   */
  create(
    urn: string,
    props: Record<string, unknown>,
    opts?: { timeoutSec?: number; preview?: boolean },
  ): Promise<CreateResult>;

  /** Read (refresh): `props` are the stored outputs, `inputs` the stored inputs (absent for `.get`). */
  read(
    id: string,
    urn: string,
    props: Record<string, unknown>,
    inputs?: Record<string, unknown>,
  ): Promise<ReadResult>;

  /**
   * Update: `olds` are the stored outputs, `news` the checked new inputs; `oldInputs` defaults to `olds`.
   * With `{preview: true}` the host is not called and the result is `{properties: news}`.
   */
  update(
    id: string,
    urn: string,
    olds: Record<string, unknown>,
    news: Record<string, unknown>,
    opts?: {
      preview?: boolean;
      timeoutSec?: number;
      oldInputs?: Record<string, unknown>;
      ignoreChanges?: string[];
    },
  ): Promise<UpdateResult>;

  /** Delete: `props` are the stored outputs; `oldInputs` defaults to `props`. */
  delete(
    id: string,
    urn: string,
    props: Record<string, unknown>,
    opts?: { timeoutSec?: number; oldInputs?: Record<string, unknown> },
  ): Promise<void>;

  /** What the host wrote to stdout (after the port line) and stderr, last 64 KiB: provider logs, stacks. */
  output(): string;

  /** Closes the channel and ends the host; idempotent. */
  close(): Promise<void>;
}

/**
 * A gRPC error from the host, with the provider's message in `message` and `details`.
 *
 * When the provider rejected Create/Update with an error carrying `id` (and `properties`, `reasons`),
 * the host packs them into `pulumirpc.ErrorResourceInitFailed`; they are exposed here and `partial` is
 * true: the engine records such a resource as created-but-failed instead of forgetting it.
 */
export class ProviderHostError extends Error {
  override readonly name = "ProviderHostError";
  /** gRPC status code; the host uses UNKNOWN (2) for provider errors. */
  readonly code: grpc.status;
  /** The provider's message as the host sent it. */
  readonly details: string;
  /** Partial failure: the id of the resource that exists despite the error. */
  readonly id?: string;
  /**
   * Partial failure: its properties, which the engine stores as the resource's outputs. The host does
   * not add `__provider` here (unlike successful results), so a later Delete/Read of that state fails
   * ("code must be a string") unless the provider put `__provider: inputs.__provider` in them itself.
   */
  readonly properties?: PlainObject;
  /** Partial failure: the reasons the provider gave. */
  readonly reasons?: string[];

  constructor(
    readonly method: string,
    readonly urn: string,
    error: grpc.ServiceError,
    partial?: { id: string; properties: PlainObject; reasons: string[] },
  ) {
    super(`${method}(${urn}) failed: ${error.details || error.message}`);
    this.code = error.code;
    this.details = error.details;
    if (partial) {
      this.id = partial.id;
      this.properties = partial.properties;
      this.reasons = partial.reasons;
    }
  }

  /** True when the error carries a partially created resource (`id` is set). */
  get partial(): boolean {
    return this.id !== undefined;
  }
}

/**
 * Starts the SDK's dynamic-provider host and configures it as the engine does.
 *
 * @returns a {@link ProviderHost}; call `close()` when done (e.g. in `afterAll`).
 * @throws Error with the host's output when it exits, fails to print a port, or does not answer
 *   within `startTimeoutMs`.
 */
export async function startProviderHost(opts: ProviderHostOptions = {}): Promise<ProviderHost> {
  const project = opts.project ?? DEFAULT_PROJECT;
  const cwd = opts.cwd ?? REPO_ROOT;
  // The test backend (./backend.ts): stack config lxd:server for Incus, unless the test names a server, URL or socket.
  const given = opts.config ?? {};
  const namesServer = ["lxd:server", "lxd:url", "lxd:socketPath"].some((k) => k in given);
  const config = qualifyConfig(namesServer ? given : { ...backendStackConfig(), ...given }, project);
  const secretKeys = new Set((opts.secretKeys ?? []).map((key) => qualifyKey(key, project)));
  const started = performance.now();

  const child = spawn(
    process.execPath,
    ["--require", WATCHDOG, require.resolve("@pulumi/pulumi/cmd/dynamic-provider"), ENGINE_ADDRESS],
    {
      cwd,
      env: {
        ...process.env,
        PULUMI_NODEJS_PROJECT: project,
        PULUMI_PROJECT: project,
        PULUMI_CONFIG: JSON.stringify(config),
        ...opts.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  killOnExit(child);
  child.stdin?.on("error", () => undefined); // EPIPE once the host is gone; we never write to it.
  const output = new OutputTail(OUTPUT_LIMIT_CHARS);

  try {
    const port = await readPort(child, output, opts.startTimeoutMs ?? 30_000);
    // From here on nothing of ours may keep the event loop alive: a test that forgets close() must
    // still let jest exit (the watchdog then ends the host).
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) unrefStream(stream);

    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_RPC_MESSAGE_BYTES,
    });
    const host = new DynamicProviderHost(child, client, port, output);
    await host.handshakeAndConfigure({ project, stack: opts.stack ?? DEFAULT_STACK, cwd, config, secretKeys });
    host.startupMs = Math.round(performance.now() - started);
    return host;
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

type Callback<Res> = (error: grpc.ServiceError | null, response: Res) => void;

const DIFF_CHANGES: Record<provpb.DiffResponse.DiffChanges, DiffResult["changes"]> = {
  [provpb.DiffResponse.DiffChanges.DIFF_UNKNOWN]: "unknown",
  [provpb.DiffResponse.DiffChanges.DIFF_NONE]: "none",
  [provpb.DiffResponse.DiffChanges.DIFF_SOME]: "some",
};

const DIFF_KINDS: Record<provpb.PropertyDiff.Kind, PropertyDiff["kind"]> = {
  [provpb.PropertyDiff.Kind.ADD]: "add",
  [provpb.PropertyDiff.Kind.ADD_REPLACE]: "add-replace",
  [provpb.PropertyDiff.Kind.DELETE]: "delete",
  [provpb.PropertyDiff.Kind.DELETE_REPLACE]: "delete-replace",
  [provpb.PropertyDiff.Kind.UPDATE]: "update",
  [provpb.PropertyDiff.Kind.UPDATE_REPLACE]: "update-replace",
};

class DynamicProviderHost implements ProviderHost {
  startupMs = 0;
  protocol: HostProtocol = {
    acceptSecrets: false,
    acceptResources: false,
    supportsPreview: false,
    acceptOutputs: false,
  };
  private closed = false;

  constructor(
    private readonly child: ChildProcess,
    private readonly client: provrpc.ResourceProviderClient,
    readonly port: number,
    private readonly tail: OutputTail,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Handshake (the host answers UNIMPLEMENTED, the engine then falls back) and Configure. */
  async handshakeAndConfigure(args: {
    project: string;
    stack: string;
    cwd: string;
    config: Record<string, string>;
    secretKeys: ReadonlySet<string>;
  }): Promise<void> {
    const handshake = new provpb.ProviderHandshakeRequest()
      .setEngineAddress(ENGINE_ADDRESS)
      .setRootDirectory(args.cwd)
      .setProgramDirectory(args.cwd)
      .setConfigureWithUrn(true)
      .setSupportsViews(true)
      .setSupportsRefreshBeforeUpdate(true);
    const providerUrn = makeUrn(`pulumi:providers:${DYNAMIC_PACKAGE}`, "default", args.stack, args.project);
    let handshaken = false;
    try {
      const response = await this.rpc<provpb.ProviderHandshakeResponse>("Handshake", providerUrn, (cb) =>
        this.client.handshake(handshake, cb),
      );
      handshaken = true;
      this.protocol = {
        acceptSecrets: response.getAcceptSecrets(),
        acceptResources: response.getAcceptResources(),
        supportsPreview: true,
        acceptOutputs: response.getAcceptOutputs(),
      };
    } catch (error) {
      if (!(error instanceof ProviderHostError && error.code === grpc.status.UNIMPLEMENTED)) throw error;
    }

    // The engine passes the whole stack config to dynamic providers, keys kept namespaced
    // (deploy.Target.GetPackageConfig), secrets as secret values; `variables` repeats it in the legacy
    // "<package>:config:<key>" spelling (plugin.provider.Configure).
    const configArgs: Record<string, unknown> = {};
    const request = new provpb.ConfigureRequest();
    for (const [key, value] of Object.entries(args.config)) {
      configArgs[key] = args.secretKeys.has(key) ? { [SIG_KEY]: SECRET_SIG, value } : value;
      request.getVariablesMap().set(`${DYNAMIC_PACKAGE}:config:${key}`, value);
    }
    request
      .setArgs(toStruct(configArgs, "config"))
      .setAcceptsecrets(true)
      .setAcceptresources(true)
      .setSendsOldInputs(true)
      .setSendsOldInputsToDelete(true)
      .setUrn(providerUrn)
      .setName("default")
      .setType(`pulumi:providers:${DYNAMIC_PACKAGE}`)
      .setId(randomUUID());
    const response = await this.rpc<provpb.ConfigureResponse>("Configure", providerUrn, (cb) =>
      this.client.configure(request, cb),
    );
    if (!handshaken) {
      this.protocol = {
        acceptSecrets: response.getAcceptsecrets(),
        acceptResources: response.getAcceptresources(),
        supportsPreview: response.getSupportspreview(),
        acceptOutputs: response.getAcceptoutputs(),
      };
    }
  }

  async check(
    urn: string,
    olds: Record<string, unknown>,
    news: Record<string, unknown>,
    opts: { preview?: boolean } = {},
  ): Promise<CheckResult> {
    const preview = opts.preview ?? false;
    const request = new provpb.CheckRequest()
      .setUrn(urn)
      .setName(urnName(urn))
      .setType(urnType(urn))
      .setOlds(this.marshal("Check", urn, olds, "olds", preview))
      .setNews(this.marshal("Check", urn, news, "news", preview))
      .setRandomseed(randomBytes(32));
    const response = await this.rpc<provpb.CheckResponse>("Check", urn, (cb) => this.client.check(request, cb));
    return {
      inputs: this.unmarshal("Check", urn, response.getInputs(), preview) ?? {},
      failures: response.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
    };
  }

  async diff(
    id: string,
    urn: string,
    olds: Record<string, unknown>,
    news: Record<string, unknown>,
    opts: { preview?: boolean; oldInputs?: Record<string, unknown>; ignoreChanges?: string[] } = {},
  ): Promise<DiffResult> {
    const preview = opts.preview ?? false;
    const request = new provpb.DiffRequest()
      .setId(id)
      .setUrn(urn)
      .setName(urnName(urn))
      .setType(urnType(urn))
      .setOlds(this.marshal("Diff", urn, olds, "olds", preview))
      .setNews(this.marshal("Diff", urn, news, "news", preview))
      .setOldInputs(this.marshal("Diff", urn, opts.oldInputs ?? olds, "oldInputs", preview))
      .setIgnorechangesList(opts.ignoreChanges ?? []);
    const response = await this.rpc<provpb.DiffResponse>("Diff", urn, (cb) => this.client.diff(request, cb));
    let detailedDiff: Record<string, PropertyDiff> | undefined;
    if (response.getHasdetaileddiff()) {
      detailedDiff = {};
      for (const [key, value] of response.getDetaileddiffMap().entries()) {
        detailedDiff[key] = { kind: DIFF_KINDS[value.getKind()] ?? "update", inputDiff: value.getInputdiff() };
      }
    }
    return {
      changes: DIFF_CHANGES[response.getChanges()],
      replaces: response.getReplacesList(),
      deleteBeforeReplace: response.getDeletebeforereplace(),
      diffs: response.getDiffsList(),
      detailedDiff,
    };
  }

  async create(
    urn: string,
    props: Record<string, unknown>,
    opts: { timeoutSec?: number; preview?: boolean } = {},
  ): Promise<CreateResult> {
    const preview = opts.preview ?? false;
    if (preview && !this.protocol.supportsPreview) {
      return { id: "", properties: toPlainObject(props, "props") };
    }
    const request = new provpb.CreateRequest()
      .setUrn(urn)
      .setName(urnName(urn))
      .setType(urnType(urn))
      .setProperties(this.marshal("Create", urn, props, "props", preview))
      .setTimeout(opts.timeoutSec ?? 0)
      .setPreview(preview);
    const response = await this.rpc<provpb.CreateResponse>("Create", urn, (cb) => this.client.create(request, cb));
    const id = response.getId();
    if (id === "" && !preview) {
      throw new Error(`plugin for package '${DYNAMIC_PACKAGE}' returned empty resource.ID from create '${urn}'`);
    }
    return { id, properties: this.unmarshal("Create", urn, response.getProperties(), preview) ?? {} };
  }

  async read(
    id: string,
    urn: string,
    props: Record<string, unknown>,
    inputs?: Record<string, unknown>,
  ): Promise<ReadResult> {
    const request = new provpb.ReadRequest()
      .setId(id)
      .setUrn(urn)
      .setName(urnName(urn))
      .setType(urnType(urn))
      .setProperties(this.marshal("Read", urn, props, "props", false));
    if (inputs !== undefined) {
      request.setInputs(this.marshal("Read", urn, inputs, "inputs", false));
    }
    const response = await this.rpc<provpb.ReadResponse>("Read", urn, (cb) => this.client.read(request, cb));
    return {
      id: response.getId(),
      properties: this.unmarshal("Read", urn, response.getProperties(), false) ?? {},
      inputs: this.unmarshal("Read", urn, response.getInputs(), false),
    };
  }

  async update(
    id: string,
    urn: string,
    olds: Record<string, unknown>,
    news: Record<string, unknown>,
    opts: {
      preview?: boolean;
      timeoutSec?: number;
      oldInputs?: Record<string, unknown>;
      ignoreChanges?: string[];
    } = {},
  ): Promise<UpdateResult> {
    const preview = opts.preview ?? false;
    if (preview && !this.protocol.supportsPreview) {
      return { properties: toPlainObject(news, "news") };
    }
    const request = new provpb.UpdateRequest()
      .setId(id)
      .setUrn(urn)
      .setName(urnName(urn))
      .setType(urnType(urn))
      .setOlds(this.marshal("Update", urn, olds, "olds", false))
      .setNews(this.marshal("Update", urn, news, "news", preview))
      .setOldInputs(this.marshal("Update", urn, opts.oldInputs ?? olds, "oldInputs", false))
      .setTimeout(opts.timeoutSec ?? 0)
      .setIgnorechangesList(opts.ignoreChanges ?? [])
      .setPreview(preview);
    const response = await this.rpc<provpb.UpdateResponse>("Update", urn, (cb) => this.client.update(request, cb));
    return { properties: this.unmarshal("Update", urn, response.getProperties(), preview) ?? {} };
  }

  async delete(
    id: string,
    urn: string,
    props: Record<string, unknown>,
    opts: { timeoutSec?: number; oldInputs?: Record<string, unknown> } = {},
  ): Promise<void> {
    const request = new provpb.DeleteRequest()
      .setId(id)
      .setUrn(urn)
      .setName(urnName(urn))
      .setType(urnType(urn))
      .setProperties(this.marshal("Delete", urn, props, "props", false))
      .setOldInputs(this.marshal("Delete", urn, opts.oldInputs ?? props, "oldInputs", false))
      .setTimeout(opts.timeoutSec ?? 0);
    await this.rpc<unknown>("Delete", urn, (cb) => this.client.delete(request, cb));
  }

  output(): string {
    return this.tail.text();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.ref(); // keep this process alive until the host is gone, or `await close()` never returns
    child.kill("SIGTERM");
    const escalate = setTimeout(() => child.kill("SIGKILL"), 5_000);
    escalate.unref();
    await exited;
    clearTimeout(escalate);
  }

  /** Plain values → Struct; unknowns outside preview are a test bug (the engine never sends them). */
  private marshal(method: string, urn: string, value: Record<string, unknown>, what: string, preview: boolean) {
    const plain = toPlainObject(value, `${method}(${urn}) ${what}`);
    const unknownAt = preview ? undefined : findUnknown(plain);
    if (unknownAt !== undefined) {
      throw new Error(
        `${method}(${urn}): ${what}.${unknownAt} is unknown, but the engine sends unknowns only during ` +
          "preview; pass {preview: true}",
      );
    }
    return structpb().Struct.fromJavaScript(plain);
  }

  /** Struct → plain values, rejecting unknowns outside preview with the engine's message. */
  private unmarshal(method: string, urn: string, struct: Struct | undefined, preview: boolean) {
    const plain = fromStruct(struct);
    const unknownAt = preview ? undefined : findUnknown(plain);
    if (unknownAt !== undefined) {
      const key = unknownAt.split(/[.[]/)[0];
      throw new Error(`${method}(${urn}): unexpected unknown property value for "${key}"`);
    }
    return plain;
  }

  private rpc<Res>(method: string, urn: string, start: (cb: Callback<Res>) => void): Promise<Res> {
    if (this.closed) {
      return Promise.reject(new Error(`${method}(${urn}): the provider host is closed`));
    }
    return new Promise<Res>((resolve, reject) => {
      start((error, response) => {
        if (error) {
          reject(toHostError(method, urn, error, this.tail));
        } else {
          resolve(response);
        }
      });
    });
  }
}

/** Turns a gRPC error into a {@link ProviderHostError}, unpacking ErrorResourceInitFailed if present. */
function toHostError(method: string, urn: string, error: grpc.ServiceError, tail: OutputTail): ProviderHostError {
  let partial: { id: string; properties: PlainObject; reasons: string[] } | undefined;
  // The host packs partial failures into a google.rpc.Status in the `grpc-status-details-bin` trailer.
  for (const raw of error.metadata?.get("grpc-status-details-bin") ?? []) {
    const status = statuspb.Status.deserializeBinary(typeof raw === "string" ? Buffer.from(raw, "base64") : raw);
    for (const detail of status.getDetailsList()) {
      if (detail.getTypeName() === "pulumirpc.ErrorResourceInitFailed") {
        const failed = provpb.ErrorResourceInitFailed.deserializeBinary(detail.getValue_asU8());
        partial = {
          id: failed.getId(),
          properties: fromStruct(failed.getProperties()) ?? {},
          reasons: failed.getReasonsList(),
        };
      }
    }
  }
  const hostError = new ProviderHostError(method, urn, error, partial);
  if (error.code === grpc.status.UNAVAILABLE) {
    hostError.message += `\nprovider host output:\n${tail.text()}`;
  }
  return hostError;
}

/** Reads the port from the host's first stdout line; keeps everything else in `tail`. */
function readPort(child: ChildProcess, tail: OutputTail, timeoutMs: number): Promise<number> {
  const stdout = child.stdout as Readable;
  const stderr = child.stderr as Readable;
  stdout.setEncoding("utf8");
  stderr.setEncoding("utf8");
  stderr.on("data", (chunk: string) => tail.append(chunk));
  return new Promise<number>((resolve, reject) => {
    let firstLine = "";
    let port: number | undefined;
    const fail = (reason: string) => {
      clearTimeout(timer);
      reject(new Error(`dynamic-provider host ${reason}\nhost output:\n${firstLine}${tail.text()}`));
    };
    const timer = setTimeout(() => fail(`printed no port within ${timeoutMs} ms`), timeoutMs);
    stdout.on("data", (chunk: string) => {
      if (port !== undefined) {
        tail.append(chunk);
        return;
      }
      firstLine += chunk;
      const newline = firstLine.indexOf("\n");
      if (newline < 0) return;
      const line = firstLine.slice(0, newline).trim();
      tail.append(firstLine.slice(newline + 1));
      if (!/^\d+$/.test(line)) {
        fail(`printed "${line}" instead of a port`);
        return;
      }
      port = Number(line);
      clearTimeout(timer);
      resolve(port);
    });
    child.on("error", (error) => fail(`failed: ${error.message}`));
    child.once("exit", (code, signal) => {
      if (port === undefined) fail(`exited (code ${code}, signal ${signal}) before printing its port`);
    });
  });
}

/** Keeps the last `limit` characters written to it. */
class OutputTail {
  private buffer = "";
  constructor(private readonly limit: number) {}
  append(chunk: string): void {
    this.buffer = (this.buffer + chunk).slice(-this.limit);
  }
  text(): string {
    return this.buffer;
  }
}

function unrefStream(stream: Readable | Writable | null): void {
  (stream as unknown as { unref?: () => void } | null)?.unref?.();
}

const liveHosts = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Belt and braces next to the watchdog: kill hosts still running when this process exits normally. */
function killOnExit(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const host of liveHosts) host.kill("SIGKILL");
    });
  }
  liveHosts.add(child);
  child.once("exit", () => liveHosts.delete(child));
}

function qualifyKey(key: string, project: string): string {
  return key.includes(":") ? key : `${project}:${key}`;
}

function qualifyConfig(config: Record<string, string>, project: string): Record<string, string> {
  return Object.fromEntries(Object.entries(config).map(([key, value]) => [qualifyKey(key, project), value]));
}

/** `urn:pulumi:<stack>::<project>::<qualified type>::<name>` → name. */
function urnName(urn: string): string {
  return urn.split("::").slice(3).join("::");
}

/** `urn:pulumi:<stack>::<project>::<qualified type>::<name>` → the last type of the qualified type. */
function urnType(urn: string): string {
  return (urn.split("::")[2] ?? "").split("$").pop() ?? "";
}

/** Awaits `p`, expecting it to fail with a {@link ProviderHostError}, and returns that error. */
export async function rejected(p: Promise<unknown>): Promise<ProviderHostError> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof ProviderHostError)) throw err;
    return err;
  }
  throw new Error("expected the call to fail");
}
