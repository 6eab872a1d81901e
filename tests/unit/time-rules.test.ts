/** RFC3339 timestamps as LXD takes and gives them (provider/rules/time.ts): one spelling per instant, LXD's zero time = absent. */
import { canonicalTime, isZeroTime, rfc3339Schema } from "../../provider/rules/time";

test("canonicalTime gives one UTC spelling per instant; LXD's zero time and absent values give undefined", () => {
  expect(canonicalTime("2030-01-31T13:00:00+01:00")).toBe("2030-01-31T12:00:00Z");
  expect(canonicalTime("2030-01-31T12:00:00Z")).toBe("2030-01-31T12:00:00Z");
  expect(canonicalTime("2030-01-31T12:00:00.250000000Z")).toBe("2030-01-31T12:00:00.250Z");
  expect(canonicalTime("0001-01-01T00:00:00Z")).toBeUndefined();
  expect(canonicalTime(undefined)).toBeUndefined();
  expect(isZeroTime("0001-01-01T00:00:00Z")).toBe(true);
  expect(isZeroTime("2030-01-31T12:00:00Z")).toBe(false);
});

test("rejects timestamps that are not RFC3339, with the value", () => {
  const s = rfc3339Schema();
  expect(s.safeParse("2030-01-31T12:00:00Z").success).toBe(true);
  expect(s.safeParse("2030-01-31T12:00:00-05:30").success).toBe(true);
  for (const bad of ["tomorrow", "2030-01-31", "2030-01-31 12:00:00Z", "2030-13-40T12:00:00Z", "2030-01-31T12:00:00"]) {
    const r = s.safeParse(bad);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].message).toBe(`must be an RFC3339 timestamp such as 2030-01-31T12:00:00Z, but ${JSON.stringify(bad)} was provided`);
  }
});
