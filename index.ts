/**
 * pulumi-lxd-hardened: LXD (and Incus) instances, profiles, projects, images, storage, networks, trust, server
 * settings, files, commands and PCI/GPU devices as Pulumi dynamic resources with hardened defaults, hardened components, a host component for PCI passthrough, and look-ups of existing
 * LXD objects.
 */
export { Instance, type InstanceArgs, type InstanceOutputs, type InstanceTimeouts, type WaitCondition } from "./resources/instance";
export { Profile, type ProfileArgs, type ProfileOutputs } from "./resources/profile";
export { Project, type ProjectArgs, type ProjectOutputs } from "./resources/project";
export {
  PciDevice, type PciDeviceArgs, type PciDeviceInputs, type PciDeviceOutputs, type PciDeviceKind, type GpuType, type InstanceTypeHint,
} from "./resources/pci-device";
export { StorageVolume, type StorageVolumeArgs, type StorageVolumeOutputs, type VolumeSource } from "./resources/storage-volume";
export { VolumeSnapshot, type VolumeSnapshotArgs, type VolumeSnapshotOutputs } from "./resources/volume-snapshot";
export { InstanceDevice, type InstanceDeviceArgs, type InstanceDeviceOutputs } from "./resources/instance-device";
export { InstanceSnapshot, type InstanceSnapshotArgs, type InstanceSnapshotOutputs } from "./resources/instance-snapshot";
export { StoragePool, type StoragePoolArgs, type StoragePoolOutputs, type PoolDriver } from "./resources/storage-pool";
export { ClusterGroup, type ClusterGroupArgs, type ClusterGroupOutputs } from "./resources/cluster-group";
export { ClusterMember, type ClusterMemberArgs, type ClusterMemberOutputs } from "./resources/cluster-member";
export { Image, type ImageArgs, type ImageOutputs, type ImageAliasSpec, type ImageSource } from "./resources/image";
export { ServerSettings, type ServerSettingsArgs, type ServerSettingsOutputs } from "./resources/server-settings";
export { TrustCertificate, type TrustCertificateArgs, type TrustCertificateOutputs } from "./resources/trust-certificate";
export { TrustToken, type TrustTokenArgs, type TrustTokenOutputs } from "./resources/trust-token";
export { InstanceFile, type InstanceFileArgs, type InstanceFileOutputs, type ParentDirectories } from "./resources/instance-file";
export { InstanceExec, type InstanceExecArgs, type InstanceExecOutputs, type ExecWhen } from "./resources/instance-exec";
export {
  Network, type NetworkArgs, type NetworkOutputs, type NetworkType, NETWORK_KEYS, NETWORK_MEMBER_KEYS, NETWORK_AUTO_KEYS, NETWORK_TYPES,
} from "./resources/network";
export { NetworkAcl, type NetworkAclArgs, type NetworkAclOutputs, type AclRuleArgs, type AclRule } from "./resources/network-acl";
export {
  WEAKENING_CLASSES, SERVER_OPT_OUTS, TRUST_OPT_OUTS, DEFAULT_LIMITS, idmapSizeFor, hardenedConfig, assess, judgeRawLxc,
  type WeakeningClass, type ServerOptOut, type TrustOptOut, type Nesting, type Finding, type SecurityReport,
} from "./provider/policy";
export type { LxdConnection } from "./provider/lxd";
export type { ConnectionArgs } from "./provider/rules/connection";
export * from "./components";
/** Look-ups: read existing LXD objects in a program (they load the REST client and talk to LXD from the program). */
export * from "./lookups";
export * as lxdClient from "./provider/lxd";
