export { WEAKENING_CLASSES, REFUSED_CLASSES, canOptOut, type WeakeningClass, type RefusedClass, type FindingClass, type Finding } from "./classes";
export {
  POLICY, MULTI_LINE_KEYS, PROTECTED_HOST_PATHS, KERNEL_LIMIT_BOUNDS, HARMLESS_LXC_KEYS, policyRows, ruleOf, protectedPathOf, isHarmlessLxcKey,
  type PolicyRow, type ConfigRow, type RawLxcRow, type DeviceRow, type ServerConfigRow, type TrustRow, type PolicyClass, type PolicyExample, type PolicyRowText,
} from "./table";
export { assess, judgeRawLxc, judgeConfigValue, judgeDevice, applyOptOuts, refusalMessage, type JudgeOptions } from "./judge";
export { judgeEffective, type ProfileLayer, type EffectiveInput, type EffectiveJudgement } from "./effective";
export { IDMAP_BLOCK, NESTED_LXD_SKIP, DEFAULT_LIMITS, idmapSizeFor, hardenedConfig, type Nesting } from "./hardened";
export { securityReport, type SecurityReport } from "./report";
export { PREVIEW_UNKNOWN, LXD_TRUE, LXD_FALSE, isTrue, isFalse, hasLineBreak } from "./values";
export { fillNicDefaults, nicFilterDefaults, nicNetworkNames, nicNetworkName, type NicNetwork } from "./nic";
export { NIC_FILTER_KEYS, isBridgedNic } from "./table";
export {
  SERVER_OPT_OUTS, TRUST_OPT_OUTS, LISTENER_KEYS, ADDRESS_KEYS, INTEGER_KEYS, WRITE_ONLY_SERVER_KEYS, splitAddress, bindKind,
  serverConfigShapeErrors, judgeServerConfig, judgeTrust, serverConfigNotes, serverRefusal, serverWarning, applyServerOptOuts,
  type ServerOptOut, type TrustOptOut, type ServerFinding, type BindKind,
} from "./server";
