/** /1.0/projects: list, get with ETag, create, update (If-Match), rename, delete. */
import type { LxdClient } from "./client";
import type { Project, ProjectPut } from "./types";

const path = (name: string) => `/1.0/projects/${encodeURIComponent(name)}`;

/** Names of all projects. */
export async function listProjects(lxd: LxdClient): Promise<string[]> {
  return lxd.listNames("/1.0/projects");
}

/** GET a project with its ETag. @throws LxdError 404 when it does not exist. */
export async function getProject(lxd: LxdClient, name: string): Promise<{ value: Project; etag: string }> {
  const r = await lxd.get<Project>(path(name));
  return { value: r.metadata, etag: r.etag };
}

/** POST /1.0/projects. @throws LxdError 409 when the name is taken. */
export async function createProject(lxd: LxdClient, post: ProjectPut & { name: string }): Promise<void> {
  await lxd.request("POST", "/1.0/projects", { body: post });
}

/** PUT the whole project; with `etag`, 412 if it changed since it was read. */
export async function updateProject(lxd: LxdClient, name: string, put: ProjectPut, etag?: string): Promise<void> {
  await lxd.request("PUT", path(name), { body: put, etag });
}

/** POST /1.0/projects/{name} {name} (waits for the operation). */
export async function renameProject(lxd: LxdClient, name: string, newName: string): Promise<void> {
  await lxd.request("POST", path(name), { body: { name: newName } });
}

/** DELETE a project. LXD refuses while it holds instances, images, volumes or non-default profiles. */
export async function deleteProject(lxd: LxdClient, name: string): Promise<void> {
  await lxd.request("DELETE", path(name));
}
