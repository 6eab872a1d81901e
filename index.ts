/**
 * pulumi-lxd-hardened: LXD instances, profiles, projects, images and PCI/GPU devices as Pulumi dynamic
 * resources with hardened defaults, hardened components, and a host component for PCI passthrough.
 */
export { Instance, type InstanceArgs, type InstanceOutputs, type InstanceTimeouts } from "./provider/instance";
export { Profile, type ProfileArgs, type ProfileOutputs } from "./provider/profile";
export { Project, type ProjectArgs, type ProjectOutputs } from "./provider/project";
export {
  PciDevice, type PciDeviceArgs, type PciDeviceInputs, type PciDeviceOutputs, type PciDeviceKind, type GpuType, type InstanceTypeHint,
} from "./provider/pci-device";
export { Image, type ImageArgs, type ImageOutputs } from "./provider/image";
export {
  WEAKENING_CLASSES, DEFAULT_LIMITS, idmapSizeFor, hardenedConfig, assess, judgeRawLxc,
  type WeakeningClass, type Nesting, type Finding, type SecurityReport,
} from "./provider/security";
export type { LxdConnection } from "./provider/lxd";
export type { ConnectionArgs } from "./provider/connection";
export * from "./components";
export * as lxdClient from "./provider/lxd";
