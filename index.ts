/**
 * pulumi-lxd-hardened: LXD instances, profiles, projects, images and PCI/GPU devices as Pulumi dynamic
 * resources with hardened defaults, hardened components, a host component for PCI passthrough, and look-ups of existing
 * LXD objects.
 */
export { Instance, type InstanceArgs, type InstanceOutputs, type InstanceTimeouts } from "./resources/instance";
export { Profile, type ProfileArgs, type ProfileOutputs } from "./resources/profile";
export { Project, type ProjectArgs, type ProjectOutputs } from "./resources/project";
export {
  PciDevice, type PciDeviceArgs, type PciDeviceInputs, type PciDeviceOutputs, type PciDeviceKind, type GpuType, type InstanceTypeHint,
} from "./resources/pci-device";
export { Image, type ImageArgs, type ImageOutputs, type ImageAliasSpec, type ImageSource } from "./resources/image";
export {
  Network, type NetworkArgs, type NetworkOutputs, type NetworkType, NETWORK_KEYS, NETWORK_MEMBER_KEYS, NETWORK_AUTO_KEYS, NETWORK_TYPES,
} from "./resources/network";
export { NetworkAcl, type NetworkAclArgs, type NetworkAclOutputs, type AclRuleArgs, type AclRule } from "./resources/network-acl";
export {
  WEAKENING_CLASSES, DEFAULT_LIMITS, idmapSizeFor, hardenedConfig, assess, judgeRawLxc,
  type WeakeningClass, type Nesting, type Finding, type SecurityReport,
} from "./provider/policy";
export type { LxdConnection } from "./provider/lxd";
export type { ConnectionArgs } from "./provider/rules/connection";
export * from "./components";
/** Look-ups: read existing LXD objects in a program (they load the REST client and talk to LXD from the program). */
export * from "./lookups";
export * as lxdClient from "./provider/lxd";
