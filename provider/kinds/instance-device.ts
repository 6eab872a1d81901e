/**
 * InstanceDevice, host side: one LXD device of any type attached to an existing instance that this resource does
 * not otherwise manage (another stack, another component or a person may own the instance); and the machinery
 * every such device kind shares ({@link deviceKind}: PciDevice is a typed front over it).
 *
 * LXD endpoints: GET|PUT /1.0/instances/{name} (ETag + If-Match, one retry on 412), PUT
 * /1.0/instances/{name}/state (only with `restartIfRunning`).
 *
 * Changing `instance`, `project`, `deviceName` (or the LXD server) forces replacement (delete before create);
 * the device's `type` and properties are updated in place (LXD hot-plugs what it can into a running container).
 *
 * Ownership: next to the device, the resource writes the config marker `user.pulumi-lxd.device.<deviceName>`
 * ({@link DEVICE_OWNER_PREFIX}), valued with the resource type (`InstanceDevice`, `PciDevice`). The Instance
 * resource leaves devices carrying that marker (and the marker) alone, so both can manage the same instance;
 * delete removes only this device and its marker, and never a device of that name that lost the marker.
 *
 * Policy: the device is judged by the hardening policy's device rows (`judgeDevice`): a finding (a host device,
 * a disk of a protected host path, `shift=true`, …) is refused at check unless its class is in `securityOptOuts`;
 * accepted ones are listed in `weakened`. A `disk` with `pool` + `source` mounts a custom volume of that pool
 * (see StorageVolume). A bridged `nic` (nictype bridged, or a `network` that is a managed bridge) gets the same
 * safe defaults as on an Instance or Profile, filled in at check before it is judged: `security.mac_filtering=true`,
 * and the IPv4/IPv6 filters when the managed bridge has such addresses (provider/policy/nic.ts); switching one
 * off is a finding of class `network`.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  getInstance, isPreconditionFailed, isRunningStatus, startInstance, stopInstance, updateInstance,
  type Instance as LxdInstance, type LxdClient,
} from "../lxd";
import { applyOptOuts, judgeDevice, refusalMessage, WEAKENING_CLASSES, type Finding, type WeakeningClass } from "../policy";
import { DEVICE_NAME, INSTANCE_NAME, nameSchema, normalizeProject, projectSchema, scalarSchema } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { containsUnknown, DEVICE_OWNER_PREFIX, normalizeConfig, sameJson, stripUndefined } from "../rules/values";
import { checkWith } from "../kit/check";
import { withNicDefaults } from "../kit/nic-defaults";
import type { Accepted, Kind, KindCheck, CheckContext } from "../kit/contract";
import { lxdSays } from "../kit/errors";

/** The instance type a device is meant for (LXD's `type` of the instance). */
export type InstanceTypeHint = "container" | "virtual-machine";

/** Inputs every attached-device kind has after check; `device` is exactly what is written to LXD. */
export interface AttachedDeviceInputs {
  instance: string;
  project: string;
  deviceName: string;
  restartIfRunning: boolean;
  stopGraceSec: number;
  connection?: ConnectionArgs;
  /** The LXD device properties (`type` among them) this resource writes. */
  device: Record<string, string>;
}

/** What a device kind says about itself; the rest ({@link deviceKind}) is shared. */
export interface DeviceSpec<I extends AttachedDeviceInputs, O extends I> {
  /** Value of the ownership marker: the resource type, e.g. `PciDevice`. */
  markerValue: string;
  outputKeys: readonly (Exclude<keyof O, keyof I> & string)[];
  /** Input keys compared by the diff besides `instance`, `project`, `deviceName` and `device`. */
  diffKeys?: readonly (keyof I & string)[];
  check(news: Record<string, unknown>, ctx: CheckContext): Promise<KindCheck<I>>;
  /** Reasons the device does not fit the instance's real type (read at create and update); empty when it fits. */
  misfits?(i: I, type: InstanceTypeHint): string[];
  /** State from the inputs, the instance's type and the device LXD holds. */
  outputs(i: I, type: InstanceTypeHint, device: Record<string, string>): O;
}

/** The ownership marker key of a device. */
export const markerOf = (deviceName: string) => `${DEVICE_OWNER_PREFIX}${deviceName}`;

/**
 * Reads the instance, applies `change` to its config and devices, and PUTs it with If-Match; on 412 (changed
 * in between) reads and tries once more. `change` returning undefined writes nothing.
 */
export async function modifyInstance(
  lxd: LxdClient, name: string, project: string,
  change: (cur: LxdInstance) => { config: Record<string, string>; devices: Record<string, Record<string, string>> } | undefined,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const { value: cur, etag } = await getInstance(lxd, name, { project });
    const next = change(cur);
    if (!next) return;
    try {
      await updateInstance(lxd, name, {
        architecture: cur.architecture, config: next.config, devices: next.devices,
        profiles: cur.profiles ?? [], ephemeral: cur.ephemeral, description: cur.description ?? "",
      }, etag, { project });
      return;
    } catch (err) {
      if (attempt === 0 && isPreconditionFailed(err)) continue;
      throw err;
    }
  }
}

/** The instance's config without this resource's device and marker (LXD keeps a key out when it is absent). */
function without(cur: LxdInstance, deviceName: string) {
  const config = { ...(cur.config ?? {}) };
  delete config[markerOf(deviceName)];
  const devices = { ...(cur.devices ?? {}) };
  delete devices[deviceName];
  return { config, devices };
}

/** What a failure names, per verb: `attach device "gpu0" to instance "c1"`, … */
const PHRASES: Record<string, (d: string, i: string) => string> = {
  create: (d, i) => `attach device "${d}" to instance "${i}"`,
  read: (d, i) => `read device "${d}" of instance "${i}"`,
  update: (d, i) => `update device "${d}" of instance "${i}"`,
  delete: (d, i) => `detach device "${d}" from instance "${i}"`,
};

/**
 * Writes the device and its marker; with `restartIfRunning`, around a stop/start, rolling back a failed start.
 * `accepted` (at create) is told once LXD holds the device, and told again when the rollback removed it.
 */
async function apply<O>(lxd: LxdClient, i: AttachedDeviceInputs, marker: string, project: string, verb: "attach" | "update", accepted?: Accepted<O>): Promise<void> {
  const put = () => modifyInstance(lxd, i.instance, project, (c) => ({
    config: { ...(c.config ?? {}), [markerOf(i.deviceName)]: marker },
    devices: { ...(c.devices ?? {}), [i.deviceName]: i.device },
  }));
  const running = isRunningStatus((await getInstance(lxd, i.instance, { project })).value.status);
  if (!(running && i.restartIfRunning)) {
    await put(); // a running container: LXD hot-plugs and validates the device now, and refuses the PUT if that fails
    accepted?.();
    return;
  }
  await stopInstance(lxd, i.instance, { project, graceSec: i.stopGraceSec ?? 30 });
  await put();
  accepted?.();
  try {
    await startInstance(lxd, i.instance, { project });
  } catch (startErr) {
    const why = `Failed to start instance "${i.instance}" in project "${project}": ${lxdSays(startErr)}`.replace(/\s+/g, " ")
      + ` (after it was stopped to ${verb} device "${i.deviceName}")`;
    // Roll back: take the device off again and bring the instance back up without it.
    try {
      await modifyInstance(lxd, i.instance, project, (c) => without(c, i.deviceName));
      await startInstance(lxd, i.instance, { project });
    } catch (rollbackErr) {
      throw new Error(`${why}; rolling back (removing the device and starting the instance again) also failed: ${(rollbackErr as Error).message}`);
    }
    accepted?.(false); // nothing is held any more
    throw new Error(`${why}. The device was removed again and the instance restarted without it.`);
  }
}

/** A device kind from its spec: create/read/update/delete with the ownership marker, the same for every device resource. */
export function deviceKind<I extends AttachedDeviceInputs, O extends I>(spec: DeviceSpec<I, O>): Kind<I, O> {
  const fits = (i: I, type: InstanceTypeHint) => {
    const why = spec.misfits?.(i, type) ?? [];
    if (why.length) throw new Error(why.join("; "));
  };
  const kind: Kind<I, O> = {
    noun: "device",
    outputKeys: spec.outputKeys,
    diffKeys: ["instance", "project", "deviceName", "device", ...(spec.diffKeys ?? [])] as (keyof I & string)[],
    replaceKeys: ["instance", "project", "deviceName"] as (keyof I & string)[],
    idOf: (p) => `${normalizeProject(p.project)}/${p.instance}/${p.deviceName}`,
    subject: (verb, p) => (PHRASES[verb] ?? ((d, i) => `${verb} device "${d}" of instance "${i}"`))(p.deviceName, p.instance),
    check: spec.check,

    async create({ lxd, project }, inputs, accepted) {
      const cur = (await getInstance(lxd, inputs.instance, { project })).value;
      const type = cur.type as InstanceTypeHint;
      fits(inputs, type);
      const existing = cur.devices?.[inputs.deviceName];
      const owner = cur.config?.[markerOf(inputs.deviceName)];
      if (existing && !(owner !== undefined && sameJson(existing, inputs.device))) {
        const who = owner !== undefined ? `another ${owner} resource` : "the instance itself or another tool (it has no ownership marker)";
        throw new Error(`the instance already has a device named "${inputs.deviceName}", managed by ${who}; choose another deviceName`);
      }
      await apply(lxd, inputs, spec.markerValue, project, "attach", accepted);
      return spec.outputs({ ...inputs, project }, type, inputs.device);
    },

    async read({ lxd, project }, props) {
      const cur = (await getInstance(lxd, props.instance, { project })).value;
      const device = cur.devices?.[props.deviceName];
      // The device (or our marker) is no longer on the instance: gone.
      if (!device || cur.config?.[markerOf(props.deviceName)] === undefined) return undefined;
      return spec.outputs({ ...props, project }, cur.type as InstanceTypeHint, device);
    },

    async update({ lxd, project }, _olds, news) {
      const type = (await getInstance(lxd, news.instance, { project })).value.type as InstanceTypeHint;
      fits(news, type);
      await apply(lxd, news, spec.markerValue, project, "update");
      return spec.outputs({ ...news, project }, type, news.device);
    },

    async delete({ lxd, project }, props) {
      // An instance that is gone took the device with it: the kit counts that 404 as done.
      const cur = (await getInstance(lxd, props.instance, { project })).value;
      const restart = props.restartIfRunning && isRunningStatus(cur.status) && cur.devices?.[props.deviceName] !== undefined;
      if (restart) await stopInstance(lxd, props.instance, { project, graceSec: props.stopGraceSec ?? 30 });
      await modifyInstance(lxd, props.instance, project, (c) => {
        // Only what carries our marker is ours; a device of that name without it belongs to someone else now.
        if (c.config?.[markerOf(props.deviceName)] === undefined) return undefined;
        return without(c, props.deviceName);
      });
      if (restart) await startInstance(lxd, props.instance, { project });
    },
  };
  return kind;
}

// ── InstanceDevice ───────────────────────────────────────────────────────────────────────────────────

/** Inputs of the generic device after check. */
export interface InstanceDeviceInputs extends AttachedDeviceInputs {
  /** LXD device type: `disk`, `nic`, `proxy`, `unix-char`, `gpu`, … */
  type: string;
  /** The device's properties besides `type`, as LXD stores them (strings). */
  properties: Record<string, string>;
  securityOptOuts: WeakeningClass[];
}

/** State. */
export interface InstanceDeviceOutputs extends InstanceDeviceInputs {
  /** The instance's real type, as LXD reports it. */
  resolvedInstanceType: InstanceTypeHint;
  /** The config key marking the device as this resource's: `user.pulumi-lxd.device.<deviceName>`. */
  ownerKey: string;
  /** Accepted findings of the hardening policy (classes named in `securityOptOuts`). */
  weakened: Finding[];
}

/** LXD device types: lower-case words joined by dashes. */
const DEVICE_TYPE_RE = /^[a-z][a-z0-9-]{0,31}$/;
const PROPERTY_KEY_RE = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$/;

function instanceDeviceSchema() {
  const scalar = scalarSchema();
  return z
    .object({
      instance: nameSchema(INSTANCE_NAME),
      project: projectSchema(),
      deviceName: nameSchema(DEVICE_NAME),
      type: z.string().regex(DEVICE_TYPE_RE, "must be an LXD device type (disk, nic, proxy, unix-char, gpu, …)"),
      properties: z.record(z.string().regex(PROPERTY_KEY_RE, "must be an LXD device property name"), scalar).default({}),
      securityOptOuts: z.array(z.enum(WEAKENING_CLASSES)).default([]),
      restartIfRunning: z.boolean().default(false),
      stopGraceSec: z.number().int().min(0).default(30),
      connection: connectionSchema().optional(),
    })
    .strict();
}

/** The input a device finding names: `type`, `properties.<name>`, or `deviceName` (a finding about the name). */
function devicePropertyOf(f: Finding): string {
  if (f.property === undefined) return "deviceName";
  return f.property === "type" ? "type" : `properties.${f.property}`;
}

/** The devices this resource writes: `type` plus the properties (a `type` among the properties is refused). */
export const instanceDeviceKind = deviceKind<InstanceDeviceInputs, InstanceDeviceOutputs>({
  markerValue: "InstanceDevice",
  outputKeys: ["resolvedInstanceType", "ownerKey", "weakened"],
  diffKeys: ["securityOptOuts"],

  async check(news, { olds, open }) {
    const { value, failures } = checkWith(instanceDeviceSchema(), news);
    if (!value) return { failures };
    if (value.properties.type !== undefined) {
      failures.push({ property: "properties.type", reason: `properties.type must be absent (the device type is the type input), but ${JSON.stringify(value.properties.type)} was provided` });
    }
    if (value.type === "disk" && value.properties.pool !== undefined && value.properties.source === undefined) {
      failures.push({ property: "properties.source", reason: `properties.source must name the custom volume of pool ${JSON.stringify(value.properties.pool)} to mount, but none was provided` });
    }
    if (failures.length) return { failures };
    if (Object.keys(news).some((k) => !k.startsWith("__") && containsUnknown(news[k]))) return { failures: [] }; // preview with unknowns: nothing more to say yet
    // A bridged nic gets LXD's spoofing filters unless the user sets them, as on an Instance or Profile (provider/policy/nic.ts).
    const old = olds.deviceName === value.deviceName && olds.device && typeof olds.device === "object" ? { [value.deviceName]: olds.device as Record<string, string> } : undefined;
    const device = (await withNicDefaults({ [value.deviceName]: { type: value.type, ...normalizeConfig(value.properties) } }, old, open))[value.deviceName];
    const { type: _type, ...properties } = device;
    for (const f of applyOptOuts(judgeDevice(value.deviceName, device), value.securityOptOuts).refused) {
      failures.push({ property: devicePropertyOf(f), reason: refusalMessage(f) });
    }
    if (failures.length) return { failures };
    return { inputs: stripUndefined({ ...value, project: normalizeProject(value.project), properties, device }) as InstanceDeviceInputs };
  },

  outputs(i, type, device) {
    const { type: devType, ...properties } = device;
    return {
      ...i,
      type: devType,
      properties,
      device,
      resolvedInstanceType: type,
      ownerKey: markerOf(i.deviceName),
      weakened: applyOptOuts(judgeDevice(i.deviceName, device), i.securityOptOuts ?? []).weakened,
    } satisfies InstanceDeviceOutputs;
  },
});
