export { HardenedContainer, validateHardenedContainerArgs, type ContainerLimits, type HardenedContainerArgs } from "./hardened-container";
export { validateVolumes, type ContainerVolume, type TenantVolume } from "./volumes";
export { DEFAULT_TENANT_LIMITS, TenantProject, tenantRestrictions, validateTenantProjectArgs, type TenantLimits, type TenantProjectArgs } from "./tenant-project";
export { PassthroughHost, planOrRefuse, validateList, validatePlainArgs, type PassthroughConnection, type PassthroughHostArgs, type StepCommand } from "./passthrough-host";
export * as passthrough from "./passthrough";
