/**
 * examples/passthrough-host run as a program under pulumi.runtime.setMocks: the config it reads, the commands it
 * creates and the stack outputs it exports. The scripts answer with the QEMU guest's detection.
 */
import * as pulumi from "@pulumi/pulumi";
import { guestDetection } from "../support/qemu/detection-fixture";

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
const registered: { type: string; name: string; inputs: any }[] = [];

test("the example prepares the configured host over SSH and exports the verify results", async () => {
  pulumi.runtime.setAllConfig(
    {
      "passthrough-host:host": "192.0.2.10",
      "passthrough-host:sshPrivateKey": "KEY",
      "passthrough-host:pciIds": JSON.stringify(["8086:100e"]),
      "passthrough-host:lxdServerSettings": "true",
    },
    ["passthrough-host:sshPrivateKey"],
  );
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push(args);
        const kind = /passthrough (detect|apply|verify) script/.exec(args.inputs.stdin ?? "")?.[1];
        const stdout =
          kind === "detect"
            ? JSON.stringify(guestDetection({ devices: [guestDetection().devices[0]] }))
            : kind === "apply"
              ? JSON.stringify({ ok: true, changed: false, changes: [], rebootRequired: false, missingArgs: [] })
              : JSON.stringify({
                  ok: true, kernelRelease: "6.1.0-50-amd64", cmdline: "intel_iommu=on iommu=pt", missingArgs: [], iommuActive: true,
                  iommuGroupCount: 5, devices: [{ address: "0000:00:03.0", id: "8086:100e", driver: "vfio-pci", iommuGroup: 2, viable: true, reason: "" }],
                  iommuGroups: [], missing: [], viable: true, rebootRequired: false,
                });
        return { id: `${args.name}-id`, state: { ...args.inputs, stdout, stderr: "" } };
      },
      call: (args) => args.inputs,
    },
    "passthrough-host",
    "dev",
    false,
  );
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require("../../examples/passthrough-host/index");
  expect(await value(program.rebootRequired)).toBe(false);
  expect(await value(program.viable)).toBe(true);
  expect(await value(program.kernelArgs)).toEqual(["intel_iommu=on", "iommu=pt"]);
  expect(await value(program.bootLoader)).toEqual({ kind: "grub", detail: expect.any(String) });

  const cmds = registered.filter((r) => r.type === "command:remote:Command");
  expect(cmds.map((c) => c.name)).toEqual(["gpu-host-detect", "gpu-host-apply", "gpu-host-verify"]);
  expect(cmds[0].inputs.connection.value).toMatchObject({ host: "192.0.2.10", user: "root", privateKey: "KEY", port: 22 });
  expect(cmds[1].inputs.stdin).toContain("/etc/sysctl.d/60-pulumi-passthrough.conf");
  expect(cmds[1].inputs.stdin).toContain("options vfio-pci ids=8086:100e");
});
