/**
 * The JSON documents the detect, apply and verify scripts print, parsed and checked with zod.
 * Schemas are built inside functions (module-level zod schemas do not survive closure serialization).
 */
import { z } from "zod";

function schemas() {
  const groupMember = z.object({
    address: z.string(),
    id: z.string(),
    class: z.string(),
    driver: z.string(),
    bridge: z.boolean(),
  });
  const moduleState = z.enum(["builtin", "module", "missing"]);
  const detectedDevice = z.object({
    address: z.string(),
    claim: z.enum(["address", "id"]),
    id: z.string(),
    class: z.string(),
    driver: z.string(),
    hostModules: z.array(z.string()),
    iommuGroup: z.number().int().nullable(),
    bootVga: z.boolean(),
    bridge: z.boolean(),
    storageInUse: z.array(z.string()),
    group: z.array(groupMember),
  });
  const detection = z.object({
    ok: z.literal(true),
    schema: z.literal(1),
    kernelRelease: z.string(),
    os: z.object({ id: z.string(), idLike: z.string(), versionId: z.string() }),
    cpuVendor: z.string(),
    iommuPlatform: z.enum(["intel", "amd", "none"]),
    bootLoader: z.object({
      kind: z.enum(["grub", "systemd-boot", "uki", "grubby-bls", "unknown"]),
      detail: z.string(),
    }),
    cmdline: z.string(),
    iommuActive: z.boolean(),
    iommuGroupCount: z.number().int().min(0),
    secureBoot: z.enum(["enabled", "disabled", "not-efi", "unknown"]),
    modules: z.object({
      vfio: moduleState,
      vfio_iommu_type1: moduleState,
      vfio_pci: moduleState,
      vfio_virqfd: moduleState,
    }),
    devices: z.array(detectedDevice),
    missing: z.array(z.string()),
    refusals: z.array(z.string()),
  });
  const apply = z.object({
    ok: z.literal(true),
    changed: z.boolean(),
    changes: z.array(z.string()),
    rebootRequired: z.boolean(),
    missingArgs: z.array(z.string()),
  });
  const verifiedDevice = z.object({
    address: z.string(),
    id: z.string(),
    driver: z.string(),
    iommuGroup: z.number().int().nullable(),
    viable: z.boolean(),
    reason: z.string(),
  });
  const verify = z.object({
    ok: z.literal(true),
    kernelRelease: z.string(),
    cmdline: z.string(),
    missingArgs: z.array(z.string()),
    iommuActive: z.boolean(),
    iommuGroupCount: z.number().int().min(0),
    devices: z.array(verifiedDevice),
    iommuGroups: z.array(z.object({ group: z.number().int(), devices: z.array(groupMember) })),
    missing: z.array(z.string()),
    viable: z.boolean(),
    rebootRequired: z.boolean(),
  });
  const failure = z.object({ ok: z.literal(false), error: z.string() });
  return { detection, apply, verify, failure };
}

type S = ReturnType<typeof schemas>;
/** Facts about the host, as printed by the detect script. */
export type DetectionResult = z.infer<S["detection"]>;
/** One target device in a detection. */
export type DetectedDevice = DetectionResult["devices"][number];
/** What the apply script did. */
export type ApplyResult = z.infer<S["apply"]>;
/** Binding and viability, as printed by the verify script. */
export type VerifyResult = z.infer<S["verify"]>;

function parseWith<T>(kind: string, schema: z.ZodType<T>, stdout: string): T {
  const text = stdout.trim();
  const lastLine = text.split("\n").filter((l) => l.trim().startsWith("{")).pop() ?? "";
  let raw: unknown;
  try {
    raw = JSON.parse(lastLine);
  } catch {
    throw new Error(`the ${kind} script printed no JSON document: ${JSON.stringify(text.slice(0, 300))}`);
  }
  const failed = schemas().failure.safeParse(raw);
  if (failed.success) throw new Error(`the ${kind} script failed: ${failed.data.error}`);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`the ${kind} script printed JSON of an unexpected shape: ${issues}`);
  }
  return parsed.data;
}

/** Parse the detect script's stdout. Throws with the script's own message when it reported a failure. */
export function parseDetection(stdout: string): DetectionResult {
  return parseWith("detect", schemas().detection, stdout);
}

/** Parse the apply script's stdout. */
export function parseApplyResult(stdout: string): ApplyResult {
  return parseWith("apply", schemas().apply, stdout);
}

/** Parse the verify script's stdout. */
export function parseVerifyResult(stdout: string): VerifyResult {
  return parseWith("verify", schemas().verify, stdout);
}
