/**
 * Prepares a host for PCI passthrough to LXD virtual machines.
 *
 *   pulumi config set host 192.0.2.10
 *   pulumi config set --secret sshPrivateKey "$(cat ~/.ssh/id_ed25519)"
 *   pulumi config set --path 'pciIds[0]' 10de:2204
 *   pulumi up            # detect → apply → verify; prints rebootRequired
 *   (reboot the host yourself when rebootRequired is true)
 *   pulumi config set rerunToken "$(date +%s)" && pulumi up   # re-detect and re-verify after the reboot
 *   pulumi config set attach true && pulumi up   # once viable: an LXD guest gets the devices at pciAddresses
 *
 * In your own program import from "pulumi-lxd-hardened" instead of the relative path.
 */
import * as pulumi from "@pulumi/pulumi";
import { Instance, PassthroughHost, PciDevice } from "../../index";

const config = new pulumi.Config();
const host = config.get("host") ?? "";
const privateKey = config.getSecret("sshPrivateKey");

const passthrough = new PassthroughHost("gpu-host", {
  connection: host
    ? { host, user: config.get("user") ?? "root", privateKey, port: config.getNumber("port") ?? 22 }
    : undefined,
  useSudo: config.getBoolean("useSudo") ?? false,
  pciIds: config.getObject<string[]>("pciIds") ?? [],
  pciAddresses: config.getObject<string[]>("pciAddresses") ?? [],
  lxdServerSettings: config.getBoolean("lxdServerSettings") ?? false,
  rerunToken: config.get("rerunToken"),
});

// The guest half. Set `attach` once the outputs say the host is ready (viable, no reboot pending): a resource
// cannot be created conditionally on another's outputs, so the switch is yours. A virtual machine gets each
// device as a `pci` device (VFIO); a container gets a GPU by address (`gpu`, gputype physical).
// `lxdConnection` names the LXD on that host (default: stack config lxd:* / the local socket).
if (config.getBoolean("attach")) {
  const guestType = (config.get("guestType") ?? "virtual-machine") as "virtual-machine" | "container";
  const guest = new Instance("gpu-guest", {
    name: config.get("guestName") ?? "gpu-guest",
    image: config.require("guestImage"),
    type: guestType,
    running: config.getBoolean("guestRunning") ?? true,
    connection: config.getObject("lxdConnection"),
  }, { dependsOn: [passthrough] });
  (config.getObject<string[]>("pciAddresses") ?? []).forEach((address, i) => {
    new PciDevice(`gpu-guest-dev${i}`, {
      instance: guest.name,
      deviceName: `pt${i}`,
      instanceType: guestType,
      ...(guestType === "virtual-machine" ? { kind: "pci" as const, pci: address } : { kind: "gpu" as const, gputype: "physical" as const, pci: address }),
      restartIfRunning: true,
      connection: config.getObject("lxdConnection"),
    }, { dependsOn: [guest] });
  });
}

export const rebootRequired = passthrough.rebootRequired;
export const viable = passthrough.viable;
export const kernelArgs = passthrough.kernelArgs;
export const changes = passthrough.changes;
export const devices = passthrough.devices;
export const iommuGroups = passthrough.iommuGroups;
export const bootLoader = passthrough.detection.bootLoader;
export const secureBoot = passthrough.detection.secureBoot;
