/**
 * The one error type of the LXD client.
 *
 * `status` is the HTTP status LXD answered with (404, 409, 412, …) or the status code of a failed
 * background operation; `0` means the request never got an answer from LXD (socket missing, connection
 * refused, TLS or fingerprint failure, client-side timeout). `lxdMessage` is LXD's own error text,
 * verbatim. Nothing that could be a credential (client key, trust password or token) is ever part of
 * the message, the path or the cause.
 */
export class LxdError extends Error {
  override readonly name = "LxdError";
  /** HTTP status from LXD, the failed operation's status code, or 0 for a transport failure. */
  readonly status: number;
  /** LXD's error message as it sent it ("" for transport failures). */
  readonly lxdMessage: string;
  /** HTTP method of the request that failed. */
  readonly method: string;
  /** Request path with its query string, credentials never included. */
  readonly path: string;

  constructor(args: { status: number; lxdMessage: string; method: string; path: string; message?: string; cause?: unknown }) {
    super(args.message ?? describe(args), args.cause === undefined ? undefined : { cause: args.cause });
    this.status = args.status;
    this.lxdMessage = args.lxdMessage;
    this.method = args.method;
    this.path = args.path;
  }

  /** True when the request never reached LXD or got no answer (status 0). */
  get isTransport(): boolean {
    return this.status === 0;
  }
}

function describe(a: { status: number; lxdMessage: string; method: string; path: string; cause?: unknown }): string {
  if (a.status === 0) {
    const why = a.cause instanceof Error ? a.cause.message : String(a.cause ?? "no answer");
    return `LXD request ${a.method} ${a.path} failed before LXD answered: ${why}`;
  }
  return `LXD ${a.method} ${a.path} failed (${a.status}): ${a.lxdMessage}`;
}

/**
 * The server at the other end is not the kind the connection names (`server: "incus"` reaching LXD, or the
 * reverse), as GET /1.0 `environment.server` says. Raised before any other request is sent.
 */
export class ServerMismatchError extends Error {
  override readonly name = "ServerMismatchError";
  constructor(readonly expected: string, readonly actual: string, readonly endpoint: string) {
    super(
      `connection.server is "${expected}", but the server at ${endpoint} is ${actual === "incus" ? "Incus" : actual === "lxd" ? "LXD" : `"${actual}"`} ` +
        `(GET /1.0 environment.server = "${actual}"): point the connection at ${expected === "incus" ? "Incus" : "LXD"}'s socket or URL, or name server "${actual}"`,
    );
  }
}

/** True for "the object does not exist" (HTTP 404). */
export function isNotFound(err: unknown): err is LxdError {
  return err instanceof LxdError && err.status === 404;
}

/**
 * True for "the name is taken": HTTP 409 Conflict, or the server's "already exists" text with another status.
 * LXD 5.0.2 answers a duplicate profile with 500 ("The profile already exists") and fails a duplicate
 * instance's creation operation with 400 ('This "instances" entry already exists'); only projects get 409.
 * Incus 6.0 answers a duplicate project with 500 and its database's words ('Failed to create "projects" entry:
 * UNIQUE constraint failed: projects.name'), and fails a duplicate instance's operation with 500.
 */
export function isConflict(err: unknown): err is LxdError {
  // On a cluster, the per-member create (`?target=`) of a pool or network that exists already answers 500
  // `Storage pool is not in pending state` / `Network is not in pending state` (LXD 5.0.2).
  return err instanceof LxdError && (err.status === 409 || (err.status >= 400 && /\balready exists\b|\bUNIQUE constraint failed\b|\bis not in pending state\b/i.test(err.lxdMessage)));
}

/**
 * True for "not allowed": HTTP 403 Forbidden, or the server's "does not have permissions" text with 500.
 * A restricted certificate asking for a project it was not given gets 403 from LXD 5.0.2 and 500 from Incus 6.0
 * ('User does not have permissions for project "default"'); both answer 403 to a restricted certificate's
 * PATCH /1.0 ("Certificate is restricted").
 */
export function isForbidden(err: unknown): err is LxdError {
  return err instanceof LxdError && (err.status === 403 || (err.status >= 400 && /\bdoes not have permissions? for\b/i.test(err.lxdMessage)));
}

/** True for a stale ETag on an `If-Match` write (HTTP 412 Precondition Failed). */
export function isPreconditionFailed(err: unknown): err is LxdError {
  return err instanceof LxdError && err.status === 412;
}

/** True when the request never got an answer from LXD (status 0). */
export function isTransportError(err: unknown): err is LxdError {
  return err instanceof LxdError && err.status === 0;
}

/**
 * Re-throws `err` with a message in the project's form
 * `Failed to <verb> <kind> "<name>" in project "<project>": <LXD's message>`, keeping status and cause.
 */
export function wrapLxdError(err: unknown, verb: string, kind: string, name: string, project?: string): Error {
  const where = project === undefined ? "" : ` in project "${project}"`;
  if (err instanceof LxdError) {
    const detail = err.isTransport ? err.message : err.lxdMessage;
    return new LxdError({
      status: err.status, lxdMessage: err.lxdMessage, method: err.method, path: err.path,
      message: `Failed to ${verb} ${kind} "${name}"${where}: ${detail}`, cause: err,
    });
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new Error(`Failed to ${verb} ${kind} "${name}"${where}: ${detail}`, { cause: err });
}
