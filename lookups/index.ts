export { getInstance, getInstanceOutput, type GetInstanceArgs, type GetInstanceResult } from "./instance";
export { getProfile, getProfileOutput, type GetProfileArgs, type GetProfileResult } from "./profile";
export { getProject, getProjectOutput, type GetProjectArgs, type GetProjectResult } from "./project";
export { getImage, getImageOutput, type GetImageArgs, type GetImageResult } from "./image";
export { getNetwork, getNetworkOutput, type GetNetworkArgs, type GetNetworkResult } from "./network";
export { getStoragePool, getStoragePoolOutput, type GetStoragePoolArgs, type GetStoragePoolResult } from "./storage-pool";
export { getServerInfo, getServerInfoOutput, type GetServerInfoArgs, type GetServerInfoResult } from "./server";
export type { LookupArgs, NamedLookupArgs, OutputArgs } from "./lookup";
