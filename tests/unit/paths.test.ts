/** Paths and modes inside an instance (provider/rules/paths.ts): pure rules, no LXD. */
import { modeString, normalizeInstancePath, parseMode } from "../../provider/rules/paths";

test("normalises absolute paths: // and . collapse, .. resolves below the root", () => {
  expect(normalizeInstancePath("/etc//app/./conf").path).toBe("/etc/app/conf");
  expect(normalizeInstancePath("/etc/app/../x").path).toBe("/etc/x");
  expect(normalizeInstancePath("/a/b/../../c", "path", { file: true }).path).toBe("/c");
  expect(normalizeInstancePath("/", "cwd").path).toBe("/");
});

test("rejects paths that climb above the root, relative paths, NUL bytes, and non-file paths for files", () => {
  expect(normalizeInstancePath("/../etc/shadow").error).toBe(`path must stay inside the instance's root filesystem, but "/../etc/shadow" was provided (its ".." climbs above /)`);
  expect(normalizeInstancePath("/a/../../b").error).toMatch(/must stay inside/);
  expect(normalizeInstancePath("a/b").error).toMatch(/^path must be an absolute path/);
  expect(normalizeInstancePath("/a\0b").error).toMatch(/NUL/);
  expect(normalizeInstancePath("/a/", "path", { file: true }).error).toMatch(/no trailing/);
  expect(normalizeInstancePath("/a/..", "path", { file: true }).error).toMatch(/must name a file below \//);
  expect(normalizeInstancePath("/a/..", "cwd").path).toBe("/");
});

test("modes: numbers are values up to 0o777, strings are octal; a decimal 644 is refused with a hint", () => {
  expect(parseMode(0o640).mode).toBe(0o640);
  expect(parseMode("0640").mode).toBe(0o640);
  expect(parseMode("640").mode).toBe(0o640);
  // LXD's file API drops setuid, setgid and sticky bits: refused rather than a perpetual diff.
  expect(parseMode("0o4755").error).toMatch(/only the permission bits .*drops setuid/);
  expect(parseMode("4755").error).toMatch(/only the permission bits/);
  expect(parseMode("1777").error).toMatch(/only the permission bits/);
  expect(parseMode(644).error).toMatch(/but 644 was provided \(a decimal 644 is mode 01204; write 0o644 or "0644"\)/);
  expect(parseMode(-1).error).toMatch(/must be a permission mode/);
  expect(parseMode("0888").error).toMatch(/but "0888" was provided/);
  expect(parseMode("07777").error).toMatch(/only the permission bits/);
  expect(parseMode("17777").error).toMatch(/must be a permission mode/);
  expect(modeString(0o640)).toBe("0640");
  expect(modeString(0o4755)).toBe("4755");
});
