/** Pure parts of the storage kinds: LXD size strings, snapshot schedules, the shrink refusal, used_by in words, expiry times. */
import { describeUsers, isSnapshotSchedule, shrinkRefusal, sizeBytes } from "../../provider/kinds/storage-volume";
import { normalizeExpiry } from "../../provider/kinds/volume-snapshot";

test("sizeBytes reads LXD size strings (decimal and binary units) and refuses anything else", () => {
  expect(sizeBytes("20MiB")).toBe(20 * 2 ** 20);
  expect(sizeBytes("1GB")).toBe(1e9);
  expect(sizeBytes("512")).toBe(512);
  expect(sizeBytes("1.5GiB")).toBe(1.5 * 2 ** 30);
  for (const bad of ["", "MiB", "20 potatoes", "-1GiB", "20mib"]) expect(sizeBytes(bad)).toBeUndefined();
});

test("isSnapshotSchedule accepts five-field cron expressions and @words, comma-separated; rejects the rest", () => {
  for (const ok of ["@daily", "@hourly, @startup", "0 3 * * *", "*/15 * * * 1-5", "0 6 * * *, 0 18 * * *"]) expect(isSnapshotSchedule(ok)).toBe(true);
  for (const bad of ["every day", "@sometimes", "0 3 * *", "0 3 * * * *"]) expect(isSnapshotSchedule(bad)).toBe(false);
});

test("shrinkRefusal refuses a smaller size with the data-loss reason, unless allowShrink", () => {
  expect(shrinkRefusal("30MiB", "20MiB", false)).toMatch(/^size must not shrink \(from 30MiB to 20MiB\): .*data loss.*allowShrink: true.* but "20MiB" was provided$/);
  expect(shrinkRefusal("30MiB", "20MiB", true)).toBeUndefined();
  expect(shrinkRefusal("1GiB", "1024MiB", false)).toBeUndefined();
  expect(shrinkRefusal("20MiB", "30MiB", false)).toBeUndefined();
  expect(shrinkRefusal(undefined, "30MiB", false)).toBeUndefined();
});

test("describeUsers names instances and profiles with their project", () => {
  expect(describeUsers(["/1.0/instances/c1", "/1.0/profiles/data?project=p1"])).toBe('instance "c1", profile "data" (project "p1")');
});

test("normalizeExpiry stores RFC3339 times in UTC without fractions, and never as empty", () => {
  expect(normalizeExpiry("2031-01-31T12:00:00+02:00")).toBe("2031-01-31T10:00:00Z");
  expect(normalizeExpiry("2031-01-31T10:00:00.000000000Z")).toBe("2031-01-31T10:00:00Z");
  expect(normalizeExpiry("0001-01-01T00:00:00Z")).toBe("");
  expect(normalizeExpiry("")).toBe("");
});
