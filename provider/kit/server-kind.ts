/**
 * The server kind (LXD or Incus) as a kind's check needs it: to write the server's spelling of a key (the guest
 * API key, provider/rules/server-keys.ts) and to refuse, at preview, a connection that names the wrong server.
 */
import { ServerMismatchError, type ServerKind } from "../lxd";
import type { Scope } from "./contract";

/** What {@link serverKindAtCheck} found: the kind, or the failure of a connection naming another kind. */
export interface ServerKindAtCheck {
  /** Undefined when the connection is not known yet (preview) or the server cannot be reached now. */
  kind?: ServerKind;
  /** Set when the connection names `server: "lxd" | "incus"` and the other kind answers. */
  failure?: { property: string; reason: string };
}

/**
 * Asks the resource's server which kind it is (GET /1.0, cached per client). A server that cannot be reached at
 * check is left to create/update, which fail with the transport error; a wrong named kind fails the check.
 */
export async function serverKindAtCheck(open: () => Scope, connectionUnknown = false): Promise<ServerKindAtCheck> {
  if (connectionUnknown) return {};
  try {
    return { kind: await open().lxd.serverKind() };
  } catch (err) {
    if (err instanceof ServerMismatchError) return { failure: { property: "connection.server", reason: err.message } };
    return {};
  }
}
