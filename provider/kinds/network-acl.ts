/**
 * NetworkAcl, host side: an LXD network ACL (API extension `network_acl`), attached to bridge or OVN NICs by the
 * NIC's `security.acls` and to networks by the network's `security.acls`.
 *
 * LXD endpoints: POST /1.0/network-acls, GET|PUT|DELETE /1.0/network-acls/{name}, GET /1.0 (extensions).
 *
 * Changing `name` or `project` (or the server) forces replacement; `description`, `ingress`, `egress` and `config`
 * are updated in place with ETags. An ACL in use (LXD's `used_by`) is never deleted: the delete fails first,
 * naming what uses it.
 */
import { z } from "zod";
import {
  createNetworkAcl, deleteNetworkAcl, getNetworkAcl, getProject, isConflict, updateNetworkAcl,
  type ConfigMap, type LxdClient, type NetworkAcl as LxdAcl, type NetworkAclRule,
} from "../lxd";
import { nameSchema, NETWORK_ACL_NAME, normalizeProject, projectSchema, configSchema } from "../rules/names";
import { aclRuleProblems, ruleFromWire, ruleToWire, type AclRule } from "../rules/acl-rules";
import { connectionSchema, type ConnectionArgs } from "../rules/connection";
import { dropEmpty, normalizeConfig, UNKNOWN, userConfig } from "../rules/values";
import { checkWith } from "../kit/check";
import type { Kind } from "../kit/contract";
import { amend } from "../kit/errors";
import { usersOf } from "../rules/used-by";

/** Inputs after check. */
export interface NetworkAclInputs {
  name: string;
  project: string;
  description: string;
  ingress: AclRule[];
  egress: AclRule[];
  config: ConfigMap;
  connection?: ConnectionArgs;
}

/** State. */
export interface NetworkAclOutputs extends NetworkAclInputs {
  /** What uses the ACL (LXD's `used_by`: networks, instances, profiles, other ACLs). */
  usedBy: string[];
}

function ruleSchema() {
  const text = z.union([z.string(), z.number()]).transform(String);
  return z
    .object({
      action: z.enum(["allow", "reject", "drop"]),
      source: z.string().optional(),
      destination: z.string().optional(),
      protocol: z.enum(["tcp", "udp", "icmp4", "icmp6"]).optional(),
      sourcePort: text.optional(),
      destinationPort: text.optional(),
      icmpType: text.optional(),
      icmpCode: text.optional(),
      description: z.string().optional(),
      state: z.enum(["enabled", "disabled", "logged"]).default("enabled"),
    })
    .strict()
    .superRefine((r, ctx) => {
      for (const [field, message] of aclRuleProblems(r as AclRule)) ctx.addIssue({ code: "custom", path: [field], message });
    });
}

function schema() {
  return z
    .object({
      name: nameSchema(NETWORK_ACL_NAME),
      project: projectSchema(),
      description: z.string().default(""),
      ingress: z.array(ruleSchema()).default([]),
      egress: z.array(ruleSchema()).default([]),
      config: configSchema().default({}),
      connection: connectionSchema().optional(),
    })
    .strict();
}

/** Drops `undefined` and "" fields of a rule (the protocol rejects `undefined`; LXD stores "" as absent). */
const tidy = (r: AclRule): AclRule => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined && v !== "")) as unknown as AclRule;

function outputsFrom(a: LxdAcl, inputs: NetworkAclInputs): NetworkAclOutputs {
  return {
    ...inputs,
    name: a.name,
    description: a.description ?? "",
    ingress: (a.ingress ?? []).map(ruleFromWire),
    egress: (a.egress ?? []).map(ruleFromWire),
    config: userConfig(a.config),
    usedBy: a.used_by ?? [],
  } satisfies NetworkAclOutputs;
}

/** Refuses when the server has no network ACLs, or the project has no networks of its own. */
async function canHold(lxd: LxdClient, project: string): Promise<void> {
  if (!(await lxd.hasExtension("network_acl"))) throw new Error("the LXD server does not support network ACLs (API extension network_acl is missing)");
  if (project === "default") return;
  const p = (await getProject(lxd, project)).value;
  if (p.config?.["features.networks"] !== "true") {
    throw new Error(`project "${project}" has no networks of its own (features.networks is not true), so the ACL would be created in the "default" project. Give the project features.networks=true, or declare the ACL with project "default"`);
  }
}

const put = (i: NetworkAclInputs) => ({
  description: i.description, config: i.config, ingress: i.ingress.map(ruleToWire) as NetworkAclRule[], egress: i.egress.map(ruleToWire) as NetworkAclRule[],
});

export const networkAclKind: Kind<NetworkAclInputs, NetworkAclOutputs> = {
  noun: "network ACL",
  outputKeys: ["usedBy"],
  diffKeys: ["name", "description", "ingress", "egress", "config", "project"],
  replaceKeys: ["name", "project"],

  async check(news) {
    const { value, failures, unknownKeys } = checkWith(schema(), news, { keepUnknown: true });
    if (!value) return { failures };
    const unknown = (k: string) => unknownKeys.includes(k);
    const project = unknown("project") ? value.project! : normalizeProject(value.project);
    const config = unknown("config") ? (UNKNOWN as never as ConfigMap) : dropEmpty(normalizeConfig(value.config));
    const rules = (k: "ingress" | "egress") => (unknown(k) ? (UNKNOWN as never as AclRule[]) : (value[k] as AclRule[]).map(tidy));
    return { inputs: { ...value, project, config, ingress: rules("ingress"), egress: rules("egress") } };
  },

  async create({ lxd, project }, inputs, accepted) {
    await canHold(lxd, project);
    try {
      await createNetworkAcl(lxd, { name: inputs.name, ...put(inputs) }, { project });
    } catch (err) {
      if (isConflict(err)) throw amend(err, " (an ACL of this name already exists in the project)");
      throw err;
    }
    accepted();
    return outputsFrom((await getNetworkAcl(lxd, inputs.name, { project })).value, inputs);
  },

  async read({ lxd, project }, props) {
    return outputsFrom((await getNetworkAcl(lxd, props.name, { project })).value, props);
  },

  async update({ lxd, project }, _olds, news) {
    const { etag } = await getNetworkAcl(lxd, news.name, { project });
    await updateNetworkAcl(lxd, news.name, put(news), etag, { project });
    return outputsFrom((await getNetworkAcl(lxd, news.name, { project })).value, news);
  },

  async delete({ lxd, project }, props) {
    const users = (await getNetworkAcl(lxd, props.name, { project })).value.used_by ?? [];
    if (users.length) {
      throw new Error(`network ACL "${props.name}" is in use by ${usersOf(users).join(", ")}; nothing was changed. Remove it from their security.acls first`);
    }
    await deleteNetworkAcl(lxd, props.name, { project });
  },
};
