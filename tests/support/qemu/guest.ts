/**
 * Drives the Debian guest that plays the "host" in the passthrough guest test.
 *
 * One boot = one `stage.sh` (written by the test) plus any files it needs, packed as a tar archive onto the
 * payload disk; the guest's runner executes it and writes its results directory onto the results disk as a tar
 * archive, which is read back here. No network anywhere: QEMU runs with `-nodefaults -nic none`.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const HERE = __dirname;
const REPO = path.resolve(HERE, "../../..");

/** Tools the guest test needs on the machine running jest. */
export const REQUIRED_TOOLS = ["qemu-system-x86_64", "debootstrap", "sfdisk", "mkfs.ext4", "tar", "timeout"];

/** Names of required tools that are not on PATH. */
export function missingTools(): string[] {
  return REQUIRED_TOOLS.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
}

function run(cmd: string, args: string[], what: string, timeoutMs: number): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`${what} failed (status ${r.status}, signal ${r.signal}):\n${(r.stderr ?? "").slice(-4000)}`);
  }
  return r.stdout;
}

/** Build or reuse the cached rootfs tarball (about 80 s the first time); returns its path. */
export function ensureRootfs(): string {
  const out = run("bash", [path.join(HERE, "build-rootfs.sh"), path.join(REPO, ".cache")], "build-rootfs.sh", 15 * 60_000);
  return out.trim().split("\n").pop() as string;
}

/** Result files of one boot. */
export class BootResult {
  constructor(
    readonly dir: string,
    readonly seconds: number,
    readonly serialLog: string,
  ) {}
  /** Content of a result file, or throws naming the missing file and the stage log. */
  file(name: string): string {
    const p = path.join(this.dir, name);
    if (!fs.existsSync(p)) throw new Error(`guest wrote no ${name}; stage log:\n${this.stageLog()}`);
    return fs.readFileSync(p, "utf8");
  }
  has(name: string): boolean {
    return fs.existsSync(path.join(this.dir, name));
  }
  stageLog(): string {
    const p = path.join(this.dir, "stage.log");
    return fs.existsSync(p) ? fs.readFileSync(p, "utf8").slice(-6000) : "(no stage.log)";
  }
}

/** A guest disk plus the work directory that holds it. */
export class Guest {
  private boots = 0;
  private constructor(readonly work: string) {}

  /** Build a fresh boot disk from the rootfs tarball (about 15 s). */
  static create(rootfsTar: string): Guest {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "pt-guest-"));
    run("bash", [path.join(HERE, "make-disk.sh"), rootfsTar, work], "make-disk.sh", 10 * 60_000);
    return new Guest(work);
  }

  /**
   * Boot once. `stage` is the bash script the guest runs with its results directory as `$1`; `files` are put next
   * to it. `mode`: "direct" (kernel + initrd from the disk image, before GRUB exists) or "bios" (SeaBIOS → GRUB).
   */
  boot(stage: string, files: Record<string, string>, mode: "direct" | "bios", opts: { iommu?: boolean } = {}): BootResult {
    const n = this.boots++;
    const payloadDir = path.join(this.work, `payload-${n}`);
    fs.mkdirSync(payloadDir);
    fs.writeFileSync(path.join(payloadDir, "stage.sh"), stage);
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(payloadDir, name), content);
    const tar = path.join(this.work, `payload-${n}.tar`);
    run("tar", ["-cf", tar, "-C", payloadDir, "."], "tar payload", 60_000);
    const started = Date.now();
    const r = spawnSync("bash", [path.join(HERE, "run-guest.sh"), this.work, tar, mode, "480"], {
      encoding: "utf8",
      timeout: 9 * 60_000,
      env: { ...process.env, IOMMU: opts.iommu === false ? "0" : "1" },
    });
    const seconds = (Date.now() - started) / 1000;
    const serialPath = path.join(this.work, `serial-${n}.log`);
    const serialLog = fs.existsSync(serialPath) ? fs.readFileSync(serialPath, "utf8") : "";
    if (r.status !== 0) throw new Error(`boot ${n} (${mode}) failed: ${r.stderr}\n--- serial tail ---\n${serialLog.slice(-4000)}`);
    const dir = path.join(this.work, `results-${n}`);
    fs.mkdirSync(dir);
    run("tar", ["-xf", path.join(this.work, "results.img"), "-C", dir], "reading the results disk", 60_000);
    const result = new BootResult(dir, seconds, serialLog);
    const rc = result.has("stage.rc") ? result.file("stage.rc").trim() : "(none)";
    if (rc !== "0") throw new Error(`boot ${n} (${mode}): stage.sh exited ${rc}\n${result.stageLog()}`);
    return result;
  }

  /** Remove the work directory (the 2 GiB sparse disk and all results). */
  destroy(): void {
    fs.rmSync(this.work, { recursive: true, force: true });
  }
}
