/**
 * Error helpers for kinds: LXD's error with the kind's words added stays LXD's error, so the kit still
 * prefixes it (`Failed to <verb> <kind> "<name>" …`) and still sees its status (404 = gone).
 */
import { LxdError } from "../lxd";

/** LXD's own message of an error (a transport failure's description; any other error's message), without our prefix. */
export function lxdSays(err: unknown): string {
  if (err instanceof LxdError) return err.isTransport ? err.message : err.lxdMessage || err.message;
  return err instanceof Error ? err.message : String(err);
}

/** `err` with `suffix` added to LXD's message (an LxdError stays one, with its status); other errors likewise. */
export function amend(err: unknown, suffix: string): Error {
  if (err instanceof LxdError) {
    return new LxdError({
      status: err.status, method: err.method, path: err.path, cause: err,
      lxdMessage: err.isTransport ? "" : `${err.lxdMessage || err.message}${suffix}`,
      message: err.isTransport ? `${err.message}${suffix}` : undefined,
    });
  }
  return new Error(`${err instanceof Error ? err.message : String(err)}${suffix}`, { cause: err });
}
