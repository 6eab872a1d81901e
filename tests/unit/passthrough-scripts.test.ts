/**
 * The generated scripts, run for real on this machine where that is harmless: detect and verify only read
 * /proc and /sys; apply runs in a private mount namespace with / read-only and must refuse before writing.
 * The full apply → reboot → verify cycle runs in tests/integration/passthrough-guest.test.ts.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseDetection, parseVerifyResult } from "../../components/passthrough/detection";
import { renderApplyScript, renderDetectScript, renderVerifyScript } from "../../components/passthrough/scripts";
import { shQuote } from "../../components/passthrough/shell";

function runBash(script: string, args: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("bash", ["-s", ...args], { input: script, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const PCI = "/sys/bus/pci/devices";
const pciDevices = fs.existsSync(PCI) ? fs.readdirSync(PCI).sort() : [];
const first = pciDevices[0];
const isRoot = process.getuid?.() === 0;
const readAttr = (dev: string, attr: string) => fs.readFileSync(path.join(PCI, dev, attr), "utf8").trim().replace(/^0x/, "");
const driverOf = (dev: string) => {
  const link = path.join(PCI, dev, "driver");
  return fs.existsSync(link) ? path.basename(fs.realpathSync(link)) : "";
};

const apply = renderApplyScript({
  addresses: [],
  ids: [],
  kernelArgs: ["iommu=pt"],
  files: [{ path: "/etc/default/grub.d/pulumi-passthrough.cfg", mode: "0644", content: "x\n", effect: "grub" }],
  bindNow: false,
});

describe("generated scripts", () => {
  test("are valid bash", () => {
    for (const script of [
      renderDetectScript({ addresses: ["0000:00:01.0"], ids: ["8086:100e"] }),
      renderVerifyScript({ addresses: ["0000:00:01.0"], ids: [], kernelArgs: ["intel_iommu=on", "iommu=pt"] }),
      apply,
    ]) {
      const r = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    }
  });

  test("embed file contents byte for byte, whatever they contain", () => {
    for (const value of ["it's", 'a "quoted" $HOME `id` \\n', "line1\nline2\n", "'", "${PATH}"]) {
      expect(execFileSync("bash", ["-c", `printf %s ${shQuote(value)}`], { encoding: "utf8" })).toBe(value);
    }
  });

  test("rejects a file path outside /etc or with ..", () => {
    const bad = (p: string) => () =>
      renderApplyScript({ addresses: [], ids: [], kernelArgs: [], files: [{ path: p, mode: "0644", content: "", effect: "none" }], bindNow: false });
    expect(bad("/boot/grub/grub.cfg")).toThrow(/refusing path/);
    expect(bad("/etc/../boot/x")).toThrow(/refusing path/);
    expect(bad("/etc/x y")).toThrow(/refusing path/);
  });

  test("rejects unnormalised addresses and unsafe kernel args before rendering", () => {
    expect(() => renderDetectScript({ addresses: ["01:00.0"], ids: [] })).toThrow(/bad PCI address/);
    expect(() => renderDetectScript({ addresses: [], ids: ["10DE:2204"] })).toThrow(/bad PCI id/);
    expect(() => renderVerifyScript({ addresses: [], ids: [], kernelArgs: ["a;reboot"] })).toThrow(/refusing kernel argument/);
  });

  test("fails when a hand-edited script carries a malformed address, before touching anything", () => {
    const script = renderDetectScript({ addresses: [], ids: [] }).replace("PT_ADDRS=''", "PT_ADDRS='../../../etc'");
    const r = runBash(script);
    expect(r.status).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual({ ok: false, error: "invalid PCI address '../../../etc'" });
  });
});

(isRoot ? describe : describe.skip)("detect and verify on this machine (read-only)", () => {
  const ids = first ? [`${readAttr(first, "vendor")}:${readAttr(first, "device")}`] : [];

  test("detect reports what sysfs and /proc say", () => {
    const r = runBash(renderDetectScript({ addresses: first ? [first] : [], ids: ["fffe:fffe"] }));
    expect(r.status).toBe(0);
    const d = parseDetection(r.stdout);
    expect(d.kernelRelease).toBe(os.release());
    expect(d.cmdline).toBe(fs.readFileSync("/proc/cmdline", "utf8").trim());
    const groups = fs.existsSync("/sys/kernel/iommu_groups") ? fs.readdirSync("/sys/kernel/iommu_groups").length : 0;
    expect(d.iommuGroupCount).toBe(groups);
    expect(d.iommuActive).toBe(groups > 0);
    expect(d.missing).toEqual(["id:fffe:fffe"]);
    expect(d.refusals).toContain("no PCI device matches id:fffe:fffe");
    if (first) {
      expect(d.devices).toHaveLength(1);
      expect(d.devices[0]).toMatchObject({ address: first, claim: "address", id: ids[0], driver: driverOf(first) });
      const group = path.join(PCI, first, "iommu_group");
      expect(d.devices[0].iommuGroup).toBe(fs.existsSync(group) ? Number(path.basename(fs.realpathSync(group))) : null);
    }
  });

  test("verify reports missing args and unbound devices as needing a reboot", () => {
    const cmdline = fs.readFileSync("/proc/cmdline", "utf8");
    const r = runBash(renderVerifyScript({ addresses: [], ids, kernelArgs: ["pulumi_test_arg=1"] }));
    expect(r.status).toBe(0);
    const v = parseVerifyResult(r.stdout);
    expect(cmdline).not.toContain("pulumi_test_arg=1");
    expect(v.missingArgs).toEqual(["pulumi_test_arg=1"]);
    expect(v.rebootRequired).toBe(true);
    for (const dev of v.devices) expect(dev.driver).toBe(driverOf(dev.address));
  });

  const kind = isRoot ? parseDetection(runBash(renderDetectScript({ addresses: [], ids: [] })).stdout).bootLoader.kind : "n/a";
  (kind === "grub" ? test.skip : test)(
    `rejects this machine's boot loader (${kind}) and writes nothing, even with / read-only`,
    () => {
      // A private mount namespace whose / is read-only: should the script ever try to write, it fails loudly.
      const r = spawnSync("unshare", ["-m", "sh", "-c", "mount -o remount,bind,ro / && exec bash -s"], {
        input: apply,
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(r.status).toBe(3);
      const out = JSON.parse(r.stdout);
      expect(out.ok).toBe(false);
      expect(out.error).toMatch(new RegExp(`^boot loader '${kind}' is not supported .*nothing was changed$`));
      expect(fs.existsSync("/etc/default/grub.d/pulumi-passthrough.cfg")).toBe(false);
    },
  );
});
