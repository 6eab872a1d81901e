import { checkPciAddress, checkPciId, isBridgeClass, isPciAddress, uniqueSorted } from "../../provider/rules/pci";

describe("checkPciAddress", () => {
  test.each([
    ["0000:01:00.0", "0000:01:00.0"],
    ["01:00.0", "0000:01:00.0"],
    ["0000:0A:1F.7", "0000:0a:1f.7"],
    ["1:2.3", "0000:01:02.3"],
    ["  10de:3:0.1 ", "10de:03:00.1"],
  ])("normalises %j to %j", (input, expected) => {
    expect(checkPciAddress(input)).toEqual({ ok: true, value: expected });
    expect(isPciAddress(expected)).toBe(true);
  });

  test.each([
    ["0000:01:00.8", /must be "BB:DD.F"/],
    ["0000:01:20.0", /device number must be 00-1f/],
    ["00000:01:00.0", /must be "BB:DD.F"/],
    ["01:00", /must be "BB:DD.F"/],
    ["01:00.0; reboot", /must be "BB:DD.F"/],
    ["$(id):00.0", /must be "BB:DD.F"/],
  ])("rejects %j", (input, reason) => {
    const r = checkPciAddress(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  test("rejects non-strings with the type in the reason", () => {
    expect(checkPciAddress(42)).toEqual({ ok: false, reason: expect.stringContaining("a number was provided") });
    expect(checkPciAddress(null)).toEqual({ ok: false, reason: expect.stringContaining("null was provided") });
  });
});

describe("checkPciId", () => {
  test("lower-cases a vendor:device pair", () => {
    expect(checkPciId("10DE:2204")).toEqual({ ok: true, value: "10de:2204" });
  });
  test.each(["10de:220", "10de-2204", "10de:2204:1", "g0de:2204", "10de:2204\n", ""])("rejects %j", (input) => {
    expect(checkPciId(input).ok).toBe(input === "10de:2204\n"); // surrounding whitespace is trimmed
  });
});

describe("helpers", () => {
  test("bridges are PCI-to-PCI and CardBus classes only", () => {
    expect(isBridgeClass("0x060400")).toBe(true);
    expect(isBridgeClass("0x060700")).toBe(true);
    expect(isBridgeClass("0x060100")).toBe(false); // ISA bridge: a normal endpoint for vfio
    expect(isBridgeClass("0x020000")).toBe(false);
  });
  test("uniqueSorted makes the rendered order independent of input order", () => {
    expect(uniqueSorted(["b", "a", "b"])).toEqual(["a", "b"]);
  });
});
