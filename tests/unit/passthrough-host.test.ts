/**
 * Wiring of PassthroughHost, checked with pulumi.runtime.setMocks: which commands, in which order, with which
 * scripts and triggers, and how their JSON becomes outputs. The scripts themselves run for real elsewhere
 * (passthrough-scripts.test.ts here, the QEMU guest in tests/integration).
 */
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { PassthroughHost, planOrRefuse, validateList, validatePlainArgs } from "../../components/passthrough-host";
import { planHost } from "../../components/passthrough/plan";
import { renderApplyScript, renderDetectScript, renderVerifyScript } from "../../components/passthrough/scripts";
import { guestDetection } from "../support/qemu/detection-fixture";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

const applyOut = { ok: true, changed: true, changes: ["wrote /etc/default/grub.d/pulumi-passthrough.cfg", "ran update-grub"], rebootRequired: true, missingArgs: ["intel_iommu=on", "iommu=pt"] };
const verifyOut = {
  ok: true,
  kernelRelease: "6.1.0-50-amd64",
  cmdline: "root=UUID=1 ro",
  missingArgs: ["intel_iommu=on", "iommu=pt"],
  iommuActive: true,
  iommuGroupCount: 5,
  devices: [{ address: "0000:00:03.0", id: "8086:100e", driver: "e1000", iommuGroup: 2, viable: false, reason: "bound to 'e1000', not vfio-pci" }],
  iommuGroups: [{ group: 2, devices: [{ address: "0000:00:03.0", id: "8086:100e", class: "0x020000", driver: "e1000", bridge: false }] }],
  missing: [],
  viable: false,
  rebootRequired: true,
};

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
}
let registered: Registered[] = [];
let detection = guestDetection();

beforeAll(() => {
  pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        const stdin: string = args.inputs.stdin ?? "";
        const kind = /passthrough (detect|apply|verify) script/.exec(stdin)?.[1];
        const stdout =
          kind === "detect" ? JSON.stringify(detection) : kind === "apply" ? JSON.stringify(applyOut) : kind === "verify" ? JSON.stringify(verifyOut) : "";
        return { id: `${args.name}-id`, state: { ...args.inputs, stdout, stderr: "" } };
      },
      call: (args) => args.inputs,
    },
    "passthrough-test",
    "unit",
    false,
  );
});
beforeEach(() => {
  registered = [];
  detection = guestDetection();
});

const commandsOf = (prefix: string) => registered.filter((r) => r.type.startsWith("command:") && r.name.startsWith(prefix));

describe("PassthroughHost wiring", () => {
  test("runs detect, then apply rendered from the detection, then verify, as local commands", async () => {
    const host = new PassthroughHost("gpu", { pciIds: ["8086:100E"], pciAddresses: ["00:04.0"], bindNow: true });
    expect(await value(host.rebootRequired)).toBe(true);
    expect(await value(host.changes)).toEqual(applyOut.changes);
    expect(await value(host.kernelArgs)).toEqual(["intel_iommu=on", "iommu=pt"]);
    expect(await value(host.viable)).toBe(false);
    expect(await value(host.iommuGroups)).toEqual(verifyOut.iommuGroups);
    expect(await value(host.devices)).toEqual(verifyOut.devices);
    expect((await value(host.detection)).bootLoader.kind).toBe("grub");

    const cmds = commandsOf("gpu-");
    expect(cmds.map((c) => [c.type, c.name])).toEqual([
      ["command:local:Command", "gpu-detect"],
      ["command:local:Command", "gpu-apply"],
      ["command:local:Command", "gpu-verify"],
    ]);
    const [detect, apply, verify] = cmds;
    const targets = { addresses: ["0000:00:04.0"], ids: ["8086:100e"] };
    for (const c of cmds) expect(c.inputs.create).toBe("bash -s");

    expect(detect.inputs.stdin).toBe(renderDetectScript(targets));
    expect(detect.inputs.triggers).toEqual([sha(detect.inputs.stdin), ""]);

    const plan = planHost(detection, {
      ...targets,
      extraKernelArgs: [],
      fileStem: "pulumi-passthrough",
      owner: "PassthroughHost gpu",
      lxdServerSettings: false,
      sysctlOverrides: {},
    });
    const expectedApply = renderApplyScript({ ...targets, kernelArgs: plan.kernelArgs, files: plan.files, bindNow: true });
    expect(apply.inputs.stdin).toBe(expectedApply);
    expect(apply.inputs.triggers).toEqual([sha(expectedApply)]);

    const expectedVerify = renderVerifyScript({ ...targets, kernelArgs: plan.kernelArgs });
    expect(verify.inputs.stdin).toBe(expectedVerify);
    expect(verify.inputs.triggers).toEqual([JSON.stringify(applyOut), sha(expectedVerify), ""]);
  });

  test("uses remote commands with the connection, sudo when asked, and the rerun token in detect and verify", async () => {
    const host = new PassthroughHost("r", {
      connection: { host: "192.0.2.10", user: "admin", privateKey: "KEY" },
      useSudo: true,
      pciIds: ["8086:100e"],
      rerunToken: "boot-2",
    });
    await value(host.rebootRequired);
    const cmds = commandsOf("r-");
    expect(cmds.map((c) => c.type)).toEqual(["command:remote:Command", "command:remote:Command", "command:remote:Command"]);
    for (const c of cmds) {
      expect(c.inputs.create).toBe("sudo -n bash -s");
      // The connection reaches the command as a secret (the mock sees the secret envelope).
      expect(c.inputs.connection).toEqual({
        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
        value: expect.objectContaining({ host: "192.0.2.10", user: "admin", privateKey: "KEY" }),
      });
    }
    expect(cmds[0].inputs.triggers[1]).toBe("boot-2");
    expect(cmds[2].inputs.triggers[2]).toBe("boot-2");
  });

  test("the apply trigger does not change when only the order of the devices changes", async () => {
    const c = new PassthroughHost("o2", { pciIds: ["8086:100e", "1234:11e8"] });
    await value(c.rebootRequired);
    const first = commandsOf("o2-apply")[0].inputs.triggers[0];
    registered = [];
    const d = new PassthroughHost("o2", { pciIds: ["1234:11E8", "8086:100e", "8086:100e"] });
    await value(d.rebootRequired);
    expect(commandsOf("o2-apply")[0].inputs.triggers[0]).toBe(first);
  });
});

describe("refusals", () => {
  const options = {
    addresses: [],
    ids: ["8086:100e"],
    extraKernelArgs: [],
    fileStem: "pulumi-passthrough",
    owner: "PassthroughHost t",
    lxdServerSettings: false,
    sysctlOverrides: {},
  };
  test("rejects a host booted by systemd-boot with a ResourceError naming the boot loader", () => {
    const d = guestDetection({ bootLoader: { kind: "systemd-boot", detail: "bootctl reports systemd-boot installed" } });
    expect(() => planOrRefuse(d, options)).toThrow(pulumi.ResourceError);
    expect(() => planOrRefuse(d, options)).toThrow(
      /^Refusing to prepare the host for PCI passthrough \(nothing was changed\): boot loader "systemd-boot" is not supported/,
    );
  });
  test("lists every refusal at once", () => {
    const d = guestDetection({ bootLoader: { kind: "uki", detail: "u" }, missing: ["id:10de:2204"] });
    expect(() => planOrRefuse(d, options)).toThrow(/"uki" is not supported .*; no PCI device matches id:10de:2204$/);
  });
  test("returns the plan when nothing is refused", () => {
    expect(planOrRefuse(guestDetection(), options).kernelArgs).toEqual(["intel_iommu=on", "iommu=pt"]);
  });
});

describe("input validation", () => {
  test("rejects a malformed PCI address with its property path", () => {
    expect(() => new PassthroughHost("bad", { pciAddresses: ["0000:01:00.0", "01:00.0;reboot"] })).toThrow(pulumi.InputPropertyError);
    try {
      validateList("pciAddresses", ["0000:01:00.0", "01:00.0;reboot"]);
    } catch (e) {
      expect(e).toMatchObject({ propertyPath: "pciAddresses[1]", reason: expect.stringContaining('"01:00.0;reboot" was provided') });
    }
  });
  test("rejects a malformed vendor:device id", () => {
    expect(() => validateList("pciIds", ["10de:22"])).toThrow(/four hex digits each/);
  });
  test("rejects amd_iommu=on, an unsafe file stem and an injected sysctl", () => {
    expect(() => validatePlainArgs({ extraKernelArgs: ["amd_iommu=on"] })).toThrow(pulumi.InputPropertyError);
    expect(() => validatePlainArgs({ fileStem: "../grub" })).toThrow(/fileStem must be/);
    expect(() => validatePlainArgs({ sysctlOverrides: { "vm.max_map_count": "1\nx=1" } })).toThrow(/sysctl overrides/);
  });
  test("fills in documented defaults", () => {
    expect(validatePlainArgs({})).toEqual({ extraKernelArgs: [], fileStem: "pulumi-passthrough", lxdServerSettings: false, sysctlOverrides: {} });
  });
});
