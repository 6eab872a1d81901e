/**
 * The LXD REST client core: one request path, one envelope decoder (`sync` / `async` / `error`),
 * operation waiting with the caller's timeout, ETags, `project` / `target` parameters and server facts.
 * Collections (instances, profiles, projects, images, certificates) are functions over this client in
 * their own files. No Pulumi imports here.
 */
import type { Dispatcher } from "undici";
import { LxdError, ServerMismatchError } from "./errors";
import { openTransport, transportError, type LxdConnection, type ServerKind, type Transport } from "./transport";
import type { Operation, Server } from "./types";

/** LXD's response envelope. */
interface Envelope {
  type: "sync" | "async" | "error";
  status?: string;
  status_code?: number;
  operation?: string;
  error_code?: number;
  error?: string;
  metadata?: unknown;
}

/** Options of one request. */
export interface RequestOptions {
  /** LXD project (`?project=`); omitted or "" means `default`. */
  project?: string;
  /** Cluster member (`?target=`). */
  target?: string;
  /** Extra query parameters. */
  query?: Record<string, string>;
  /** JSON body (serialised here) or raw bytes (sent as `application/octet-stream`). */
  body?: unknown;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** ETag for `If-Match`: the write fails with 412 if the object changed since it was read. */
  etag?: string;
  /**
   * For a response that starts a background operation: how long to wait for it, in seconds.
   * Default {@link DEFAULT_OPERATION_TIMEOUT_SEC}; `-1` waits without limit. Nothing else caps it.
   */
  timeoutSec?: number;
  /** Return the operation without waiting for it. */
  noWait?: boolean;
}

/** What a request returns once its operation (if any) finished. */
export interface LxdResponse<T> {
  /** `metadata` of a sync response, or of the finished operation's `metadata`. */
  metadata: T;
  /** The response's ETag header (sync responses), "" if none. */
  etag: string;
  /** The operation, for async responses. */
  operation?: Operation;
}

/** Default wait for a background operation: 10 minutes. Callers pass their own; there is no hidden cap. */
export const DEFAULT_OPERATION_TIMEOUT_SEC = 600;
/** Longest single `/wait` call; longer waits are made of several, so no proxy or idle timer cuts them. */
const WAIT_SLICE_SEC = 30;

/** A raw binary upload body (image tarballs). */
export class RawBody {
  constructor(readonly data: Buffer | NodeJS.ReadableStream, readonly length?: number) {}
}

export class LxdClient {
  private readonly transport: Transport;
  private serverCache?: Promise<Server>;
  /** Number of HTTP requests made (for benchmarks and tests). */
  requestCount = 0;

  constructor(readonly connection: LxdConnection = {}) {
    this.transport = openTransport(connection);
  }

  /** Where this client talks to: `unix:/path` or `https://host:port` (no credentials). */
  get endpoint(): string {
    return this.transport.endpoint;
  }

  /** Closes the connection pool. */
  async close(): Promise<void> {
    await this.transport.dispatcher.close();
  }

  /** GET /1.0: API extensions, version, clustering, auth state. Cached; `refresh` forces a new read. */
  server(refresh = false): Promise<Server> {
    // The pending request is cached too, so that calls made together share one GET; a failure is not kept.
    if (!this.serverCache || refresh) {
      const pending = this.request<Server>("GET", "/1.0").then((r) => r.metadata);
      this.serverCache = pending;
      pending.catch(() => {
        if (this.serverCache === pending) this.serverCache = undefined;
      });
    }
    return this.serverCache;
  }

  /**
   * Which daemon answers, from GET /1.0 `environment.server` (never from the socket path or URL): `"lxd"` or
   * `"incus"`; a server that does not say is LXD. Cached with {@link server}.
   * @throws ServerMismatchError when the connection names another server kind.
   */
  async serverKind(): Promise<ServerKind> {
    await this.verifyServerKind();
    const said = (await this.server()).environment?.server ?? "lxd";
    return said === "incus" ? "incus" : "lxd";
  }

  /**
   * When the connection names a server kind: checks it once against GET /1.0 `environment.server`.
   * @throws ServerMismatchError when another kind answers.
   */
  private verified?: Promise<void>;
  private verifyServerKind(): Promise<void> {
    const expected = this.connection.server;
    if (!expected) return Promise.resolve();
    if (!this.verified) {
      const pending = this.server().then((s) => {
        const actual = s.environment?.server ?? "lxd";
        if (actual !== expected) throw new ServerMismatchError(expected, actual, this.endpoint);
      });
      this.verified = pending;
      pending.catch((err) => {
        // A transport failure is retried on the next call; a mismatch stays.
        if (!(err instanceof ServerMismatchError) && this.verified === pending) this.verified = undefined;
      });
    }
    return this.verified;
  }

  /**
   * The name of one of the server's own request headers: LXD spells them `X-LXD-<name>`, Incus `X-Incus-<name>`
   * (image import `public`, file push `uid`/`gid`/`mode`/`type`/`write`, …); a header of the other spelling is
   * ignored silently. Asks GET /1.0 once (cached).
   */
  async serverHeader(name: string): Promise<string> {
    return `x-${await this.serverKind()}-${name}`;
  }

  /** True when the server lists API extension `name`. */
  async hasExtension(name: string): Promise<boolean> {
    return (await this.server()).api_extensions.includes(name);
  }

  /** GET a collection (`/1.0/instances`, …) and return the names at the end of its member URLs. */
  async listNames(path: string, opts: RequestOptions = {}): Promise<string[]> {
    const urls = (await this.get<string[]>(path, opts)).metadata ?? [];
    return urls.map((u) => decodeURIComponent(u.slice(u.lastIndexOf("/") + 1).split("?")[0]));
  }

  /** GET a path and return its metadata and ETag. */
  get<T>(path: string, opts: RequestOptions = {}): Promise<LxdResponse<T>> {
    return this.request<T>("GET", path, opts);
  }

  /**
   * Sends one request and decodes the envelope. An `async` response is waited on (unless `noWait`)
   * and a failed operation is thrown as an LxdError carrying the operation's error.
   * @throws LxdError — status 0 for transport failures, LXD's status otherwise.
   */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<LxdResponse<T>> {
    if (this.connection.server && !(method === "GET" && path === "/1.0")) await this.verifyServerKind();
    const fullPath = withQuery(path, opts);
    const headers: Record<string, string> = { ...opts.headers };
    let body: Dispatcher.DispatchOptions["body"];
    if (opts.body instanceof RawBody) {
      headers["content-type"] ??= "application/octet-stream";
      if (opts.body.length !== undefined) headers["content-length"] = String(opts.body.length);
      body = opts.body.data as Dispatcher.DispatchOptions["body"];
    } else if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    if (opts.etag) headers["if-match"] = opts.etag;

    let status: number;
    let etag = "";
    let text: string;
    this.requestCount++;
    try {
      const res = await this.transport.dispatcher.request({
        origin: this.transport.origin, path: fullPath, method: method as Dispatcher.HttpMethod, headers, body,
      });
      status = res.statusCode;
      const tag = res.headers["etag"];
      etag = (Array.isArray(tag) ? tag[0] : tag) ?? "";
      text = await res.body.text();
    } catch (err) {
      throw transportError(method, fullPath, this.transport.endpoint, err);
    }

    let env: Envelope;
    try {
      env = JSON.parse(text) as Envelope;
    } catch {
      throw new LxdError({ status, lxdMessage: text.slice(0, 500), method, path: fullPath });
    }
    // The body's `type` decides, not only the HTTP status: Incus answers a wait on a failed operation with
    // HTTP 200 and `{"type": "error", "error_code": 500, "error": "…"}` (LXD: a sync operation with status Failure).
    if (env.type === "error" || status >= 400) {
      throw new LxdError({ status: env.error_code || (status >= 400 ? status : 500), lxdMessage: env.error ?? text.slice(0, 500), method, path: fullPath });
    }
    if (env.type === "async") {
      const op = env.metadata as Operation;
      if (opts.noWait) return { metadata: op as T, etag, operation: op };
      const done = await this.waitOperation(op.id, { timeoutSec: opts.timeoutSec, project: opts.project });
      return { metadata: (done.metadata ?? {}) as T, etag, operation: done };
    }
    return { metadata: env.metadata as T, etag };
  }

  /**
   * Sends one request whose answer is raw bytes, not an envelope (file downloads, exec output logs), and returns
   * them with the response headers (lower-case names). The request body, when given, is sent as
   * `application/octet-stream` (LXD's file API reads a form body otherwise: nothing would be written).
   * @throws LxdError with LXD's status and message when LXD answers with an error envelope (or status >= 400);
   *   status 0 for transport failures.
   */
  async raw(method: string, path: string, opts: Omit<RequestOptions, "body" | "timeoutSec" | "noWait"> & { body?: Buffer } = {}): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const fullPath = withQuery(path, opts);
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) {
      headers["content-type"] = "application/octet-stream";
      headers["content-length"] = String(opts.body.length);
    }
    if (opts.etag) headers["if-match"] = opts.etag;
    this.requestCount++;
    let status: number;
    let got: Record<string, string>;
    let body: Buffer;
    try {
      const res = await this.transport.dispatcher.request({
        origin: this.transport.origin, path: fullPath, method: method as Dispatcher.HttpMethod, headers, body: opts.body,
      });
      status = res.statusCode;
      got = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(", ") : String(v ?? "")]));
      body = Buffer.from(await res.body.arrayBuffer());
    } catch (err) {
      throw transportError(method, fullPath, this.transport.endpoint, err);
    }
    if (status >= 400 || /^application\/json/.test(got["content-type"] ?? "")) {
      let env: Envelope | undefined;
      try {
        env = JSON.parse(body.toString("utf8")) as Envelope;
      } catch {
        env = undefined;
      }
      if (status >= 400 || env?.type === "error") {
        throw new LxdError({ status: env?.error_code || status, lxdMessage: env?.error ?? body.toString("utf8").slice(0, 500), method, path: fullPath });
      }
    }
    return { status, headers: got, body };
  }

  /**
   * Waits for operation `id` through `/1.0/operations/{id}/wait`, in slices, until it finishes or
   * `timeoutSec` (default {@link DEFAULT_OPERATION_TIMEOUT_SEC}; -1 = no limit) has passed.
   * @throws LxdError with the operation's status code and error if it failed, or status 0 with a message
   *   naming the operation and the time waited if it did not finish in time.
   */
  async waitOperation(id: string, opts: { timeoutSec?: number; project?: string } = {}): Promise<Operation> {
    const limit = opts.timeoutSec ?? DEFAULT_OPERATION_TIMEOUT_SEC;
    const started = Date.now();
    const path = `/1.0/operations/${encodeURIComponent(id)}/wait`;
    for (;;) {
      const elapsed = (Date.now() - started) / 1000;
      const remaining = limit < 0 ? WAIT_SLICE_SEC : Math.max(0, limit - elapsed);
      const slice = Math.max(1, Math.min(WAIT_SLICE_SEC, Math.ceil(remaining)));
      let op: Operation;
      try {
        op = (await this.request<Operation>("GET", path, { query: { timeout: String(slice) }, project: opts.project })).metadata;
      } catch (err) {
        if (!(err instanceof LxdError) || err.isTransport) throw err;
        // LXD answers a wait that ran out with an error; it is not the operation failing. Any other error
        // envelope from /wait is the operation's own failure (Incus: HTTP 200, `type: "error"`).
        if (err.status === 404) throw err;
        if (!/deadline|timeout/i.test(err.lxdMessage)) {
          throw new LxdError({ status: err.status, lxdMessage: err.lxdMessage, method: "GET", path, message: `LXD operation ${id} failed: ${err.lxdMessage}`, cause: err });
        }
        op = (await this.request<Operation>("GET", `/1.0/operations/${encodeURIComponent(id)}`, { project: opts.project })).metadata;
      }
      if (op.status_code >= 400 || op.status === "Failure" || op.status === "Cancelled") {
        throw new LxdError({ status: op.status_code, lxdMessage: op.err || op.status, method: "GET", path, message: `LXD operation "${op.description}" (${op.id}) failed: ${op.err || op.status}` });
      }
      if (op.status_code === 200 || op.status === "Success") return op;
      const waited = (Date.now() - started) / 1000;
      if (limit >= 0 && waited >= limit) {
        throw new LxdError({
          status: 0, lxdMessage: "", method: "GET", path,
          message: `Timed out after ${waited.toFixed(0)} s waiting for LXD operation "${op.description}" (${op.id}); it is still ${op.status.toLowerCase()}. Raise the timeout to wait longer.`,
        });
      }
    }
  }
}

/** `/path?project=…&target=…&…`; an empty project or `default` is sent as `default`. */
function withQuery(path: string, opts: RequestOptions): string {
  const q = new URLSearchParams(opts.query);
  if (opts.project !== undefined) q.set("project", opts.project || "default");
  if (opts.target) q.set("target", opts.target);
  const s = q.toString();
  return s ? `${path}${path.includes("?") ? "&" : "?"}${s}` : path;
}
