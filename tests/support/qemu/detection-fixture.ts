/**
 * A detection document shaped like the QEMU test guest's (q35 + intel-iommu, TCG CPU reporting AuthenticAMD,
 * Debian 12 kernel 6.1): e1000 at 00:03.0 and edu at 00:04.0 in their own groups. Unit tests derive variants.
 */
import type { DetectionResult, DetectedDevice } from "../../../components/passthrough/detection";

export function guestDevice(over: Partial<DetectedDevice> = {}): DetectedDevice {
  const address = over.address ?? "0000:00:03.0";
  return {
    address,
    claim: "id",
    id: "8086:100e",
    class: "0x020000",
    driver: "e1000",
    hostModules: ["e1000"],
    iommuGroup: 2,
    bootVga: false,
    bridge: false,
    storageInUse: [],
    group: [{ address, id: over.id ?? "8086:100e", class: over.class ?? "0x020000", driver: over.driver ?? "e1000", bridge: false }],
    ...over,
  };
}

export function guestDetection(over: Partial<DetectionResult> = {}): DetectionResult {
  return {
    ok: true,
    schema: 1,
    kernelRelease: "6.1.0-50-amd64",
    os: { id: "debian", idLike: "", versionId: "12" },
    cpuVendor: "AuthenticAMD",
    iommuPlatform: "intel",
    bootLoader: { kind: "grub", detail: "GRUB with update-grub and /etc/default/grub.d" },
    cmdline: "BOOT_IMAGE=/boot/vmlinuz-6.1.0-50-amd64 root=UUID=6c0a3d6e ro console=ttyS0,115200n8 quiet",
    iommuActive: true,
    iommuGroupCount: 5,
    secureBoot: "not-efi",
    modules: { vfio: "module", vfio_iommu_type1: "module", vfio_pci: "module", vfio_virqfd: "module" },
    devices: [
      guestDevice(),
      guestDevice({
        address: "0000:00:04.0",
        claim: "address",
        id: "1234:11e8",
        class: "0x00ff00",
        driver: "",
        hostModules: [],
        iommuGroup: 3,
      }),
    ],
    missing: [],
    refusals: [],
    ...over,
  };
}
