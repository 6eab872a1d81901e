/**
 * Wire types, named and shaped as LXD's REST API names them (canonical/lxd `shared/api`). Only the fields
 * this package reads or writes are typed; LXD may send more.
 */

/** `config` maps: LXD stores every value as a string. */
export type ConfigMap = Record<string, string>;
/** `devices` maps: device name → its properties (all strings, `type` among them). */
export type DeviceMap = Record<string, Record<string, string>>;

/** GET /1.0 */
export interface Server {
  api_extensions: string[];
  api_status: string;
  api_version: string;
  auth: "trusted" | "untrusted";
  auth_methods?: string[];
  config?: ConfigMap;
  environment?: {
    /** `lxd` or `incus` (absent on very old LXD: read as `lxd`). */
    server?: string;
    server_version?: string;
    server_clustered?: boolean;
    server_name?: string;
    certificate?: string;
    certificate_fingerprint?: string;
    kernel_version?: string;
    driver?: string;
    lxc_features?: Record<string, string>;
    project?: string;
    storage?: string;
    idmap?: string[];
  };
}

/** Body of POST /1.0/instances with an image source. */
export interface InstancesPost {
  name: string;
  type?: "container" | "virtual-machine";
  description?: string;
  config?: ConfigMap;
  devices?: DeviceMap;
  profiles?: string[];
  ephemeral?: boolean;
  source: InstanceSource;
}

/** `source` of an instance created from an image (local, or pulled from a remote server). */
export interface InstanceSource {
  type: "image" | "none";
  alias?: string;
  fingerprint?: string;
  /** Remote image server URL (simplestreams or LXD). */
  server?: string;
  protocol?: "simplestreams" | "lxd";
  /** Project of the image on the source server (API extension `container_copy_project`). */
  project?: string;
  certificate?: string;
}

/** Writable part of an instance (PUT /1.0/instances/{name}). */
export interface InstancePut {
  architecture?: string;
  config: ConfigMap;
  devices: DeviceMap;
  ephemeral: boolean;
  profiles: string[];
  description: string;
  stateful?: boolean;
}

/** GET /1.0/instances/{name} */
export interface Instance extends InstancePut {
  name: string;
  type: "container" | "virtual-machine";
  status: string;
  status_code: number;
  project?: string;
  location?: string;
  created_at?: string;
  last_used_at?: string;
  expanded_config: ConfigMap;
  expanded_devices: DeviceMap;
}

/** PUT /1.0/instances/{name}/state */
export interface InstanceStatePut {
  action: "start" | "stop" | "restart" | "freeze" | "unfreeze";
  /** Seconds LXD waits for a clean stop before giving up (or forcing, with `force`). -1 = no limit. */
  timeout?: number;
  force?: boolean;
  stateful?: boolean;
}

/** GET /1.0/instances/{name}/state (subset) */
export interface InstanceState {
  status: string;
  status_code: number;
  pid?: number;
  processes?: number;
  /** Network interfaces inside the instance, by name: their addresses (`family` inet|inet6, `scope` global|link|local). */
  network?: Record<string, { addresses?: { family: string; address: string; netmask?: string; scope: string }[]; host_name?: string; state?: string }>;
}

/** Writable part of a profile. */
export interface ProfilePut {
  config: ConfigMap;
  description: string;
  devices: DeviceMap;
}
/** GET /1.0/profiles/{name} */
export interface Profile extends ProfilePut {
  name: string;
  used_by?: string[];
  project?: string;
}

/** Writable part of a project. */
export interface ProjectPut {
  config: ConfigMap;
  description: string;
}
/** GET /1.0/projects/{name} */
export interface Project extends ProjectPut {
  name: string;
  used_by?: string[];
}

/** GET /1.0/images/{fingerprint} (subset) */
export interface Image {
  fingerprint: string;
  filename?: string;
  size?: number;
  architecture?: string;
  public: boolean;
  auto_update: boolean;
  type?: string;
  properties: ConfigMap;
  aliases: { name: string; description: string }[];
  cached?: boolean;
  created_at?: string;
  uploaded_at?: string;
}

/** GET /1.0/images/aliases/{name} */
export interface ImageAlias {
  name: string;
  target: string;
  description: string;
  type?: string;
}

/** Body of POST /1.0/images to copy an image from another server. */
export interface ImagesPostRemote {
  source: {
    type: "image";
    mode: "pull";
    server: string;
    protocol: "simplestreams" | "lxd";
    alias?: string;
    fingerprint?: string;
    certificate?: string;
    image_type?: "container" | "virtual-machine";
  };
  public?: boolean;
  auto_update?: boolean;
  aliases?: { name: string; description?: string }[];
}

/** A background operation (GET /1.0/operations/{id}). */
export interface Operation {
  id: string;
  class: "task" | "websocket" | "token";
  description: string;
  status: string;
  status_code: number;
  resources?: Record<string, string[]>;
  metadata?: Record<string, unknown> | null;
  may_cancel: boolean;
  err: string;
  created_at?: string;
  updated_at?: string;
  location?: string;
}

/** GET /1.0/certificates/{fingerprint} (subset) */
export interface Certificate {
  fingerprint: string;
  name: string;
  type: string;
  restricted: boolean;
  projects?: string[];
  certificate: string;
}

/** PUT /1.0/cluster/members/{name}: the whole writable member. */
export interface ClusterMemberPut {
  config: ConfigMap;
  description: string;
  failure_domain: string;
  groups: string[];
  roles: string[];
}

/** GET /1.0/cluster/members/{name} (subset) */
export interface ClusterMember extends ClusterMemberPut {
  server_name: string;
  url: string;
  database: boolean;
  /** `Online`, `Offline`, `Evacuated`, … */
  status: string;
  message: string;
  architecture?: string;
}

/** PUT /1.0/cluster/groups/{name} */
export interface ClusterGroupPut {
  description: string;
  /** Member names; a PUT replaces the whole list. */
  members: string[];
}

/** GET /1.0/cluster/groups/{name} */
export interface ClusterGroup extends ClusterGroupPut {
  name: string;
}
