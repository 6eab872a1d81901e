/**
 * Judging what will really run: the instance's config and devices laid over its profiles the way LXD expands
 * them, each finding naming where its setting came from.
 */
import type { ConfigMap, DeviceMap } from "../lxd";
import type { Finding, WeakeningClass } from "./classes";
import { applyOptOuts, judgeConfigValue, judgeDevice, type JudgeOptions } from "./judge";
import { isUnknownMap } from "./values";

/** One profile of the instance, as LXD holds it (`GET /1.0/profiles/<name>`). */
export interface ProfileLayer {
  name: string;
  config?: ConfigMap;
  devices?: DeviceMap;
}

/** What `judgeEffective` judges. */
export interface EffectiveInput extends JudgeOptions {
  /** The instance's own config, hardened defaults included, BEFORE empty values are dropped (an empty value is itself a finding). */
  config: ConfigMap;
  /** The instance's own devices. */
  devices: DeviceMap;
  /** The instance's profiles in the order LXD applies them (the instance's `profiles` list). */
  profiles: ProfileLayer[];
  /** The instance's `securityOptOuts`. */
  optOuts: readonly WeakeningClass[];
}

/** The result of `judgeEffective`. */
export interface EffectiveJudgement {
  /** The config LXD will run with (its `expanded_config`, without the `volatile.*` keys LXD adds itself). */
  config: ConfigMap;
  /** The devices LXD will run with (its `expanded_devices`). */
  devices: DeviceMap;
  /** Where each effective config key and device came from: `instance` or `profile "<name>"`. */
  configSources: Record<string, string>;
  deviceSources: Record<string, string>;
  /** Every finding, each with its `source`; then split by the opt-outs. */
  findings: Finding[];
  refused: Finding[];
  weakened: Finding[];
}

/**
 * Lays the instance over its profiles as LXD expands them and judges the result:
 * - config: the profiles in order, later ones winning, then the instance's own keys over all; an empty value
 *   in any layer sets nothing (LXD does not store it), so the layer below shows through. An empty value in the
 *   instance's own config is ALSO judged on its own (source `instance`): on a key `hardenedConfig` sets it is a
 *   finding, since it lets a profile or LXD's default decide.
 * - devices: a device of the same name in a later profile or in the instance replaces the earlier device whole.
 * - each finding's `source` is the layer the effective setting came from; `refusalMessage` names it.
 * - a weakening a profile sets but a later layer shadows is a finding too (its reason says what shadows it).
 * Preview unknowns (a whole layer, a value or a device) are carried into the result and never judged.
 */
export function judgeEffective(input: EffectiveInput): EffectiveJudgement {
  const layers = [
    ...input.profiles.map((p) => ({ source: `profile "${p.name}"`, config: p.config ?? {}, devices: p.devices ?? {} })),
    { source: "instance", config: input.config, devices: input.devices },
  ];
  const config: ConfigMap = {};
  const configSources: Record<string, string> = {};
  const devices: DeviceMap = {};
  const deviceSources: Record<string, string> = {};
  for (const layer of layers) {
    if (!isUnknownMap(layer.config)) {
      for (const [k, v] of Object.entries(layer.config)) {
        if (v === "") continue;
        config[k] = v;
        configSources[k] = layer.source;
      }
    }
    if (!isUnknownMap(layer.devices)) {
      for (const [n, d] of Object.entries(layer.devices)) {
        devices[n] = d;
        deviceSources[n] = layer.source;
      }
    }
  }
  const opts: JudgeOptions = { nesting: input.nesting, devLxd: input.devLxd };
  const from = (source: string) => (f: Finding): Finding => ({ ...f, source });
  const emptied = isUnknownMap(input.config)
    ? []
    : Object.entries(input.config).filter(([, v]) => v === "").flatMap(([k]) => judgeConfigValue(k, "", opts).map(from("instance")));
  const effective = [
    ...Object.entries(config).flatMap(([k, v]) => judgeConfigValue(k, v, opts).map(from(configSources[k]))),
    ...emptied,
    ...Object.entries(devices).flatMap(([n, d]) => judgeDevice(n, d).map(from(deviceSources[n]))),
  ];
  // A weakening a profile sets that a later layer shadows today is judged too (case C15): only that other
  // layer's key keeps it from taking effect, and a change there (an opted-out "", `lxc config unset`) would
  // switch it on without any judgement.
  const seen = new Set(effective.map((f) => `${f.source} ${f.key}`));
  const shadowed = input.profiles.flatMap((p) => {
    const source = `profile "${p.name}"`;
    const cfg = isUnknownMap(p.config) ? [] : Object.entries(p.config ?? {}).filter(([k, v]) => v !== "" && configSources[k] !== source)
      .flatMap(([k, v]) => judgeConfigValue(k, v, opts).map((f) => ({ ...f, source, reason: `${f.reason} (shadowed today by ${configSources[k] === "instance" ? "the instance's own value" : configSources[k]})` })));
    const dev = isUnknownMap(p.devices) ? [] : Object.entries(p.devices ?? {}).filter(([n]) => deviceSources[n] !== source)
      .flatMap(([n, d]) => judgeDevice(n, d).map((f) => ({ ...f, source, reason: `${f.reason} (shadowed today by ${deviceSources[n] === "instance" ? "the instance's own device" : deviceSources[n]})` })));
    return [...cfg, ...dev].filter((f) => !seen.has(`${f.source} ${f.key}`));
  });
  const findings = [...effective, ...shadowed];
  return { config, devices, configSources, deviceSources, findings, ...applyOptOuts(findings, input.optOuts) };
}
