/**
 * Prepares a host for PCI passthrough to LXD virtual machines.
 *
 *   pulumi config set host 192.0.2.10
 *   pulumi config set --secret sshPrivateKey "$(cat ~/.ssh/id_ed25519)"
 *   pulumi config set --path 'pciIds[0]' 10de:2204
 *   pulumi up            # detect → apply → verify; prints rebootRequired
 *   (reboot the host yourself when rebootRequired is true)
 *   pulumi config set rerunToken "$(date +%s)" && pulumi up   # re-detect and re-verify after the reboot
 *
 * In your own program import from "pulumi-lxd-hardened" instead of the relative path.
 */
import * as pulumi from "@pulumi/pulumi";
import { PassthroughHost } from "../../components/passthrough-host";

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

// ---------------------------------------------------------------------------------------------------------------
// Container/VM half (to be added): an LXD virtual machine with a `pci` (or `gpu`, gputype=physical) device for
// the addresses above, created with `{ dependsOn: [passthrough.commands.verify] }` and only when
// `passthrough.viable` is true and `passthrough.rebootRequired` is false.
// ---------------------------------------------------------------------------------------------------------------

export const rebootRequired = passthrough.rebootRequired;
export const viable = passthrough.viable;
export const kernelArgs = passthrough.kernelArgs;
export const changes = passthrough.changes;
export const devices = passthrough.devices;
export const iommuGroups = passthrough.iommuGroups;
export const bootLoader = passthrough.detection.bootLoader;
export const secureBoot = passthrough.detection.secureBoot;
