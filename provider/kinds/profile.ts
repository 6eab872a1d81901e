/**
 * Profile, host side: an LXD profile (config and devices shared by instances), checked by the hardening policy.
 *
 * LXD endpoints: POST /1.0/profiles, GET|PUT|POST(rename)|DELETE /1.0/profiles/{name}, GET /1.0/projects/{name}.
 *
 * Changing `project` (or the LXD server) forces replacement; `name` is renamed in place; the rest is updated
 * in place with ETags. The `default` profile of a project always exists: it is adopted (its content kept in
 * state) and updated, never created; on destroy its adopted content is put back, never deleted (case C06).
 * In a project without `features.profiles=true` the project's profiles ARE the `default` project's: declaring
 * one there is refused before anything is written (name the `default` project instead).
 */
import { z } from "zod";
import {
  createProfile, deleteProfile, getProfile, getProject, hostHasAppArmor, isConflict, isNotFound, renameProfile, updateProfile,
  type ConfigMap, type DeviceMap, type LxdClient, type Profile as LxdProfile, type ProfilePut,
} from "../lxd";
import { applyOptOuts, assess, refusalMessage, securityReport, WEAKENING_CLASSES, type Finding, type SecurityReport, type WeakeningClass } from "../policy";
import { nameSchema, normalizeProject, PROFILE_NAME, projectSchema, scalarSchema, configSchema } from "../rules/names";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { configFor } from "../rules/server-keys";
import { containsUnknown, dropEmpty, normalizeConfig, normalizeDevices, UNKNOWN, userConfig } from "../rules/values";
import { serverKindAtCheck } from "../kit/server-kind";
import { checkWith } from "../kit/check";
import { withNicDefaults } from "../kit/nic-defaults";
import type { Kind } from "../kit/contract";
import { amend, lxdSays } from "../kit/errors";

/** Inputs after check. */
export interface ProfileInputs {
  name: string;
  project: string;
  config: ConfigMap;
  devices: DeviceMap;
  description: string;
  securityOptOuts: WeakeningClass[];
  adopt: boolean;
  weakenInstancesInUse: boolean;
  connection?: ConnectionArgs;
}

/** State. */
export interface ProfileOutputs extends ProfileInputs {
  /** Content the profile had before it was adopted (put back on destroy); absent for profiles this stack created. */
  adoptedFrom?: ProfilePut;
  /** Instances and other objects LXD lists as using the profile. */
  usedBy: string[];
  /** Confinement settings this profile carries. */
  securityReport: SecurityReport;
}

function schema() {
  const scalar = scalarSchema();
  return z
    .object({
      name: nameSchema(PROFILE_NAME),
      project: projectSchema(),
      config: configSchema().default({}),
      devices: z.record(z.string(), z.record(z.string(), scalar).refine((d) => typeof d.type === "string", "must have a type")).default({}),
      description: z.string().default(""),
      securityOptOuts: z.array(z.enum(WEAKENING_CLASSES)).default([]),
      adopt: z.boolean().default(false),
      weakenInstancesInUse: z.boolean().default(false),
      connection: connectionSchema().optional(),
    })
    .strict();
}

async function outputsFrom(lxd: LxdClient, p: LxdProfile, inputs: ProfileInputs, adoptedFrom?: ProfilePut): Promise<ProfileOutputs> {
  const config = userConfig(p.config);
  return {
    ...inputs,
    name: p.name,
    config,
    devices: p.devices ?? {},
    description: p.description ?? "",
    adoptedFrom,
    usedBy: p.used_by ?? [],
    securityReport: securityReport(config, assess(config, p.devices ?? {}), { apparmor: await hostHasAppArmor(lxd) }, inputs.securityOptOuts ?? []),
  } satisfies ProfileOutputs;
}

/**
 * Refuses a profile in a project whose profiles are the `default` project's (`features.profiles` not true): it
 * would rewrite the `default` project's profile of that name, used by every such project.
 */
async function ownProfiles(lxd: LxdClient, project: string): Promise<void> {
  if (project === "default") return;
  const p = (await getProject(lxd, project)).value;
  if (p.config?.["features.profiles"] !== "true") {
    throw new Error(`project "${project}" has no profiles of its own (features.profiles is not true), so this would rewrite the "default" project's profile. Give the project features.profiles=true (only possible while it holds no instances), or declare the profile with project "default"`);
  }
}

/**
 * Refuses content that adds a weakening while instances use the profile (LXD's `used_by`, read now: a state's
 * `usedBy` is as old as the last refresh), unless `weakenInstancesInUse`.
 * @param before the content the instances were judged with (the state, or an adopted profile's live content)
 */
async function guardInUse(lxd: LxdClient, project: string, news: ProfileInputs, before: { config?: ConfigMap; devices?: DeviceMap }, usedBy?: string[]): Promise<void> {
  if (news.weakenInstancesInUse || news.config === (UNKNOWN as never) || news.devices === (UNKNOWN as never)) return;
  const added = newFindings(before, news);
  if (!added.length) return;
  let users = usedBy;
  if (!users) {
    try {
      users = (await getProfile(lxd, news.name, { project })).value.used_by ?? [];
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
  const instances = users.filter((u) => u.startsWith("/1.0/instances/")).map((u) => decodeURIComponent(u.split("/").pop()!.split("?")[0]));
  if (!instances.length) return;
  throw new Error(`profile "${news.name}": this change would weaken confinement of the instances already using it (${instances.join(", ")}), which were not judged with it: ${added.map((f) => `${f.key} (${f.class}): ${f.reason}`).join("; ")}. Set weakenInstancesInUse: true on the profile to apply it anyway`);
}

/** Findings a profile's new content has that its previous content had not (by class and key). */
function newFindings(olds: { config?: ConfigMap; devices?: DeviceMap }, news: { config: ConfigMap; devices: DeviceMap }): Finding[] {
  const had = new Set(assess(olds.config ?? {}, olds.devices ?? {}).map((f) => `${f.class} ${f.key}`));
  return assess(news.config, news.devices).filter((f) => !had.has(`${f.class} ${f.key}`));
}

export const profileKind: Kind<ProfileInputs, ProfileOutputs> = {
  noun: "profile",
  outputKeys: ["usedBy", "securityReport", "adoptedFrom"],
  diffKeys: ["name", "config", "devices", "description", "project"],
  replaceKeys: ["project"],

  async check(news, { olds, open }) {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    const unknown = (k: string) => unknownKeys.includes(k);
    // The guest API keys in the server's spelling (security.devlxd on LXD, security.guestapi on Incus).
    const server = await serverKindAtCheck(open, unknown("connection") || containsUnknown([value.connection]));
    if (server.failure) failures.push(server.failure);
    const given = unknown("config") ? (UNKNOWN as never as ConfigMap) : normalizeConfig(value.config);
    const config = unknown("config") || !server.kind ? given : configFor(server.kind, given);
    // Bridged nics get LXD's spoofing filters unless the user sets them (provider/policy/nic.ts).
    const devices = unknown("devices") ? (UNKNOWN as never as DeviceMap) : await withNicDefaults(normalizeDevices(value.devices), olds.devices, open);
    if (!unknown("config") && !unknown("devices") && !unknown("securityOptOuts")) {
      for (const f of applyOptOuts(assess(config, devices), value.securityOptOuts).refused) {
        failures.push({ property: f.key.startsWith("devices.") ? "devices" : "config", reason: refusalMessage(f) });
      }
    }
    if (failures.length) return { failures };
    const project = unknown("project") ? value.project! : normalizeProject(value.project);
    return { inputs: { ...value, project, config: unknown("config") ? config : dropEmpty(config), devices } };
  },

  async diff(olds, news, base, open) {
    // The default profile cannot be renamed: moving to or from it means another profile.
    if (olds.name !== news.name && (olds.name === "default" || news.name === "default")) {
      return { ...base, changes: true, replaces: [...(base.replaces ?? []), "name"], deleteBeforeReplace: true };
    }
    // A change that weakens the instances already using the profile is said at preview (LXD's used_by, read now).
    if (base.changes && !(base.replaces ?? []).length && olds.name === news.name) {
      const { lxd, project } = open();
      await guardInUse(lxd, project, news, olds);
    }
    return base;
  },

  async create({ lxd, project }, inputs, accepted) {
    await ownProfiles(lxd, project);
    const put: ProfilePut = { config: inputs.config, devices: inputs.devices, description: inputs.description };
    if (inputs.name === "default" || inputs.adopt) {
      try {
        const { value, etag } = await getProfile(lxd, inputs.name, { project });
        const adoptedFrom: ProfilePut = { config: value.config ?? {}, devices: value.devices ?? {}, description: value.description ?? "" };
        // Adopting rewrites a profile instances may use: judged against what they run with now.
        await guardInUse(lxd, project, inputs, adoptedFrom, value.used_by ?? []);
        await updateProfile(lxd, inputs.name, put, etag, { project });
        accepted({ adoptedFrom });
        return outputsFrom(lxd, (await getProfile(lxd, inputs.name, { project })).value, inputs, adoptedFrom);
      } catch (err) {
        if (!isNotFound(err) || inputs.name === "default") throw new Error(`Failed to adopt profile "${inputs.name}" in project "${project}": ${lxdSays(err)}`, { cause: err });
      }
    }
    try {
      await createProfile(lxd, { name: inputs.name, ...put }, { project });
    } catch (err) {
      if (isConflict(err)) throw amend(err, " (set adopt: true to bring the existing profile under management)");
      throw err;
    }
    accepted();
    return outputsFrom(lxd, (await getProfile(lxd, inputs.name, { project })).value, inputs);
  },

  async read({ lxd, project }, props) {
    return outputsFrom(lxd, (await getProfile(lxd, props.name, { project })).value, props, props.adoptedFrom);
  },

  async update({ lxd, project }, olds, news) {
    await ownProfiles(lxd, project);
    if (olds.name !== news.name) await renameProfile(lxd, olds.name, news.name, { project });
    const { value: live, etag } = await getProfile(lxd, news.name, { project });
    await guardInUse(lxd, project, news, olds, live.used_by ?? []);
    await updateProfile(lxd, news.name, { config: news.config, devices: news.devices, description: news.description }, etag, { project });
    return outputsFrom(lxd, (await getProfile(lxd, news.name, { project })).value, news, olds.adoptedFrom);
  },

  async delete({ lxd, project }, props) {
    if (props.name === "default" || props.adoptedFrom) {
      // Never delete what LXD owns or what existed before this stack: put the adopted content back.
      const { etag } = await getProfile(lxd, props.name, { project });
      const back = props.adoptedFrom ?? { config: {}, devices: {}, description: "Default LXD profile" };
      await updateProfile(lxd, props.name, back, etag, { project });
      return;
    }
    await deleteProfile(lxd, props.name, { project });
  },
};
