/**
 * PCI addresses and vendor:device ids: validation and normalisation.
 *
 * Everything that ends up in a shell script or a host file goes through here first, so a value that
 * reaches a script is always one of two shapes: an address `dddd:bb:dd.f` (lower-case hex, domain
 * defaulted to `0000`) or an id `vvvv:pppp` (four lower-case hex digits each).
 */

/** A normalised PCI address, `DDDD:BB:DD.F` in lower case, e.g. `0000:01:00.0`. */
export type PciAddress = string;
/** A normalised vendor:device id pair, e.g. `10de:2204`. */
export type PciId = string;

/** Shape a script accepts for an address; kept in one place so TypeScript and the scripts agree. */
export const PCI_ADDRESS_PATTERN = "^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]$";
/** Shape a script accepts for a vendor:device id. */
export const PCI_ID_PATTERN = "^[0-9a-f]{4}:[0-9a-f]{4}$";

const ADDRESS_INPUT = /^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/;
const ID_INPUT = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/;

/** The outcome of a validation: the normalised value, or the reason it was refused. */
export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Normalise a PCI address. Accepts `BB:DD.F` or `DDDD:BB:DD.F` in any case; returns
 * `DDDD:BB:DD.F` lower-case with the domain defaulted to `0000`. Device numbers above 0x1f are refused.
 */
export function checkPciAddress(input: unknown): Checked<PciAddress> {
  if (typeof input !== "string") {
    return { ok: false, reason: `a PCI address must be a string like "0000:01:00.0", but ${describe(input)} was provided` };
  }
  const m = ADDRESS_INPUT.exec(input.trim());
  if (!m) {
    return {
      ok: false,
      reason: `a PCI address must be "BB:DD.F" or "DDDD:BB:DD.F" in hex, but ${JSON.stringify(input)} was provided`,
    };
  }
  const [, domain = "0", bus, device, fn] = m;
  if (parseInt(device, 16) > 0x1f) {
    return { ok: false, reason: `a PCI device number must be 00-1f, but ${JSON.stringify(input)} was provided` };
  }
  const value = `${domain.padStart(4, "0")}:${bus.padStart(2, "0")}:${device.padStart(2, "0")}.${fn}`.toLowerCase();
  return { ok: true, value };
}

/** Normalise a vendor:device id: exactly four hex digits each side, returned lower-case. */
export function checkPciId(input: unknown): Checked<PciId> {
  if (typeof input !== "string") {
    return { ok: false, reason: `a PCI id must be a string like "10de:2204", but ${describe(input)} was provided` };
  }
  const m = ID_INPUT.exec(input.trim());
  if (!m) {
    return {
      ok: false,
      reason: `a PCI id must be "vvvv:pppp" (four hex digits each), but ${JSON.stringify(input)} was provided`,
    };
  }
  return { ok: true, value: `${m[1]}:${m[2]}`.toLowerCase() };
}

/** True when a value already has the normalised address shape (used on data read back from a host). */
export function isPciAddress(value: unknown): value is PciAddress {
  return typeof value === "string" && new RegExp(PCI_ADDRESS_PATTERN).test(value);
}

/** True when a value already has the normalised id shape. */
export function isPciId(value: unknown): value is PciId {
  return typeof value === "string" && new RegExp(PCI_ID_PATTERN).test(value);
}

/** Sorted, de-duplicated copy: the order a user lists devices in must not change rendered files. */
export function uniqueSorted<T extends string>(values: readonly T[]): T[] {
  return [...new Set(values)].sort();
}

/** PCI class codes (sysfs `class`, e.g. `0x060400`) whose header is a bridge: exempt from group viability. */
export function isBridgeClass(pciClass: string): boolean {
  const c = pciClass.toLowerCase().replace(/^0x/, "");
  return c.startsWith("0604") || c.startsWith("0607");
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}
