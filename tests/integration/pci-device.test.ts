/**
 * The PciDevice resource against the real LXD, through Pulumi's dynamic-provider host: attach/detach on
 * running and stopped containers, co-existence with an Instance resource on the same container, LXD's
 * start-time and hot-plug errors, and what is refused at check. This host has no GPU, no VFIO and no VMs:
 * `gpu` devices point at PCI address 0000:7f:00.0, which does not exist here.
 */
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { CheckFailed, MiniEngine, randomName } from "../support/engine";
import { execIn, localClient, removeInstance, TEST_IMAGE } from "../support/lxd";
import { getInstance, updateInstance, type LxdClient } from "../../provider/lxd";

const MARKER = "user.pulumi-lxd.device.";
const MISSING_GPU = "7f:00.0"; // normalised to 0000:7f:00.0; no such PCI device on this host

let host: ProviderHost;
let lxd: LxdClient;
const made: string[] = [];

beforeAll(async () => {
  host = await startProviderHost();
  lxd = localClient();
});
afterAll(async () => {
  for (const m of made) await removeInstance(lxd, m);
  await host?.close();
  await lxd?.close();
});

/** An Instance engine for a fresh container (removed in afterAll whatever happens). */
function instanceEngine(): { name: string; inst: MiniEngine } {
  const name = randomName("pd");
  made.push(name);
  return { name, inst: new MiniEngine(host, "instance", name, "Instance") };
}
const deviceEngine = (name: string) => new MiniEngine(host, "pci-device", name, "PciDevice");
const live = async (name: string) => (await getInstance(lxd, name)).value;

test("unix-char on a running container: attach with marker, update in place, Instance update keeps it, detach removes only it", async () => {
  const { name, inst } = instanceEngine();
  const dev = deviceEngine(`${name}-full`);
  try {
    const instArgs = { name, image: TEST_IMAGE, config: { "user.note": "a" } };
    await inst.up(instArgs);
    const args = { instance: name, deviceName: "xfull", kind: "unix-char", source: "/dev/full", path: "/dev/xfull", mode: "660" };
    const s = await dev.up(args);
    expect(dev.lastAction).toBe("create");
    expect(s.id).toBe(`default/${name}/xfull`);
    expect(s.outputs.resolvedInstanceType).toBe("container");
    expect(s.outputs.securityNote).toMatch(/host character device \/dev\/full .*\/dev\/xfull/);
    let cur = await live(name);
    expect(cur.devices.xfull).toEqual({ type: "unix-char", source: "/dev/full", path: "/dev/xfull", mode: "0660" });
    expect(cur.config[`${MARKER}xfull`]).toBe("PciDevice");
    // Hot-plugged: the node is there inside the running container, char 1,7 as on the host.
    expect(execIn(name, "ls -l /dev/xfull")).toMatch(/^crw-rw----\s+1\s+root\s+root\s+1,\s+7 /);

    await dev.refresh();
    expect((await dev.diff(args)).changes).toBe("none");

    // Property change: in place.
    const args2 = { ...args, mode: "0600" };
    await dev.up(args2);
    expect(dev.lastAction).toBe("update");
    expect((await live(name)).devices.xfull.mode).toBe("0600");

    // Co-existence: an Instance update on the same container leaves the device and its marker alone…
    await inst.up({ ...instArgs, config: { "user.note": "b" } });
    expect(inst.lastAction).toBe("update");
    cur = await live(name);
    expect(cur.config["user.note"]).toBe("b");
    expect(cur.devices.xfull).toBeDefined();
    expect(cur.config[`${MARKER}xfull`]).toBe("PciDevice");
    // …and neither side sees drift.
    await inst.refresh();
    expect((await inst.diff({ ...instArgs, config: { "user.note": "b" } })).changes).toBe("none");
    expect((inst.state!.outputs.devices as Record<string, unknown>).xfull).toBeUndefined();
    await dev.refresh();
    expect((await dev.diff(args2)).changes).toBe("none");

    // Detach: only this device and its marker go.
    await dev.destroy();
    cur = await live(name);
    expect(cur.devices.xfull).toBeUndefined();
    expect(cur.config[`${MARKER}xfull`]).toBeUndefined();
    expect(cur.config["user.note"]).toBe("b");
    expect(cur.status).toBe("Running");
    expect(execIn(name, "test -e /dev/xfull && echo present || echo absent").trim()).toBe("absent");
  } finally {
    await dev.destroy().catch(() => undefined);
    await inst.destroy().catch(() => undefined);
  }
});

test("gpu on a stopped container: attached with marker; starting it gives LXD's error clearly; detach lets it start", async () => {
  const { name, inst } = instanceEngine();
  const dev = deviceEngine(`${name}-gpu`);
  try {
    const stopped = { name, image: TEST_IMAGE, running: false };
    await inst.up(stopped);
    const s = await dev.up({ instance: name, deviceName: "gpu0", kind: "gpu", pci: MISSING_GPU, uid: 1000, gid: 1000, instanceType: "container" });
    expect(s.outputs.device).toEqual({ type: "gpu", gputype: "physical", pci: "0000:7f:00.0", uid: "1000", gid: "1000" });
    expect(s.outputs.securityNote).toMatch(/host GPU \(PCI 0000:7f:00\.0\).*\/dev\/dri/);
    let cur = await live(name);
    expect(cur.devices.gpu0).toEqual({ type: "gpu", gputype: "physical", pci: "0000:7f:00.0", uid: "1000", gid: "1000" });
    expect(cur.config[`${MARKER}gpu0`]).toBe("PciDevice");

    // The Instance resource starting the container: LXD validates the gpu now and refuses.
    let message = "";
    await inst.up({ ...stopped, running: true }).catch((e: Error) => { message = e.message; });
    expect(message).toMatch(/failed: Failed to start instance ".*" in project "default": Failed to start device "gpu0": Invalid PCI address \(no device found\): 0000:7f:00\.0/);
    console.log(`LXD's error when starting with a gpu at a missing PCI address: ${message}`);
    cur = await live(name);
    expect(cur.status).toBe("Stopped");
    expect(cur.devices.gpu0).toBeDefined(); // the Instance resource did not remove what is not its own

    await dev.destroy();
    cur = await live(name);
    expect(cur.devices.gpu0).toBeUndefined();
    expect(cur.config[`${MARKER}gpu0`]).toBeUndefined();
    await inst.up({ ...stopped, running: true });
    expect((await live(name)).status).toBe("Running");
  } finally {
    await dev.destroy().catch(() => undefined);
    await inst.destroy().catch(() => undefined);
  }
});

test("fails when a gpu is hot-plugged into a running container at a missing PCI address: LXD's error, nothing left", async () => {
  const { name, inst } = instanceEngine();
  const dev = deviceEngine(`${name}-gpu`);
  try {
    await inst.up({ name, image: TEST_IMAGE });
    await expect(dev.up({ instance: name, deviceName: "gpu0", kind: "gpu", pci: MISSING_GPU }))
      .rejects.toThrow(/failed: Failed to attach device "gpu0" to instance ".*" in project "default": Failed to start device "gpu0": Invalid PCI address \(no device found\): 0000:7f:00\.0/);
    expect(dev.state).toBeUndefined();
    const cur = await live(name);
    expect(cur.devices.gpu0).toBeUndefined();
    expect(cur.config[`${MARKER}gpu0`]).toBeUndefined();
    expect(cur.status).toBe("Running");
  } finally {
    await dev.destroy().catch(() => undefined);
    await inst.destroy().catch(() => undefined);
  }
});

test("fails when restartIfRunning restarts with a missing GPU: LXD's start error, device rolled back, instance running again", async () => {
  const { name, inst } = instanceEngine();
  const dev = deviceEngine(`${name}-gpu`);
  try {
    await inst.up({ name, image: TEST_IMAGE });
    let message = "";
    await dev.up({ instance: name, deviceName: "gpu0", kind: "gpu", pci: MISSING_GPU, restartIfRunning: true, stopGraceSec: 0 })
      .catch((e: Error) => { message = e.message; });
    expect(message).toMatch(/failed: Failed to start instance ".*" in project "default": Failed to start device "gpu0": Invalid PCI address \(no device found\): 0000:7f:00\.0/);
    expect(message).toMatch(/device was removed again and the instance restarted without it/);
    expect(dev.state).toBeUndefined();
    const cur = await live(name);
    expect(cur.devices.gpu0).toBeUndefined();
    expect(cur.config[`${MARKER}gpu0`]).toBeUndefined();
    expect(cur.status).toBe("Running");

    // With a device that exists, restartIfRunning restarts and the device is there afterwards.
    const ok = { instance: name, deviceName: "xnull", kind: "unix-char", source: "/dev/null", path: "/dev/xnull", restartIfRunning: true, stopGraceSec: 0 };
    await dev.up(ok);
    expect((await live(name)).status).toBe("Running");
    expect(execIn(name, "ls -l /dev/xnull")).toMatch(/^crw/);
    await dev.destroy();
    expect((await live(name)).devices.xnull).toBeUndefined();
    expect((await live(name)).status).toBe("Running");
  } finally {
    await dev.destroy().catch(() => undefined);
    await inst.destroy().catch(() => undefined);
  }
});

test("fails when the device name is taken by a device that is not ours; deviceName change replaces; read blanks when gone", async () => {
  const { name, inst } = instanceEngine();
  const dev = deviceEngine(`${name}-d`);
  try {
    await inst.up({ name, image: TEST_IMAGE, running: false, devices: { taken: { type: "unix-char", source: "/dev/zero", path: "/dev/taken" } }, securityOptOuts: ["devices"] });
    await expect(dev.up({ instance: name, deviceName: "taken", kind: "unix-char", source: "/dev/null" }))
      .rejects.toThrow(/already has a device named "taken", managed by the instance itself or another tool/);
    expect((await live(name)).devices.taken).toEqual({ type: "unix-char", source: "/dev/zero", path: "/dev/taken" });

    await dev.up({ instance: name, deviceName: "a", kind: "unix-char", source: "/dev/null" });
    const other = deviceEngine(`${name}-other`);
    await expect(other.up({ instance: name, deviceName: "a", kind: "unix-char", source: "/dev/zero" }))
      .rejects.toThrow(/already has a device named "a", managed by another PciDevice resource/);

    expect((await dev.diff({ instance: name, deviceName: "b", kind: "unix-char", source: "/dev/null" })).replaces).toEqual(["deviceName"]);
    await dev.up({ instance: name, deviceName: "b", kind: "unix-char", source: "/dev/null" });
    expect(dev.lastAction).toBe("replace");
    let cur = await live(name);
    expect(cur.devices.a).toBeUndefined();
    expect(cur.config[`${MARKER}a`]).toBeUndefined();
    expect(cur.devices.b).toEqual({ type: "unix-char", source: "/dev/null" });
    expect(cur.devices.taken).toBeDefined();

    // Removed behind our back: refresh drops it from state.
    const { value, etag } = await getInstance(lxd, name);
    const devices = { ...value.devices };
    delete devices.b;
    await updateInstance(lxd, name, { config: value.config, devices, profiles: value.profiles, ephemeral: value.ephemeral, description: value.description }, etag);
    expect(await dev.refresh()).toBeUndefined();

    // Instance gone: delete is done, read is blank.
    await dev.up({ instance: name, deviceName: "c", kind: "unix-char", source: "/dev/null" });
    await inst.destroy();
    const saved = dev.state;
    await dev.destroy();
    dev.state = saved;
    expect(await dev.refresh()).toBeUndefined();
  } finally {
    await dev.destroy().catch(() => undefined);
    await inst.destroy().catch(() => undefined);
  }
});

test("fails at create when the real instance type contradicts the hint or the kind", async () => {
  const { name, inst } = instanceEngine();
  const dev = deviceEngine(`${name}-d`);
  try {
    await inst.up({ name, image: TEST_IMAGE, running: false });
    await expect(dev.up({ instance: name, deviceName: "d", kind: "pci", pci: "0000:00:01.0" }))
      .rejects.toThrow(/Failed to attach device .* to instance ".*" in project "default": kind "pci" is for virtual machines only/);
    await expect(dev.up({ instance: name, deviceName: "d", kind: "gpu", gputype: "sriov", pci: "01:00.0" }))
      .rejects.toThrow(/gputype "sriov" is for virtual machines only/);
    await expect(dev.up({ instance: name, deviceName: "d", kind: "gpu", pci: "01:00.0", instanceType: "virtual-machine" }))
      .rejects.toThrow(/instanceType "virtual-machine" was given, but LXD reports the instance as a container/);
    await expect(dev.up({ instance: `${name}-nope`, deviceName: "d", kind: "gpu", pci: "01:00.0" }))
      .rejects.toThrow(/Failed to attach device .* to instance ".*-nope" in project "default": .*not found/i);
    const cur = await live(name);
    expect(Object.keys(cur.devices)).toEqual([]);
    expect(Object.keys(cur.config).filter((k) => k.startsWith(MARKER))).toEqual([]);
  } finally {
    await dev.destroy().catch(() => undefined);
    await inst.destroy().catch(() => undefined);
  }
});

describe("check", () => {
  const base = { instance: "c1", deviceName: "d" };
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ["kind pci on a container", { kind: "pci", pci: "01:00.0", instanceType: "container" }, "kind", /kind "pci" is for virtual machines only.*instance type "container"/],
    ["gputype mdev on a container", { kind: "gpu", gputype: "mdev", mdev: "i915-GVTg_V5_4", pci: "00:02.0", instanceType: "container" }, "gputype", /gputype "mdev" is for virtual machines only/],
    ["gputype sriov on a container", { kind: "gpu", gputype: "sriov", pci: "01:00.0", instanceType: "container" }, "gputype", /gputype "sriov" is for virtual machines only/],
    ["gputype mig on a virtual machine", { kind: "gpu", gputype: "mig", migUuid: "MIG-0b4e3c4a-0e1f-4a47-9a3e-0123456789ab", pci: "01:00.0", instanceType: "virtual-machine" }, "gputype", /gputype "mig" is for containers only/],
    ["unix-char on a virtual machine", { kind: "unix-char", source: "/dev/null", instanceType: "virtual-machine" }, "kind", /kind "unix-char" is for containers only/],
    ["uid on a virtual-machine gpu", { kind: "gpu", pci: "01:00.0", uid: 1000, instanceType: "virtual-machine" }, "uid", /container gpu devices only/],
    ["a malformed PCI address", { kind: "gpu", pci: "0000:01:00.9" }, "pci", /pci must be a PCI address "BB:DD.F" or "DDDD:BB:DD.F" in hex .*, but "0000:01:00.9" was provided/],
    ["a PCI address with a config line in it", { kind: "pci", pci: "01:00.0\nraw.lxc=lxc.apparmor.profile=unconfined" }, "pci", /pci must be a PCI address/],
    ["a PCI device number above 1f", { kind: "gpu", pci: "01:20.0" }, "pci", /pci must be a PCI address/],
    ["a malformed vendor id", { kind: "gpu", vendorId: "10de:2204" }, "vendorId", /vendorId must be four hex digits .*, but "10de:2204" was provided/],
    ["a malformed product id", { kind: "gpu", vendorId: "10de", productId: "22g4" }, "productId", /productId must be four hex digits/],
    ["a gpu without a selector", { kind: "gpu" }, "pci", /must select its GPU with pci, vendorId\/productId or cardId/],
    ["a negative card id", { kind: "gpu", cardId: -1 }, "cardId", /cardId/],
    ["mdev without a profile", { kind: "gpu", gputype: "mdev", pci: "00:02.0" }, "mdev", /mdev must name the mdev profile/],
    ["a malformed MIG uuid", { kind: "gpu", gputype: "mig", pci: "01:00.0", migUuid: "x" }, "migUuid", /migUuid must be a UUID/],
    ["mig with uuid and ci/gi", { kind: "gpu", gputype: "mig", pci: "01:00.0", migUuid: "0b4e3c4a-0e1f-4a47-9a3e-0123456789ab", migCi: 0, migGi: 1 }, "migUuid", /excludes migCi\/migGi/],
    ["a field of another kind", { kind: "gpu", pci: "01:00.0", source: "/dev/null" }, "source", /source does not apply to kind "gpu"/],
    ["pci without an address", { kind: "pci" }, "pci", /pci must be the PCI address to pass through/],
    ["a unix-char without source or path", { kind: "unix-char" }, "source", /needs source .* or path/],
    ["a unix-char path with ..", { kind: "unix-char", source: "/dev/../etc/shadow" }, "source", /source must be an absolute path .* without "\.\."/],
    ["a unix-char path with a newline", { kind: "unix-char", source: "/dev/null", path: "/dev/x\nlxc.mount.entry" }, "path", /path must be an absolute path/],
    ["a non-octal mode", { kind: "unix-char", source: "/dev/null", mode: "999" }, "mode", /mode must be an octal file mode like "0660", but "999" was provided/],
    ["an unknown gputype", { kind: "gpu", gputype: "vgpu", pci: "01:00.0" }, "gputype", /gputype/],
    ["a bad device name", { kind: "unix-char", source: "/dev/null", deviceName: "a b" }, "deviceName", /deviceName must be 1–63/],
  ];
  test.each(cases)("rejects %s at check, naming the field", async (_label, extra, property, reason) => {
    const r = await deviceEngine("chk").check({ ...base, ...extra });
    expect(r.failures).toEqual(expect.arrayContaining([expect.objectContaining({ property, reason: expect.stringMatching(reason) })]));
  });
  test("rejects at up before any call to LXD", async () => {
    await expect(deviceEngine("chk").up({ ...base, kind: "pci", pci: "zz", instanceType: "container" })).rejects.toBeInstanceOf(CheckFailed);
  });
  test("accepts and normalises valid combinations", async () => {
    const vm = await deviceEngine("chk").check({ ...base, kind: "pci", pci: "0A:1f.7", instanceType: "virtual-machine" });
    expect(vm.failures).toEqual([]);
    expect(vm.inputs.device).toEqual({ type: "pci", address: "0000:0a:1f.7" });
    const mig = await deviceEngine("chk").check({ ...base, kind: "gpu", gputype: "mig", pci: "01:00.0", migCi: 0, migGi: 1, instanceType: "container" });
    expect(mig.failures).toEqual([]);
    expect(mig.inputs.device).toEqual({ type: "gpu", gputype: "mig", pci: "0000:01:00.0", "mig.ci": "0", "mig.gi": "1" });
    const ids = await deviceEngine("chk").check({ ...base, kind: "gpu", vendorId: "10DE", productId: "2204", cardId: 1, mode: "0660" });
    expect(ids.failures).toEqual([]);
    expect(ids.inputs.device).toEqual({ type: "gpu", gputype: "physical", vendorid: "10de", productid: "2204", id: "1", mode: "0660" });
    expect(ids.inputs.project).toBe("default");
    expect(ids.inputs.restartIfRunning).toBe(false);
  });
});
