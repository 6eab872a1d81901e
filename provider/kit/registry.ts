/**
 * The compiled registry of kinds: the short, stable string a resource's serialized shim names (so `__provider`
 * stays small and the same across versions) → the kind's host-side module, loaded only when that kind runs.
 * A resource class can only name a key of this object ({@link KindName}): an unregistered kind fails to compile.
 */
export const KINDS = {
  instance: () => (require("../kinds/instance") as typeof import("../kinds/instance")).instanceKind,
  profile: () => (require("../kinds/profile") as typeof import("../kinds/profile")).profileKind,
  project: () => (require("../kinds/project") as typeof import("../kinds/project")).projectKind,
  image: () => (require("../kinds/image") as typeof import("../kinds/image")).imageKind,
  "instance-snapshot": () => (require("../kinds/instance-snapshot") as typeof import("../kinds/instance-snapshot")).instanceSnapshotKind,
  "pci-device": () => (require("../kinds/pci-device") as typeof import("../kinds/pci-device")).pciDeviceKind,
  network: () => (require("../kinds/network") as typeof import("../kinds/network")).networkKind,
  "network-acl": () => (require("../kinds/network-acl") as typeof import("../kinds/network-acl")).networkAclKind,
  "storage-volume": () => (require("../kinds/storage-volume") as typeof import("../kinds/storage-volume")).storageVolumeKind,
  "volume-snapshot": () => (require("../kinds/volume-snapshot") as typeof import("../kinds/volume-snapshot")).volumeSnapshotKind,
  "instance-device": () => (require("../kinds/instance-device") as typeof import("../kinds/instance-device")).instanceDeviceKind,
  "server-settings": () => (require("../kinds/server-settings") as typeof import("../kinds/server-settings")).serverSettingsKind,
  "trust-certificate": () => (require("../kinds/trust-certificate") as typeof import("../kinds/trust-certificate")).trustCertificateKind,
  "trust-token": () => (require("../kinds/trust-token") as typeof import("../kinds/trust-token")).trustTokenKind,
  "instance-file": () => (require("../kinds/instance-file") as typeof import("../kinds/instance-file")).instanceFileKind,
  "instance-exec": () => (require("../kinds/instance-exec") as typeof import("../kinds/instance-exec")).instanceExecKind,
  "storage-pool": () => (require("../kinds/storage-pool") as typeof import("../kinds/storage-pool")).storagePoolKind,
  "cluster-group": () => (require("../kinds/cluster-group") as typeof import("../kinds/cluster-group")).clusterGroupKind,
  "cluster-member": () => (require("../kinds/cluster-member") as typeof import("../kinds/cluster-member")).clusterMemberKind,
} as const;

/** The name of a registered kind. */
export type KindName = keyof typeof KINDS;
