/**
 * TEMPORARY stub (drop at merge): lets this branch compile until the real provider/policy folder lands.
 * It re-exports the old provider/security.ts and adds the two calls the kinds make with the new API.
 */
import type { ConfigMap, DeviceMap } from "../lxd/types";
import { applyOptOuts, assess as assessOld, hardenedConfig, type Finding, type Nesting, type WeakeningClass } from "../security";

export * from "../security";

/** Stub: the old assess, without findings for what the nesting and devLxd inputs set themselves. */
export function assess(config: ConfigMap, devices: DeviceMap, opts: { nesting?: Nesting; devLxd?: boolean } = {}): Finding[] {
  const asked = opts.nesting || opts.devLxd ? hardenedConfig({ type: "container", nesting: opts.nesting, devLxd: opts.devLxd }) : {};
  return assessOld(config, devices).filter((f) => !(f.key.startsWith("config.") && asked[f.key.slice(7)] === config[f.key.slice(7)]));
}

/** Stub: judges the instance's config and devices laid over its profiles (later layers win). */
export function judgeEffective(input: {
  config: ConfigMap; devices: DeviceMap; profiles: { name: string; config?: ConfigMap; devices?: DeviceMap }[];
  optOuts: readonly WeakeningClass[]; nesting?: Nesting; devLxd?: boolean;
}): { findings: Finding[]; refused: Finding[]; weakened: Finding[] } {
  const config: ConfigMap = {};
  const devices: DeviceMap = {};
  for (const p of input.profiles) Object.assign(config, p.config ?? {}), Object.assign(devices, p.devices ?? {});
  Object.assign(config, input.config);
  Object.assign(devices, input.devices);
  const findings = assess(config, devices, { nesting: input.nesting, devLxd: input.devLxd });
  return { findings, ...applyOptOuts(findings, input.optOuts) };
}
