/**
 * Paths and permission modes inside an instance, defined once (InstanceFile, InstanceExec `cwd`). Pure functions:
 * no client, no Pulumi.
 */

/**
 * An absolute path inside an instance, normalised: `//` and `.` segments collapsed, `..` resolved.
 * @returns `{path}` or `{error}` in the project's wording (`<field> must be …, but … was provided`): the path must
 *   be absolute, must not climb above the instance's root with `..` (`/../etc/x`), must name something below `/`
 *   (not `/` itself, no trailing `/` when `file` is true) and must not hold a NUL byte.
 */
export function normalizeInstancePath(raw: string, field = "path", opts: { file?: boolean } = {}): { path: string; error?: undefined } | { path?: undefined; error: string } {
  const shown = JSON.stringify(raw);
  if (!raw.startsWith("/")) return { error: `${field} must be an absolute path inside the instance (starting with /), but ${shown} was provided` };
  if (raw.includes("\0")) return { error: `${field} must not contain a NUL byte, but ${shown} was provided` };
  if (opts.file && raw.endsWith("/")) return { error: `${field} must name a file (no trailing /), but ${shown} was provided` };
  const out: string[] = [];
  for (const seg of raw.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (!out.length) return { error: `${field} must stay inside the instance's root filesystem, but ${shown} was provided (its ".." climbs above /)` };
      out.pop();
      continue;
    }
    out.push(seg);
  }
  if (opts.file && !out.length) return { error: `${field} must name a file below /, but ${shown} was provided` };
  return { path: `/${out.join("/")}` };
}

/**
 * A permission mode from a number (its value: write `0o644` in TypeScript) or an octal string (`"644"`, `"0644"`,
 * `"0o644"`). Only the permission bits (0–0o777): LXD's file API drops setuid, setgid and sticky bits, so they are
 * refused; a decimal number such as `644` (which is 0o1204) is refused with a hint.
 * @returns `{mode}` (a number) or `{error}`.
 */
export function parseMode(raw: string | number, field = "mode"): { mode: number; error?: undefined } | { mode?: undefined; error: string } {
  if (typeof raw === "number") {
    if (Number.isInteger(raw) && raw >= 0 && raw <= 0o777) return { mode: raw };
    const hint = Number.isInteger(raw) && /^[0-7]{3,4}$/.test(String(raw)) ? ` (a decimal ${raw} is mode 0${raw.toString(8)}; write 0o${raw} or "${String(raw).padStart(4, "0")}")` : "";
    return { error: `${field} must be a permission mode: a number from 0 to 0o777 or an octal string such as "0644", but ${raw} was provided${hint}` };
  }
  const m = /^(?:0o)?0*([0-7]{1,4})$/i.exec(raw.trim());
  if (!m) return { error: `${field} must be a permission mode: a number from 0 to 0o777 or an octal string such as "0644", but ${JSON.stringify(raw)} was provided` };
  const mode = parseInt(m[1], 8);
  // LXD's file API keeps only the permission bits: a setuid, setgid or sticky bit would be dropped silently and
  // the file would differ from its state on every run.
  if (mode > 0o777) return { error: `${field} must carry only the permission bits (0 to 0777): LXD's file API drops setuid, setgid and sticky bits, but ${JSON.stringify(raw)} was provided` };
  return { mode };
}

/** A mode as 4 octal digits, e.g. `"0644"`: how the state holds it. */
export function modeString(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}
