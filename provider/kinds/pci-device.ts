/**
 * PciDevice, host side: one host device (a GPU, a PCI function, or a character device node) attached to an existing
 * LXD instance that this resource does not otherwise manage.
 *
 * A typed front over the device machinery of ./instance-device.ts (InstanceDevice): same ownership marker, same
 * attach/update/detach, plus the per-type validation below.
 *
 * LXD endpoints: GET|PUT /1.0/instances/{name} (ETag + If-Match, one retry on 412), PUT
 * /1.0/instances/{name}/state (only with `restartIfRunning`).
 *
 * Changing `instance`, `project`, `deviceName` (or the LXD server) forces replacement (delete before create);
 * every other property is updated in place.
 *
 * Ownership: next to the device, the resource writes the config marker
 * `user.pulumi-lxd.device.<deviceName>` ({@link DEVICE_OWNER_PREFIX}). The Instance resource leaves devices
 * carrying that marker (and the marker) alone, so both can manage the same instance; delete removes only
 * this device and its marker.
 *
 * What LXD supports, and what is refused at check (nothing refused ever reaches LXD's config):
 * | kind        | container                                   | virtual-machine                    |
 * |-------------|---------------------------------------------|------------------------------------|
 * | `gpu`       | gputype `physical`, `mig`                   | gputype `physical`, `mdev`, `sriov` |
 * | `pci`       | refused (LXD: "Unsupported device type")    | VFIO pass-through of `pci` address  |
 * | `unix-char` | `source`/`path`, `major`/`minor`, uid/gid/mode | refused (container-only)         |
 *
 * When LXD checks a device: a `gpu` (or `unix-char`) device is checked against the host when it is
 * hot-plugged into a running container, and when the container starts. Attached to a stopped instance, a
 * device that names hardware this host does not have (e.g. a GPU PCI address that does not exist) is
 * accepted and fails only at the next start, with LXD's message (`Failed to start device "<name>": Invalid
 * PCI address (no device found): …`). With `restartIfRunning: true` the running instance is stopped, the
 * device attached and the instance started again, so LXD's start-time error is reported by this resource
 * (the device is then removed again and the instance restarted without it).
 *
 * Why no raw LXC lines: device access is never granted here with `raw.lxc` entries such as
 * `lxc.cgroup.devices.allow = c 195:* rwm` plus `lxc.mount.entry = /dev/nvidia0 dev/nvidia0 none bind,create=file`.
 * In an unprivileged container the bind-mounted node is owned by host root, which maps to nobody inside,
 * so the workload still cannot open it; `lxc.cgroup.*` keys are cgroup v1 syntax and break on cgroup2 hosts
 * (there the key is `lxc.cgroup2.devices.allow`, enforced by an eBPF program LXD manages itself); and
 * `raw.lxc` bypasses LXD's own device handling and validation. LXD's `gpu` and `unix-char` devices do all
 * of this correctly (node creation with the container's id map, cgroup v1 or v2 rules, hot-plug), so this
 * package only ever generates those.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { DEVICE_NAME, INSTANCE_NAME, nameSchema, normalizeProject, projectSchema } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { containsUnknown, stripUndefined } from "../rules/values";
import { checkWith } from "../kit/check";
import type { Kind } from "../kit/contract";
import { deviceKind, markerOf, type InstanceTypeHint } from "./instance-device";
import { checkPciAddress } from "../rules/pci";

/** The device kinds this resource attaches (LXD device `type`). */
export type PciDeviceKind = "gpu" | "pci" | "unix-char";
/** LXD `gputype` of a `gpu` device. */
export type GpuType = "physical" | "mdev" | "mig" | "sriov";
/** The instance type a device is meant for. */
export type { InstanceTypeHint };

/** Inputs after check: normalised; `device` is exactly what is written to LXD. */
export interface PciDeviceInputs {
  instance: string;
  project: string;
  deviceName: string;
  kind: PciDeviceKind;
  instanceType?: InstanceTypeHint;
  gputype?: GpuType;
  pci?: string;
  vendorId?: string;
  productId?: string;
  cardId?: number;
  mdev?: string;
  migUuid?: string;
  migCi?: number;
  migGi?: number;
  source?: string;
  path?: string;
  major?: number;
  minor?: number;
  uid?: number;
  gid?: number;
  mode?: string;
  required?: boolean;
  restartIfRunning: boolean;
  stopGraceSec: number;
  connection?: ConnectionArgs;
  /** The LXD device properties (`type` among them) this resource writes. */
  device: Record<string, string>;
}

/** State. */
export interface PciDeviceOutputs extends PciDeviceInputs {
  /** The instance's real type, as LXD reports it. */
  resolvedInstanceType: InstanceTypeHint;
  /** The config key marking the device as this resource's: `user.pulumi-lxd.device.<deviceName>`. */
  ownerKey: string;
  /** The access to the host this device grants (it is a `devices` weakening by nature). */
  securityNote: string;
}

/** Value of the ownership marker. */
const MARKER_VALUE = "PciDevice";
const HEX4_RE = /^[0-9a-fA-F]{4}$/;
const MODE_RE = /^0?[0-7]{3}$/;
const UUID_RE = /^(MIG-)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const MDEV_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
/** An absolute device path: no whitespace, no control characters, no `..` segment, nothing a config line could split on. */
const DEV_PATH_RE = /^\/[a-zA-Z0-9._+@:/-]{1,4095}$/;

const GPU_FIELDS = ["gputype", "pci", "vendorId", "productId", "cardId", "mdev", "migUuid", "migCi", "migGi", "uid", "gid", "mode"] as const;
const PCI_FIELDS = ["pci"] as const;
const UNIX_CHAR_FIELDS = ["source", "path", "major", "minor", "uid", "gid", "mode", "required"] as const;
const ALL_FIELDS = [...new Set<string>([...GPU_FIELDS, ...UNIX_CHAR_FIELDS])];

function schema() {
  const uint = z.number().int().min(0);
  return z
    .object({
      instance: nameSchema(INSTANCE_NAME),
      project: projectSchema(),
      deviceName: nameSchema(DEVICE_NAME),
      kind: z.enum(["gpu", "pci", "unix-char"]),
      instanceType: z.enum(["container", "virtual-machine"]).optional(),
      gputype: z.enum(["physical", "mdev", "mig", "sriov"]).optional(),
      pci: z.string().optional(),
      vendorId: z.string().optional(),
      productId: z.string().optional(),
      cardId: uint.optional(),
      mdev: z.string().optional(),
      migUuid: z.string().optional(),
      migCi: uint.optional(),
      migGi: uint.optional(),
      source: z.string().optional(),
      path: z.string().optional(),
      major: uint.optional(),
      minor: uint.optional(),
      uid: uint.optional(),
      gid: uint.optional(),
      mode: z.string().optional(),
      required: z.boolean().optional(),
      restartIfRunning: z.boolean().default(false),
      stopGraceSec: z.number().int().min(0).default(30),
      connection: connectionSchema().optional(),
    })
    .strict();
}

type Parsed = z.output<ReturnType<typeof schema>>;
type Failure = pulumi.dynamic.CheckFailure;

/** `<field> must be …, but <value> was provided`. */
function bad(property: string, must: string, value: unknown): Failure {
  return { property, reason: `${property} must be ${must}, but ${JSON.stringify(value)} was provided` };
}

/**
 * Type-independent validation and normalisation: field formats, fields that do not belong to the kind, and
 * gputype rules. Returns the LXD device properties (only when there are no failures and nothing is unknown).
 */
function validate(v: Parsed, news: Record<string, unknown>): { failures: Failure[]; device?: Record<string, string>; normalized: Partial<Parsed> } {
  const failures: Failure[] = [];
  const unknown = (k: string) => containsUnknown(news[k]);
  const given = (k: string) => (v as Record<string, unknown>)[k] !== undefined;
  const allowed: readonly string[] = v.kind === "gpu" ? GPU_FIELDS : v.kind === "pci" ? PCI_FIELDS : UNIX_CHAR_FIELDS;
  for (const k of ALL_FIELDS) {
    if (given(k) && !allowed.includes(k)) failures.push({ property: k, reason: `${k} does not apply to kind "${v.kind}" (it takes ${allowed.join(", ")}), but ${JSON.stringify((v as Record<string, unknown>)[k])} was provided` });
  }
  const normalized: Partial<Parsed> = {};
  const device: Record<string, string> = { type: v.kind };

  let pci: string | undefined;
  if (v.pci !== undefined && !unknown("pci")) {
    const c = checkPciAddress(v.pci);
    if (c.ok) pci = normalized.pci = c.value;
    else failures.push(bad("pci", `a PCI address "BB:DD.F" or "DDDD:BB:DD.F" in hex (e.g. "0000:01:00.0")`, v.pci));
  }
  for (const k of ["vendorId", "productId"] as const) {
    const x = v[k];
    if (x === undefined || unknown(k)) continue;
    if (HEX4_RE.test(x)) normalized[k] = x.toLowerCase();
    else failures.push(bad(k, `four hex digits (e.g. "10de")`, x));
  }
  if (v.mode !== undefined && !unknown("mode")) {
    if (MODE_RE.test(v.mode)) normalized.mode = v.mode.padStart(4, "0");
    else failures.push(bad("mode", `an octal file mode like "0660"`, v.mode));
  }

  if (v.kind === "gpu") {
    const gputype = v.gputype ?? "physical";
    normalized.gputype = gputype;
    device.gputype = gputype;
    if (pci) device.pci = pci;
    if (normalized.vendorId) device.vendorid = normalized.vendorId;
    if (normalized.productId) device.productid = normalized.productId;
    if (v.cardId !== undefined) device.id = String(v.cardId);
    if (v.pci === undefined && v.vendorId === undefined && v.productId === undefined && v.cardId === undefined) {
      failures.push({ property: "pci", reason: "a gpu device must select its GPU with pci, vendorId/productId or cardId (without one LXD passes every GPU of the host), but none was provided" });
    }
    if (v.mdev !== undefined && gputype !== "mdev") failures.push({ property: "mdev", reason: `mdev applies to gputype "mdev" only, but gputype "${gputype}" was provided` });
    if (gputype === "mdev") {
      if (v.mdev === undefined) failures.push({ property: "mdev", reason: `mdev must name the mdev profile (e.g. "i915-GVTg_V5_4") for gputype "mdev", but none was provided` });
      else if (!unknown("mdev")) {
        if (MDEV_RE.test(v.mdev)) device.mdev = v.mdev;
        else failures.push(bad("mdev", "an mdev profile name (letters, digits, '_', '-', '.')", v.mdev));
      }
    }
    const mig = ["migUuid", "migCi", "migGi"] as const;
    for (const k of mig) if (given(k) && gputype !== "mig") failures.push({ property: k, reason: `${k} applies to gputype "mig" only, but gputype "${gputype}" was provided` });
    if (gputype === "mig") {
      if (v.migUuid !== undefined && (v.migCi !== undefined || v.migGi !== undefined)) {
        failures.push({ property: "migUuid", reason: "migUuid excludes migCi/migGi (LXD: mig.uuid or mig.gi + mig.ci), but both were provided" });
      } else if (v.migUuid === undefined && (v.migCi === undefined || v.migGi === undefined)) {
        failures.push({ property: "migUuid", reason: "a mig gpu needs migUuid, or both migCi and migGi, but neither was provided" });
      }
      if (v.migUuid !== undefined && !unknown("migUuid")) {
        if (UUID_RE.test(v.migUuid)) device["mig.uuid"] = v.migUuid;
        else failures.push(bad("migUuid", `a UUID, optionally prefixed "MIG-" (e.g. "MIG-0b4e3c4a-0e1f-4a47-9a3e-0123456789ab")`, v.migUuid));
      }
      if (v.migCi !== undefined) device["mig.ci"] = String(v.migCi);
      if (v.migGi !== undefined) device["mig.gi"] = String(v.migGi);
    }
    if (gputype !== "physical") {
      for (const k of ["uid", "gid", "mode"] as const) if (given(k)) failures.push({ property: k, reason: `${k} applies to gputype "physical" only, but gputype "${gputype}" was provided` });
    }
  } else if (v.kind === "pci") {
    if (v.pci === undefined) failures.push({ property: "pci", reason: `pci must be the PCI address to pass through ("DDDD:BB:DD.F"), but none was provided` });
    if (pci) device.address = pci;
  } else {
    if (v.source === undefined && v.path === undefined) failures.push({ property: "source", reason: "a unix-char device needs source (host path) or path (container path), but neither was provided" });
    for (const k of ["source", "path"] as const) {
      const x = v[k];
      if (x === undefined || unknown(k)) continue;
      if (DEV_PATH_RE.test(x) && !x.split("/").includes("..")) device[k] = x;
      else failures.push(bad(k, `an absolute path of letters, digits and ._+@:/- without ".." (e.g. "/dev/fuse")`, x));
    }
    if (v.major !== undefined) device.major = String(v.major);
    if (v.minor !== undefined) device.minor = String(v.minor);
    if (v.required !== undefined) device.required = String(v.required);
  }
  if (v.kind !== "pci") {
    if (v.uid !== undefined) device.uid = String(v.uid);
    if (v.gid !== undefined) device.gid = String(v.gid);
    if (normalized.mode) device.mode = normalized.mode;
  }
  if (v.instanceType) failures.push(...typeFailures(v.kind, normalized.gputype, v.instanceType, { uid: v.uid, gid: v.gid, mode: v.mode }));
  const anyUnknown = Object.keys(news).some((k) => !k.startsWith("__") && unknown(k));
  return { failures, device: failures.length || anyUnknown ? undefined : device, normalized };
}

/** What LXD does not support for an instance type (used at check with the hint, and at create with the real type). */
function typeFailures(kind: PciDeviceKind, gputype: GpuType | undefined, type: InstanceTypeHint, owner: { uid?: number; gid?: number; mode?: string }): Failure[] {
  const f: Failure[] = [];
  if (type === "container") {
    if (kind === "pci") f.push({ property: "kind", reason: `kind "pci" is for virtual machines only (LXD passes PCI devices through VFIO; a container gets a GPU with kind "gpu" or a device node with kind "unix-char"), but instance type "container" was provided` });
    if (kind === "gpu" && (gputype === "mdev" || gputype === "sriov")) f.push({ property: "gputype", reason: `gputype "${gputype}" is for virtual machines only (containers take "physical" or "mig"), but instance type "container" was provided` });
  } else {
    if (kind === "unix-char") f.push({ property: "kind", reason: `kind "unix-char" is for containers only (a virtual machine takes kind "pci" or "gpu"), but instance type "virtual-machine" was provided` });
    if (kind === "gpu" && gputype === "mig") f.push({ property: "gputype", reason: `gputype "mig" is for containers only (virtual machines take "physical", "mdev" or "sriov"), but instance type "virtual-machine" was provided` });
    if (kind === "gpu") for (const [k, x] of Object.entries(owner)) if (x !== undefined) f.push({ property: k, reason: `${k} applies to container gpu devices only (the node is created inside a container), but instance type "virtual-machine" was provided` });
  }
  return f;
}

/** One-sentence description of the host access the device grants. */
function securityNote(i: PciDeviceInputs, type: InstanceTypeHint): string {
  const d = i.device;
  const who = `${type} "${i.instance}" (project "${i.project}")`;
  if (i.kind === "unix-char") {
    const node = d.source ?? d.path;
    const num = d.major !== undefined ? ` (major ${d.major}, minor ${d.minor ?? "?"})` : "";
    return `devices: grants ${who} read/write access to the host character device ${node}${num} as ${d.path ?? d.source} inside, `
      + `owned by uid ${d.uid ?? "0"} gid ${d.gid ?? "0"} mode ${d.mode ?? "0660"}; whatever that driver exposes is reachable from inside.`;
  }
  if (i.kind === "pci") {
    return `devices: passes the host PCI device ${d.address} through to ${who} with VFIO: the guest drives the device directly `
      + `(its DMA confined by the host IOMMU group), and the host loses the device while the VM runs.`;
  }
  const sel = [d.pci && `PCI ${d.pci}`, d.vendorid && `vendor ${d.vendorid}`, d.productid && `product ${d.productid}`, d.id !== undefined && `card ${d.id}`].filter(Boolean).join(", ");
  const what = {
    physical: type === "container"
      ? `the host GPU (${sel}): its DRM nodes (/dev/dri/card*, renderD*) and, for NVIDIA, /dev/nvidia* are created in the container and the kernel driver's ioctl interface is reachable from inside`
      : `the whole host GPU (${sel}) through VFIO: the guest drives it directly`,
    mig: `an NVIDIA MIG instance of the host GPU (${sel}) and the NVIDIA driver's device nodes`,
    mdev: `a mediated device "${d.mdev}" created on the host GPU (${sel}); the host driver mediates its access`,
    sriov: `an SR-IOV virtual function of the host GPU (${sel}) through VFIO`,
  }[(d.gputype ?? "physical") as GpuType];
  return `devices: grants ${who} ${what}.`;
}

function outputsOf(i: PciDeviceInputs, type: InstanceTypeHint, device: Record<string, string>): PciDeviceOutputs {
  const inputs = { ...i, device };
  return {
    ...inputs,
    resolvedInstanceType: type,
    ownerKey: markerOf(i.deviceName),
    securityNote: securityNote(inputs, type),
  } satisfies PciDeviceOutputs;
}

/** PciDevice: the typed front over the shared device machinery of ./instance-device.ts. */
export const pciDeviceKind: Kind<PciDeviceInputs, PciDeviceOutputs> = deviceKind<PciDeviceInputs, PciDeviceOutputs>({
  markerValue: MARKER_VALUE,
  outputKeys: ["resolvedInstanceType", "ownerKey", "securityNote"],

  async check(news) {
    const { value, failures } = checkWith(schema(), news);
    if (!value) return { failures };
    const r = validate(value, news);
    if (r.failures.length) return { failures: r.failures };
    if (!r.device) return { failures: [] }; // preview with unknowns: nothing more to say yet
    return { inputs: stripUndefined({ ...value, ...r.normalized, project: normalizeProject(value.project), device: r.device }) as PciDeviceInputs };
  },

  misfits(i, type) {
    if (i.instanceType && i.instanceType !== type) return [`instanceType "${i.instanceType}" was given, but LXD reports the instance as a ${type}`];
    return typeFailures(i.kind, i.gputype, type, { uid: i.uid, gid: i.gid, mode: i.mode }).map((f) => f.reason);
  },

  outputs: outputsOf,
});
