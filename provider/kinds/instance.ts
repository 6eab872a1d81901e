/**
 * Instance, host side: an LXD container (or virtual machine), hardened by default.
 *
 * LXD endpoints: POST /1.0/instances, GET|PUT|POST(rename)|DELETE /1.0/instances/{name},
 * PUT /1.0/instances/{name}/state, GET /1.0/profiles/{name} (the profiles it names are judged with it),
 * GET /1.0/images/aliases/{alias} (image lookup in the instance's project).
 *
 * Changing `project`, `type`, `image`, `imageServer`, `imageProtocol` or `ephemeral` (or the server) forces
 * replacement (delete before create: LXD names are unique); so does shrinking an isolated id map, when
 * `replaceOnIdmapShrink` allows it (otherwise it is refused). `name` is renamed in place (the instance is stopped
 * for the rename and started again if it should run). Everything else is updated in place, three-way: only
 * what changed between the previous and the new inputs is written over what LXD holds now.
 */
import * as fs from "node:fs";
import { z } from "zod";
import {
  createInstance, deleteInstance, getInstance, getProfile, getProject, hostHasAppArmor, isBrokenInstance, isConflict, isNotFound, isPreconditionFailed, isTransportError,
  isRunningStatus, renameInstance, resolveImageFingerprint, startInstance, stopInstance, updateInstance,
  type ConfigMap, type DeviceMap, type Instance as LxdInstance, type InstanceSource, type LxdClient, type Profile as LxdProfile, type ServerKind,
} from "../lxd";
import {
  applyOptOuts, assess, DEFAULT_LIMITS, hardenedConfig, isTrue, judgeEffective, refusalMessage, securityReport, WEAKENING_CLASSES,
  type Finding, type Nesting, type SecurityReport, type WeakeningClass,
} from "../policy";
import { INSTANCE_NAME, nameSchema, normalizeProject, projectSchema, scalarSchema, configSchema } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { configFor, GUEST_API_KEYS } from "../rules/server-keys";
import { serverKindAtCheck } from "../kit/server-kind";
import { containsUnknown, dropEmpty, normalizeConfig, normalizeDevices, sameJson, splitOwnership, UNKNOWN } from "../rules/values";
import { checkWith } from "../kit/check";
import { withNicDefaults } from "../kit/nic-defaults";
import type { Kind, Scope } from "../kit/contract";
import { amend, lxdSays } from "../kit/errors";
import { checkWaitFor, waitForInstance, waitForSchema, type WaitCondition } from "./instance-wait";
import { checkPlacement, createTarget, explainReadFailure, locationOf, moveIfNeeded, placementDiff, placementFields, type PlacementInputs } from "./instance-placement";

/** Operation time limits, in seconds. Nothing else caps them (case C11). */
export interface InstanceTimeouts {
  /** Wait for the create operation (image unpack included). Default 600. -1 = no limit. */
  createSec?: number;
  /** Wait for a start. Default 600. */
  startSec?: number;
  /** Clean-shutdown grace before a stop is forced. Default 30. */
  stopGraceSec?: number;
  /** Wait for an update or rename. Default 600. */
  updateSec?: number;
  /** Wait for a delete. Default 600. */
  deleteSec?: number;
}

/** Inputs after check: normalised, defaults applied. `config` is the desired instance-local config. */
export interface InstanceInputs extends PlacementInputs {
  name: string;
  project: string;
  type: "container" | "virtual-machine";
  /** Absent: an empty instance (LXD source type `none`), never started. */
  image?: string;
  imageServer?: string;
  imageProtocol?: "simplestreams" | "lxd";
  config: ConfigMap;
  devices: DeviceMap;
  profiles: string[];
  ephemeral: boolean;
  description: string;
  running: boolean;
  nesting?: Nesting;
  /** The guest API input as given (the neutral name of `devLxd`); after check `devLxd` holds the effective value. */
  guestApi?: boolean;
  /** Expose the guest API (`/dev/lxd` on LXD, `/dev/incus` on Incus): `guestApi ?? devLxd ?? false`. */
  devLxd: boolean;
  defaultLimits: boolean;
  securityOptOuts: WeakeningClass[];
  timeouts: InstanceTimeouts;
  adopt: boolean;
  restartOnChange: boolean;
  replaceOnIdmapShrink: boolean;
  liftDeleteProtection: boolean;
  /** Conditions awaited after the instance is created running, or started by an update (see instance-wait.ts). */
  waitFor: WaitCondition[];
  connection?: ConnectionArgs;
}

/** State recorded after create/read/update. */
export interface InstanceOutputs extends InstanceInputs {
  /** LXD's status (`Running`, `Ready`, `Stopped`, …); `Incomplete` for a create that failed after LXD accepted it. */
  status: string;
  /** Fingerprint of the image the instance was created from (`volatile.base_image`). */
  imageFingerprint: string;
  /** Config after profiles are applied (server-owned keys left out). */
  expandedConfig: ConfigMap;
  /** Devices after profiles are applied. */
  expandedDevices: DeviceMap;
  /** What confinement the instance really has. */
  securityReport: SecurityReport;
  /** True when keys that LXD applies only at start changed while the instance ran, and it has not been restarted since. */
  restartRequired: boolean;
  /** Those keys. */
  restartPendingKeys: string[];
  /** LXD's `last_used_at` (the last start), to tell when a pending restart happened. */
  lastUsedAt: string;
  /** The cluster member the instance runs on (LXD's `location`); "" on a server that is not clustered. */
  location: string;
}

/** State keys that are not inputs. */
const OUTPUT_KEYS = ["status", "imageFingerprint", "expandedConfig", "expandedDevices", "securityReport", "restartRequired", "restartPendingKeys", "lastUsedAt", "location"] as const;

/**
 * Keys LXD applies only when the instance starts (LXD's docs: "Live update: no"): a change to them while the
 * instance runs takes effect at the next start, so it is reported in `restartRequired` (or restarts the
 * instance with `restartOnChange`).
 */
export function isStartOnlyKey(key: string): boolean {
  return /^(security\.(privileged|idmap\.|syscalls\.|nesting$)|raw\.(lxc|idmap|seccomp|apparmor|qemu)|limits\.kernel\.|linux\.kernel_modules$|linux\.sysctl\.|security\.secureboot)/.test(key);
}

/** The host-visible id map an instance config asks for: 0 = the shared map, else the isolated map's size. */
export function isolatedIdmapSize(config: ConfigMap | undefined): number {
  const c = config ?? {};
  if (!isTrue(c["security.idmap.isolated"])) return 0;
  return Number(c["security.idmap.size"] ?? 0) || 65536;
}

function schema() {
  const scalar = scalarSchema();
  const seconds = z.number().int().min(-1);
  return z
    .object({
      name: nameSchema(INSTANCE_NAME),
      project: projectSchema(),
      type: z.enum(["container", "virtual-machine"]).default("container"),
      image: z.string().min(1, "must name an image alias or fingerprint (omit it for an empty instance)").optional(),
      imageServer: z.string().url().optional(),
      imageProtocol: z.enum(["simplestreams", "lxd"]).optional(),
      config: configSchema().default({}),
      devices: z.record(z.string(), z.record(z.string(), scalar).refine((d) => typeof d.type === "string", "must have a type")).default({}),
      profiles: z.array(z.string().min(1)).default(["default"]),
      ephemeral: z.boolean().default(false),
      description: z.string().default(""),
      running: z.boolean().optional(),
      nesting: z
        .object({
          workload: z.enum(["docker", "lxd", "userns"]),
          depth: z.number().int().min(1).max(4).optional(),
          childInstances: z.number().int().min(1).max(64).optional(),
        })
        .strict()
        .optional(),
      devLxd: z.boolean().optional(),
      guestApi: z.boolean().optional(),
      defaultLimits: z.boolean().default(true),
      securityOptOuts: z.array(z.enum(WEAKENING_CLASSES)).default([]),
      timeouts: z
        .object({ createSec: seconds, startSec: seconds, stopGraceSec: z.number().int().min(0), updateSec: seconds, deleteSec: seconds })
        .partial()
        .strict()
        .default({}),
      adopt: z.boolean().default(false),
      restartOnChange: z.boolean().default(false),
      replaceOnIdmapShrink: z.boolean().default(false),
      liftDeleteProtection: z.boolean().default(false),
      waitFor: waitForSchema(),
      connection: connectionSchema().optional(),
      ...placementFields(),
    })
    .strict();
}

/** The desired instance-local config: hardened defaults, then the user's config over them ("" values are refused by the policy first). */
function desiredConfig(i: { type: InstanceInputs["type"]; nesting?: Nesting; devLxd: boolean; defaultLimits: boolean; config: ConfigMap }, server?: ServerKind): ConfigMap {
  // The guest API key in the server's spelling (security.devlxd on LXD, security.guestapi on Incus), the user's too.
  return dropEmpty({ ...hardenedConfig({ ...i, server }), ...(server ? configFor(server, i.config) : i.config) });
}

const DEFAULT_WAIT = 600;

/** The state of a create that LXD may hold but that did not finish: the next run converges from it. */
const INCOMPLETE: Partial<InstanceOutputs> = { status: "Incomplete" };

/** The property a finding is reported on at check. */
const propertyOf = (f: Finding) => (f.key.startsWith("devices.") ? "devices" : "config");

/**
 * Profile reads in flight, shared by the instances being created or updated at the same moment (the engine runs
 * many at once, and most name the same profiles). Only a read still in flight is shared: nothing is cached.
 */
const profileReads = new Map<string, Promise<LxdProfile>>();
function profileNow(lxd: LxdClient, project: string, name: string): Promise<LxdProfile> {
  const key = JSON.stringify([lxd.endpoint, project, name]);
  let read = profileReads.get(key);
  if (!read) {
    read = getProfile(lxd, name, { project }).then((r) => r.value).finally(() => profileReads.delete(key));
    profileReads.set(key, read);
  }
  return read;
}

/**
 * Judges what the instance will really run with: its own config laid over the profiles it names, as LXD
 * expands them, read from LXD now. @throws Error naming the profile, the key and the opt-out for a refused finding.
 */
async function judgeWithProfiles(lxd: LxdClient, project: string, want: InstanceInputs, opts: { skipMissing?: boolean } = {}): Promise<void> {
  const profiles = [];
  for (const name of want.profiles) {
    try {
      const p = await profileNow(lxd, project, name);
      profiles.push({ name, config: p.config ?? {}, devices: p.devices ?? {} });
    } catch (err) {
      // At check, a profile may be created by the same run: it is judged at create.
      if (isNotFound(err) && opts.skipMissing) continue;
      if (isNotFound(err)) throw new Error(`profile "${name}" (in profiles) does not exist in project "${project}"`);
      throw err;
    }
  }
  const { refused } = judgeEffective({
    config: want.config, devices: want.devices, profiles, optOuts: want.securityOptOuts, nesting: want.nesting, devLxd: want.devLxd,
  });
  if (refused.length) throw new Error(refused.map(refusalMessage).join("; "));
}

/**
 * LXD status + config → outputs. After a write (`wrote`), the state keeps only the keys and devices this resource
 * wrote, with LXD's values, so that keys others set concurrently are not taken as this stack's (they show as
 * drift after a refresh, as case C04 says); and a write LXD does not hold is an error, never a success.
 */
async function outputsFrom(lxd: LxdClient, inst: LxdInstance, inputs: InstanceInputs, pending: string[] = [], wrote?: InstanceInputs): Promise<InstanceOutputs> {
  const own = splitOwnership(inst.config ?? {}, inst.devices ?? {});
  if (wrote) {
    const lost = [
      ...Object.entries(wrote.config).filter(([k, v]) => own.config[k] !== v).map(([k, v]) => `config ${k}=${JSON.stringify(v)} (LXD holds ${JSON.stringify(own.config[k] ?? null)})`),
      ...Object.keys(wrote.devices).filter((n) => !sameJson(own.devices[n], wrote.devices[n])).map((n) => `device ${n}`),
    ];
    if (lost.length) throw new Error(`LXD does not hold what was written: ${lost.join(", ")}. Run \`pulumi refresh\` to see what it holds`);
    own.config = Object.fromEntries(Object.keys(wrote.config).map((k) => [k, own.config[k]]));
    own.devices = Object.fromEntries(Object.keys(wrote.devices).map((n) => [n, own.devices[n]]));
  }
  const expanded = splitOwnership(inst.expanded_config ?? {}, {});
  const expandedDevices = inst.expanded_devices ?? {};
  const findings = assess(expanded.config, expandedDevices, { nesting: inputs.nesting, devLxd: inputs.devLxd });
  const report = securityReport(inst.expanded_config ?? {}, findings, { apparmor: await hostHasAppArmor(lxd) }, inputs.securityOptOuts ?? []);
  const restartPendingKeys = isRunningStatus(inst.status) ? pending : [];
  return {
    ...inputs,
    name: inst.name,
    config: own.config,
    devices: own.devices,
    profiles: inst.profiles ?? [],
    ephemeral: inst.ephemeral,
    description: inst.description ?? "",
    running: isRunningStatus(inst.status),
    status: inst.status,
    imageFingerprint: (inst.config ?? {})["volatile.base_image"] ?? "",
    expandedConfig: expanded.config,
    expandedDevices,
    securityReport: report,
    restartRequired: restartPendingKeys.length > 0,
    restartPendingKeys,
    lastUsedAt: inst.last_used_at ?? "",
    location: locationOf(inst),
  } satisfies InstanceOutputs;
}

/**
 * Instance creations on one LXD server, one at a time within this provider process. LXD 5.0.2 allocates an
 * isolated container's id range when the instance record is created and counts a container still being
 * created as using ids 0–65536, so two created at the same moment can get a range below the host's
 * subordinate ids and fail to start ("newuidmap: uid range … not allowed"). Starts still run in parallel.
 */
const creating = new Map<string, Promise<unknown>>();
function oneAtATime<T>(server: string, fn: () => Promise<T>): Promise<T> {
  const run = (creating.get(server) ?? Promise.resolve()).then(fn, fn);
  creating.set(server, run.catch(() => undefined));
  return run;
}

/**
 * Runs `fn` again while LXD answers that the instance is busy with another operation (e.g. the stop LXD
 * itself runs after a failed start), for up to `limitSec` seconds.
 */
async function whileBusy<T>(fn: () => Promise<T>, limitSec = 60): Promise<T> {
  const deadline = Date.now() + limitSec * 1000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof Error && /is busy running/i.test(err.message)) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The host's subordinate id range for root (local LXD only), or undefined when it cannot be read here. */
function localSubIdRange(conn: ConnectionArgs | undefined): number | undefined {
  if (conn?.url || conn?.remote) return undefined;
  try {
    const line = fs.readFileSync("/etc/subuid", "utf8").split("\n").find((l) => l.startsWith("root:"));
    return line ? Number(line.split(":")[2]) : undefined;
  } catch {
    return undefined;
  }
}

/** The result of a three-way merge of one map: what LXD holds, with only the entries the user changed replaced. */
export function threeWay<T>(base: Record<string, T>, desired: Record<string, T>, live: Record<string, T>): Record<string, T> {
  const out = { ...live };
  for (const k of new Set([...Object.keys(base), ...Object.keys(desired)])) {
    if (sameJson(base[k], desired[k])) continue;
    if (desired[k] === undefined) delete out[k];
    else out[k] = desired[k];
  }
  return out;
}

/** How many times a write that lost an ETag race is recomputed on a fresh read before giving up. */
const ETAG_RETRIES = 5;

/**
 * Why an instance record is broken — LXD lists it but lost what backs it (its daemon was killed while creating or
 * deleting it): a PUT then fails "Failed to write backup file" and a start fails — or undefined for a healthy
 * record. See `isBrokenInstance` for the signals (all over REST).
 */
async function brokenReason(lxd: LxdClient, inst: LxdInstance, project: string): Promise<string | undefined> {
  if (!(await isBrokenInstance(lxd, inst.name, { project }, inst))) return undefined;
  return `LXD holds a broken record of it (its storage is missing, e.g. the daemon was killed while creating it)`;
}

/**
 * LXD's refusal by a restricted project (`restricted.*`), with what fixes it added: only LXD can tell at create
 * or update, so the error names the way out. Other errors pass unchanged.
 */
function withRestrictionHint(err: unknown, project: string): unknown {
  const text = `${err instanceof Error ? err.message : ""} ${lxdSays(err)}`;
  if (!/Failed checking if instance (creation|update) allowed|forbidden|restricted\./i.test(text)) return err;
  return amend(err, ` — project "${project}" restricts this (its restricted.* config). Drop the setting, or allow it in the project: on a TenantProject, allowNesting (nesting, syscall interception, low-level keys) or its config input for other restricted.* keys`);
}

export const instanceKind: Kind<InstanceInputs, InstanceOutputs> = {
  noun: "instance",
  outputKeys: OUTPUT_KEYS,
  // The provider's own settings are compared too, so that the state (which delete and update read) follows them.
  diffKeys: [
    "name", "config", "devices", "profiles", "description", "running", "project", "type", "image", "imageServer", "imageProtocol", "ephemeral",
    "securityOptOuts", "timeouts", "restartOnChange", "replaceOnIdmapShrink", "liftDeleteProtection", "target", "allowRestartForMove",
  ],
  replaceKeys: ["project", "type", "image", "imageServer", "imageProtocol", "ephemeral"],

  async check(news, { olds, open }) {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    // During preview some inputs may be unknown: judge and normalise what is known, carry the rest.
    const unknown = (...keys: string[]) => keys.some((k) => unknownKeys.includes(k));
    // guestApi is the neutral name of devLxd (kept as an alias); the effective value lives in devLxd.
    if (value.guestApi !== undefined && value.devLxd !== undefined && value.guestApi !== value.devLxd && !unknown("guestApi", "devLxd")) {
      failures.push({ property: "guestApi", reason: `guestApi must equal devLxd (its old name) when both are given, but ${value.guestApi} and ${value.devLxd} were provided` });
    }
    value.devLxd = (unknown("guestApi") ? value.devLxd : value.guestApi) ?? value.devLxd ?? false;
    const server = await serverKindAtCheck(open, unknown("connection") || containsUnknown([value.connection]));
    if (server.failure) failures.push(server.failure);
    const config = unknown("config") ? (UNKNOWN as never as ConfigMap) : normalizeConfig(value.config);
    // Bridged nics get LXD's spoofing filters unless the user sets them (provider/policy/nic.ts).
    const devices = unknown("devices") ? (UNKNOWN as never as DeviceMap) : await withNicDefaults(normalizeDevices(value.devices), olds.devices, open);
    if (!unknown("config", "devices", "securityOptOuts", "nesting", "devLxd", "guestApi")) {
      const { refused } = applyOptOuts(assess(config, devices, { nesting: value.nesting, devLxd: value.devLxd }), value.securityOptOuts);
      for (const f of refused) failures.push({ property: propertyOf(f), reason: refusalMessage(f) });
    }
    const running = value.running ?? value.image !== undefined;
    if (value.type === "virtual-machine" && value.nesting && !unknown("nesting")) failures.push({ property: "nesting", reason: "nesting applies to containers only, but type \"virtual-machine\" was provided" });
    if (value.imageProtocol && !value.imageServer) failures.push({ property: "imageProtocol", reason: "imageProtocol needs imageServer" });
    if (value.image === undefined && value.imageServer) failures.push({ property: "image", reason: "image must name an image on imageServer" });
    if (value.image === undefined && running === true && !unknown("image", "running")) {
      failures.push({ property: "running", reason: "running must be false for an empty instance (no image: LXD source type none has no root filesystem to start)" });
    }
    // An empty value never unsets a default the instance gets (the policy judges the security keys; limits here).
    if (!unknown("config", "defaultLimits")) {
      for (const [k, v] of Object.entries(config)) {
        if (v === "" && value.defaultLimits && k in DEFAULT_LIMITS) {
          failures.push({ property: `config.${k}`, reason: `config.${k} must not be empty: an empty value would unset the default limit (${DEFAULT_LIMITS[k]}). Give a value, or set defaultLimits: false to leave limits to profiles` });
        }
      }
    }
    if (value.ephemeral && !running && !unknown("ephemeral", "running")) {
      failures.push({ property: "running", reason: "running must be true for an ephemeral instance: LXD deletes an ephemeral instance when it stops, so a stopped one cannot be kept" });
    }
    if (failures.length) return { failures };
    const desired = unknown("config", "type", "nesting", "devLxd", "guestApi", "defaultLimits") ? (UNKNOWN as never as ConfigMap) : desiredConfig({ ...value, devLxd: value.devLxd ?? false, config }, server.kind);
    // C18: an isolated id map that shrinks would hand files owned by ids above the new size to real host ids.
    const before = isolatedIdmapSize(olds.config as ConfigMap | undefined);
    const after = desired === (UNKNOWN as never) ? before : isolatedIdmapSize(desired);
    if (olds.name !== undefined && before > 0 && after < before && !value.replaceOnIdmapShrink) {
      failures.push({
        property: "config",
        reason: `the isolated id map would shrink from ${before} to ${after || "a shared map"} ids (security.idmap.size, or nesting removed): files inside owned by ids above the new size would belong to real host ids after the next start. Keep the size, or set replaceOnIdmapShrink: true to replace the instance (its data is lost)`,
      });
      return { failures };
    }
    const inputs = {
      ...value,
      running,
      project: unknown("project") ? value.project! : normalizeProject(value.project),
      config: desired,
      devices,
    } as InstanceInputs;
    // Judged with its profiles at preview too, when it is new or what it runs with changes (a no-change preview
    // asks LXD nothing more); create and update judge again before they write.
    const changed = olds.name === undefined || ["config", "devices", "profiles", "securityOptOuts", "project"].some((k) => !sameJson(olds[k], (inputs as unknown as Record<string, unknown>)[k]));
    if (changed && !containsUnknown([inputs.config, inputs.devices, inputs.profiles, inputs.project, inputs.securityOptOuts, value.connection])) {
      try {
        const { lxd, project } = open();
        await judgeWithProfiles(lxd, project, inputs, { skipMissing: true });
      } catch (err) {
        const msg = (err as Error).message;
        // Only the policy's refusal fails the preview; LXD being unreachable at preview is left to create/update.
        if (/weakens confinement/.test(msg)) return { failures: [{ property: "profiles", reason: msg }] };
      }
    }
    const guestApiOn = unknown("config", "devLxd", "guestApi") || desired === (UNKNOWN as never) ? undefined
      : value.devLxd === true || GUEST_API_KEYS.some((k) => isTrue(String(desired[k] ?? "")));
    const waits = await checkWaitFor({ waitFor: value.waitFor, type: value.type, running, guestApi: guestApiOn }, open);
    if (waits.length) return { failures: waits };
    const placement = await checkPlacement(olds, inputs, open);
    if (placement) return { failures: [{ property: "target", reason: placement }] };
    return {
      inputs,
    };
  },

  async diff(olds, news, base, open) {
    // A group target the instance already satisfies is no change (instance-placement.ts).
    if (await placementDiff(olds as never, news as never, base, instanceKind.diffKeys, open)) return { changes: false, replaces: [], deleteBeforeReplace: false };
    const shrinks = news.replaceOnIdmapShrink && news.config !== (UNKNOWN as never)
      && isolatedIdmapSize(news.config) < isolatedIdmapSize(olds.config);
    // A record LXD lost the storage of (status `Broken` on read) cannot be updated: it is replaced.
    const broken = olds.status === "Broken";
    if (!shrinks && !broken) return base;
    const replaces = [...(base.replaces ?? []), ...(shrinks ? ["config"] : []), ...(broken ? ["status"] : [])];
    return { changes: true, replaces, deleteBeforeReplace: true };
  },

  async create({ lxd, project }, inputs, accepted) {
    const t = inputs.timeouts ?? {};
    const target = await createTarget(lxd, inputs.target);
    const size = Number(inputs.config["security.idmap.size"] ?? 0);
    const range = localSubIdRange(inputs.connection);
    if (size && range !== undefined && size > range) {
      throw new Error(`security.idmap.size ${size} (needed for ${inputs.nesting ? `nesting ${JSON.stringify(inputs.nesting)}` : "this config"}) exceeds the host's subordinate id range for root (${range} ids in /etc/subuid)`);
    }
    const source = await sourceOf(lxd, project, inputs); // also says when the project does not exist
    await judgeWithProfiles(lxd, project, inputs);
    try {
      await oneAtATime(lxd.endpoint, () => createInstance(lxd, {
        name: inputs.name, type: inputs.type, description: inputs.description, config: inputs.config, devices: inputs.devices,
        profiles: inputs.profiles, ephemeral: inputs.ephemeral, source,
      }, { project, target, timeoutSec: t.createSec ?? DEFAULT_WAIT }));
    } catch (err) {
      // No answer (the daemon went away, the wait timed out): LXD may hold the record. Kept in state as
      // incomplete; the next run finds out what LXD holds and converges (case C16).
      if (isTransportError(err)) accepted(INCOMPLETE);
      if (!isConflict(err)) throw withRestrictionHint(err, project);
      if (!inputs.adopt) throw amend(err, " (set adopt: true to bring the existing instance under management)");
      // Adopt: judged like an update; a broken record is replaced.
      const { value: cur } = await getInstance(lxd, inputs.name, { project });
      accepted(INCOMPLETE);
      if (await brokenReason(lxd, cur, project)) {
        await whileBusy(() => deleteInstance(lxd, inputs.name, { project, timeoutSec: t.deleteSec ?? DEFAULT_WAIT }));
        return instanceKind.create({ lxd, project }, { ...inputs, adopt: false }, accepted);
      }
      await converge(lxd, project, cur.config ?? {}, inputs);
      return outputsFrom(lxd, (await getInstance(lxd, inputs.name, { project })).value, inputs, [], inputs);
    }
    accepted(INCOMPLETE);

    if (inputs.running) {
      try {
        await startInstance(lxd, inputs.name, { project, timeoutSec: t.startSec ?? DEFAULT_WAIT });
      } catch (startErr) {
        // Transactional: do not leave a half-made instance behind (case C02). If the clean-up fails too, the
        // kit keeps it in state as partially created.
        const why = `Failed to start instance "${inputs.name}" in project "${project}": ${lxdSays(startErr)}`;
        try {
          await stopInstance(lxd, inputs.name, { project, graceSec: 0 }).catch(() => undefined);
          await whileBusy(() => deleteInstance(lxd, inputs.name, { project, timeoutSec: t.deleteSec ?? DEFAULT_WAIT }));
        } catch (cleanupErr) {
          if (!isNotFound(cleanupErr)) throw new Error(`${why}; removing the created instance also failed (${(cleanupErr as Error).message})`);
        }
        accepted(false); // nothing is held any more
        throw new Error(`${why}. The instance that LXD created was removed, so the next run starts clean.`);
      }
      // A failed wait leaves the running instance in state as incomplete: the next run waits again.
      await waitForInstance(lxd, project, inputs.name, inputs.waitFor ?? []);
    }
    return outputsFrom(lxd, (await getInstance(lxd, inputs.name, { project })).value, inputs, [], inputs);
  },

  async read({ lxd, project }, props) {
    let inst: LxdInstance;
    try {
      inst = (await getInstance(lxd, props.name, { project })).value;
    } catch (err) {
      throw await explainReadFailure(lxd, props.location, err);
    }
    const why = await brokenReason(lxd, inst, project);
    const pending = props.lastUsedAt && inst.last_used_at !== props.lastUsedAt ? [] : props.restartPendingKeys ?? [];
    const outs = await outputsFrom(lxd, inst, props, pending);
    return why ? { ...outs, status: "Broken" } : outs;
  },

  async update({ lxd, project }, olds, news) {
    const t = news.timeouts ?? {};
    if (olds.status === "Incomplete" || olds.status === "Broken") {
      const recovered = await recover(lxd, project, olds, news);
      if (news.running) await waitForInstance(lxd, project, news.name, news.waitFor ?? []);
      return recovered;
    }
    if (olds.name !== news.name) {
      const cur = (await getInstance(lxd, olds.name, { project })).value;
      if (isRunningStatus(cur.status)) await stopInstance(lxd, olds.name, { project, graceSec: t.stopGraceSec ?? 30, timeoutSec: t.updateSec ?? DEFAULT_WAIT });
      try {
        await renameInstance(lxd, olds.name, news.name, { project, timeoutSec: t.updateSec ?? DEFAULT_WAIT });
      } catch (err) {
        throw new Error(`Failed to rename instance "${olds.name}" in project "${project}" to "${news.name}": ${lxdSays(err)}`, { cause: err });
      }
    }
    await moveIfNeeded(lxd, project, news.name, news);
    await judgeWithProfiles(lxd, project, news);
    const changedStartOnly = Object.keys({ ...olds.config, ...news.config })
      .filter((k) => isStartOnlyKey(k) && olds.config?.[k] !== news.config[k]);
    let converged;
    try {
      converged = await converge(lxd, project, olds.config ?? {}, news, olds, changedStartOnly, { keys: olds.restartPendingKeys ?? [], since: olds.lastUsedAt });
    } catch (err) {
      // A record LXD lost the storage of (found only now: the state was not refreshed) is replaced.
      if (await isBrokenInstance(lxd, news.name, { project }).catch(() => false)) return recover(lxd, project, olds, news);
      throw err;
    }
    const { restarted, wasRunning, lastUsedAt } = converged;
    if (news.running && (!wasRunning || restarted)) await waitForInstance(lxd, project, news.name, news.waitFor ?? []);
    const inst = (await getInstance(lxd, news.name, { project })).value;
    // Keys still pending from an earlier update, unless the instance was started since.
    const carried = olds.lastUsedAt && lastUsedAt !== olds.lastUsedAt ? [] : olds.restartPendingKeys ?? [];
    const pending = restarted || !wasRunning ? [] : [...new Set([...carried, ...changedStartOnly])].sort();
    return outputsFrom(lxd, inst, news, pending, news);
  },

  async delete({ lxd, project }, props) {
    const t = props.timeouts ?? {};
    const { value: cur, etag } = await getInstance(lxd, props.name, { project });
    if (isTrue(cur.expanded_config?.["security.protection.delete"])) {
      if (!props.liftDeleteProtection) {
        throw new Error(`security.protection.delete=true protects it (nothing was stopped or changed). Set liftDeleteProtection: true on the resource (and run pulumi up) to let the provider lift the protection and delete it, or remove the key`);
      }
      // Instance-local "false" overrides a profile that protects it.
      await updateInstance(lxd, props.name, {
        architecture: cur.architecture, config: { ...cur.config, "security.protection.delete": "false" }, devices: cur.devices,
        profiles: cur.profiles, ephemeral: cur.ephemeral, description: cur.description,
      }, etag, { project, timeoutSec: t.updateSec ?? DEFAULT_WAIT });
    }
    if (isRunningStatus(cur.status) || cur.status === "Frozen") {
      try {
        await stopInstance(lxd, props.name, { project, graceSec: t.stopGraceSec ?? 30, timeoutSec: t.deleteSec ?? DEFAULT_WAIT });
      } catch (err) {
        if (!isNotFound(err)) throw err; // an ephemeral instance deletes itself on stop
        return;
      }
    }
    await whileBusy(() => deleteInstance(lxd, props.name, { project, timeoutSec: t.deleteSec ?? DEFAULT_WAIT }));
  },
};

/** The `source` of a create: a local image looked up in the instance's project, a remote image, or none. */
async function sourceOf(lxd: LxdClient, project: string, inputs: InstanceInputs): Promise<InstanceSource> {
  if (inputs.image === undefined) return { type: "none" };
  if (inputs.imageServer) {
    const ref = /^[0-9a-f]{12,64}$/.test(inputs.image) ? { fingerprint: inputs.image } : { alias: inputs.image };
    return { type: "image", server: inputs.imageServer, protocol: inputs.imageProtocol ?? "simplestreams", ...ref };
  }
  const fingerprint = await resolveImageFingerprint(lxd, inputs.image, { project });
  if (fingerprint) return { type: "image", fingerprint };
  const projectExists = await getProject(lxd, project).then(() => true, (err) => (isNotFound(err) ? false : Promise.reject(err)));
  throw new Error(projectExists
    ? `image "${inputs.image}" was not found in project "${project}" (as an alias or a fingerprint)`
    : `project "${project}" does not exist`);
}

/**
 * A state whose create did not finish (`Incomplete`) or whose record LXD lost (`Broken`): whatever LXD holds
 * now is brought to `news` — created if gone, replaced if broken, converged if whole.
 */
async function recover(lxd: LxdClient, project: string, olds: InstanceOutputs, news: InstanceInputs): Promise<InstanceOutputs> {
  const t = news.timeouts ?? {};
  let cur: LxdInstance | undefined;
  try {
    cur = (await getInstance(lxd, olds.name, { project })).value;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (cur && (await brokenReason(lxd, cur, project))) {
    await whileBusy(() => deleteInstance(lxd, olds.name, { project, timeoutSec: t.deleteSec ?? DEFAULT_WAIT }));
    cur = undefined;
  }
  if (!cur) return instanceKind.create({ lxd, project }, { ...news, adopt: false }, () => undefined);
  await judgeWithProfiles(lxd, project, news);
  await converge(lxd, project, cur.config ?? {}, news);
  return outputsFrom(lxd, (await getInstance(lxd, news.name, { project })).value, news, [], news);
}

/**
 * Brings an existing instance to `want`, three-way: the keys, devices, profiles and description that changed
 * between `base` (the previous inputs) and `want` are written over what LXD holds now, so a concurrent change to
 * anything else survives (case C17). The PUT carries the ETag of the read it was computed from; when another
 * writer got in between (412), it is recomputed on a fresh read, up to {@link ETAG_RETRIES} times. Then start or
 * stop as `want.running` says, restarting with `restartOnChange` for start-only keys: those this update changes, and
 * those still pending from an earlier update (`pending.keys`, unless the instance was started since `pending.since`).
 */
async function converge(
  lxd: LxdClient, project: string, baseConfig: ConfigMap, want: InstanceInputs, base?: InstanceOutputs, startOnly: string[] = [],
  pending: { keys: string[]; since?: string } = { keys: [] },
): Promise<{ restarted: boolean; wasRunning: boolean; lastUsedAt: string }> {
  const t = want.timeouts ?? {};
  let cur: LxdInstance | undefined;
  for (let attempt = 0; ; attempt++) {
    const read = await getInstance(lxd, want.name, { project });
    cur = read.value;
    const kept = splitOwnership(cur.config ?? {}, cur.devices ?? {});
    const config = base ? threeWay(baseConfig, want.config, kept.config) : want.config;
    const devices = base ? threeWay(base.devices ?? {}, want.devices, kept.devices) : want.devices;
    const profiles = base && sameJson(base.profiles, want.profiles) ? cur.profiles : want.profiles;
    const description = base && base.description === want.description ? cur.description : want.description;
    try {
      await updateInstance(lxd, want.name, {
        architecture: cur.architecture,
        config: { ...kept.foreignConfig, ...config },
        devices: { ...kept.foreignDevices, ...devices },
        profiles,
        ephemeral: want.ephemeral,
        description,
      }, read.etag, { project, timeoutSec: t.updateSec ?? DEFAULT_WAIT });
      break;
    } catch (err) {
      // Another writer got in between: a stale ETag (412), or LXD 5.0.2's per-instance operation lock when two
      // updates start at the same moment ("A matching non-reusable operation has now succeeded").
      if (!isPreconditionFailed(err) && !/matching non-reusable operation/i.test((err as Error).message)) throw withRestrictionHint(err, project);
      if (attempt + 1 >= ETAG_RETRIES) {
        throw new Error(`the instance changed concurrently ${ETAG_RETRIES} times while this update was written (ETag mismatch); nothing of this update was applied. Run \`pulumi refresh\` and retry`, { cause: err });
      }
    }
  }
  const running = isRunningStatus(cur.status); // a PUT does not start or stop an instance
  const stillPending = pending.since && cur.last_used_at !== pending.since ? [] : pending.keys;
  let restarted = false;
  const verb = want.running ? "start" : "stop";
  try {
    if (want.running && running && (startOnly.length || stillPending.length) && want.restartOnChange) {
      await stopInstance(lxd, want.name, { project, graceSec: t.stopGraceSec ?? 30, timeoutSec: t.updateSec ?? DEFAULT_WAIT });
      await startInstance(lxd, want.name, { project, timeoutSec: t.startSec ?? DEFAULT_WAIT });
      restarted = true;
    }
    if (want.running && !running) await startInstance(lxd, want.name, { project, timeoutSec: t.startSec ?? DEFAULT_WAIT });
    if (!want.running && running) await stopInstance(lxd, want.name, { project, graceSec: t.stopGraceSec ?? 30, timeoutSec: t.updateSec ?? DEFAULT_WAIT });
  } catch (err) {
    throw new Error(`Failed to ${verb} instance "${want.name}" in project "${project}": ${lxdSays(err)}`, { cause: err });
  }
  return { restarted, wasRunning: running, lastUsedAt: cur.last_used_at ?? "" };
}

export { UNKNOWN };
