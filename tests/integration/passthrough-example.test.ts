/**
 * examples/passthrough-host with `attach: true`, as `pulumi up` would create it: the host's commands answer
 * with the QEMU guest's detection (the host half is tested for real in passthrough-guest.test.ts), and the
 * guest half — an Instance and a PciDevice — goes through the real provider host to the real LXD. This
 * machine has no VMs, so the guest is a stopped container that gets a GPU by PCI address (LXD accepts it on a
 * stopped container and checks the address at start).
 */
import * as pulumi from "@pulumi/pulumi";
import { guestDetection } from "../support/qemu/detection-fixture";
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { mockResourcesToHost } from "../support/provider-host-mocks";
import { randomName } from "../support/engine";
import { localClient, removeInstance, TEST_IMAGE } from "../support/lxd";
import { getInstance, type LxdClient } from "../../provider/lxd";

let host: ProviderHost;
let lxd: LxdClient;
beforeAll(async () => {
  host = await startProviderHost();
  lxd = localClient();
});
afterAll(async () => {
  await host?.close();
  await lxd?.close();
});

/** What the host's detect/apply/verify commands print (the guest test's detection, devices viable). */
function commandOutput(stdin: string): string {
  const kind = /passthrough (detect|apply|verify) script/.exec(stdin)?.[1];
  if (kind === "detect") return JSON.stringify(guestDetection({ devices: [guestDetection().devices[0]] }));
  if (kind === "apply") return JSON.stringify({ ok: true, changed: false, changes: [], rebootRequired: false, missingArgs: [] });
  return JSON.stringify({
    ok: true, kernelRelease: "6.1.0-50-amd64", cmdline: "intel_iommu=on iommu=pt", missingArgs: [], iommuActive: true, iommuGroupCount: 5,
    devices: [{ address: "0000:00:03.0", id: "8086:100e", driver: "vfio-pci", iommuGroup: 2, viable: true, reason: "" }],
    iommuGroups: [], missing: [], viable: true, rebootRequired: false,
  });
}

test("with attach, the example gives the guest a GPU by PCI address, marked as the PciDevice's own", async () => {
  const guestName = randomName();
  const address = "0000:7f:00.0"; // no such device here: accepted while stopped, checked by LXD at start
  pulumi.runtime.setAllConfig({
    "passthrough-host:pciAddresses": JSON.stringify([address]),
    "passthrough-host:attach": "true",
    "passthrough-host:guestType": "container",
    "passthrough-host:guestImage": TEST_IMAGE,
    "passthrough-host:guestName": guestName,
    "passthrough-host:guestRunning": "false",
  });
  const mocks = mockResourcesToHost(host, {
    newResource: (args) => ({ id: `${args.name}-id`, state: { ...args.inputs, stdout: commandOutput(String(args.inputs.stdin ?? "")), stderr: "" } }),
  });
  await pulumi.runtime.setMocks(mocks, "passthrough-host", "dev", false);
  try {
    let program: Record<string, pulumi.Output<unknown>> = {};
    jest.isolateModules(() => {
      program = require("../../examples/passthrough-host/index");
    });
    expect(await (program.viable as pulumi.Output<boolean> & { promise(): Promise<boolean> }).promise()).toBe(true);
    // Wait until both dynamic resources went through the host.
    const created = () => mocks.resources.filter((r) => r.viaHost && r.id).map((r) => r.type).sort();
    for (let i = 0; i < 600 && created().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(created()).toEqual(["pulumi-nodejs:dynamic/lxd:Instance", "pulumi-nodejs:dynamic/lxd:PciDevice"]);
    const inst = (await getInstance(lxd, guestName)).value;
    expect(inst.status).toBe("Stopped");
    expect(inst.devices.pt0).toEqual({ type: "gpu", gputype: "physical", pci: address });
    expect(inst.config["user.pulumi-lxd.device.pt0"]).toBeDefined();
    // The guest still carries the hardened defaults.
    expect(inst.config["security.idmap.isolated"]).toBe("true");
    // Destroy (reverse order: the device, then the instance) leaves nothing.
    await mocks.cleanup();
    await expect(getInstance(lxd, guestName)).rejects.toMatchObject({ status: 404 });
  } finally {
    await mocks.cleanup().catch(() => undefined);
    await removeInstance(lxd, guestName);
  }
});
