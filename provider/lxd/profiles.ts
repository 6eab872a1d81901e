/** /1.0/profiles: list, get with ETag, create, update (If-Match), rename, delete. */
import type { LxdClient, RequestOptions } from "./client";
import type { Profile, ProfilePut } from "./types";

type Scope = Pick<RequestOptions, "project">;
const path = (name: string) => `/1.0/profiles/${encodeURIComponent(name)}`;

/** Names of the profiles visible in a project. */
export async function listProfiles(lxd: LxdClient, scope: Scope = {}): Promise<string[]> {
  return lxd.listNames("/1.0/profiles", scope);
}

/** GET a profile with its ETag. @throws LxdError 404 when it does not exist. */
export async function getProfile(lxd: LxdClient, name: string, scope: Scope = {}): Promise<{ value: Profile; etag: string }> {
  const r = await lxd.get<Profile>(path(name), scope);
  return { value: r.metadata, etag: r.etag };
}

/** POST /1.0/profiles. @throws LxdError 409 when the name is taken. */
export async function createProfile(lxd: LxdClient, post: ProfilePut & { name: string }, scope: Scope = {}): Promise<void> {
  await lxd.request("POST", "/1.0/profiles", { ...scope, body: post });
}

/** PUT the whole profile; with `etag`, 412 if it changed since it was read. */
export async function updateProfile(lxd: LxdClient, name: string, put: ProfilePut, etag?: string, scope: Scope = {}): Promise<void> {
  await lxd.request("PUT", path(name), { ...scope, body: put, etag });
}

/** POST /1.0/profiles/{name} {name}. */
export async function renameProfile(lxd: LxdClient, name: string, newName: string, scope: Scope = {}): Promise<void> {
  await lxd.request("POST", path(name), { ...scope, body: { name: newName } });
}

/** DELETE a profile. LXD refuses while instances use it, and always for `default`. */
export async function deleteProfile(lxd: LxdClient, name: string, scope: Scope = {}): Promise<void> {
  await lxd.request("DELETE", path(name), scope);
}
