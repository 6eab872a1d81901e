/**
 * ServerSettings through the real provider host, against a private daemon of the run's backend (LXD, or incusd on
 * the Incus run; tests/support/private-lxd.ts): its own data directory and a network namespace with only loopback,
 * so nothing it binds is reachable from anywhere and a wildcard bind opted out of can be applied for real. The
 * shared daemon's config is never changed. `core.trust_password` is set on LXD and refused at check on Incus (which
 * has none).
 */
import { startProviderHost, UNKNOWN, type ProviderHost } from "../support/provider-host";
import { CheckFailed, MiniEngine, randomName } from "../support/engine";
import { startPrivateLxd, type PrivateLxd } from "../support/private-lxd";
import { getServer, patchServerConfig, type LxdClient } from "../../provider/lxd";
import { onlyOn } from "../support/backend";
import { freePort } from "../support/net";
import { bindKind, serverConfigNotes } from "../../provider/policy";

jest.setTimeout(120_000);

let host: ProviderHost;
let priv: PrivateLxd;
let lxd: LxdClient;
let connection: { socketPath: string };
/** The loopback listener the lifecycle test sets (in the private daemon's own network namespace). */
const httpsAddress = "127.0.0.1:18443";
/** The private daemon starts without a listener. */
const httpsBefore = "";

beforeAll(async () => {
  [host, priv] = await Promise.all([startProviderHost(), startPrivateLxd({ image: false })]);
  lxd = priv.client();
  connection = { socketPath: priv.socketPath };
});
afterAll(async () => {
  await host?.close();
  await lxd?.close();
  await priv?.stop();
});

async function live(): Promise<Record<string, unknown>> {
  return ((await getServer(lxd)).value.config ?? {}) as Record<string, unknown>;
}
const engine = () => new MiniEngine(host, "server-settings", randomName("srv"), "ServerSettings");

test("lifecycle: adopts the server, manages only its keys, corrects drift after refresh, puts previous values back on destroy", async () => {
  // Set before the stack: one key the stack will manage, one it never names (someone else's).
  await patchServerConfig(lxd, { "images.auto_update_interval": "12", "images.remote_cache_expiry": "7" });
  const e = engine();
  const inputs = { config: { "images.auto_update_interval": 0, "core.https_address": httpsAddress }, connection };
  const s = await e.up(inputs);
  expect(e.lastAction).toBe("create");
  expect(await live()).toMatchObject({ "images.auto_update_interval": "0", "core.https_address": httpsAddress, "images.remote_cache_expiry": "7" });
  expect(s.outputs).toMatchObject({
    config: { "images.auto_update_interval": "0", "core.https_address": httpsAddress },
    previous: { "images.auto_update_interval": "12", "core.https_address": httpsBefore },
    previousUnreadable: [],
    warnings: [],
  });
  const fingerprint = (await getServer(lxd)).value.environment?.certificate_fingerprint;
  expect(s.id).toBe(fingerprint);
  await e.refresh();
  expect((await e.diff(inputs)).changes).toBe("none");

  // Drift on a managed key shows after refresh and is corrected; a key the stack does not name stays as others set it.
  await patchServerConfig(lxd, { "images.auto_update_interval": "5", "images.remote_cache_expiry": "9" });
  await e.refresh();
  expect(e.state!.outputs.config).toMatchObject({ "images.auto_update_interval": "5" });
  expect((await e.diff(inputs)).changes).toBe("some");
  await e.up(inputs);
  expect(e.lastAction).toBe("update");
  expect(await live()).toMatchObject({ "images.auto_update_interval": "0", "images.remote_cache_expiry": "9" });

  // A key dropped from config goes back to its previous value (unset); a key added is recorded first.
  const changed = { config: { "images.auto_update_interval": "0", "core.bgp_asn": "65001" }, connection };
  await e.up(changed);
  expect(e.lastAction).toBe("update");
  const after = await live();
  expect(after["core.https_address"] ?? "").toBe(httpsBefore);
  expect(after["core.bgp_asn"]).toBe("65001");
  expect(e.state!.outputs.previous).toEqual({ "images.auto_update_interval": "12", "core.bgp_asn": "" });
  expect((await e.diff(changed)).changes).toBe("none");

  await e.destroy();
  const end = await live();
  expect(end["images.auto_update_interval"]).toBe("12");
  expect(end["core.bgp_asn"]).toBeUndefined();
  expect(end["images.remote_cache_expiry"]).toBe("9");
  await patchServerConfig(lxd, { "images.auto_update_interval": "", "images.remote_cache_expiry": "" });
});

test("rejects a wildcard bind of core.https_address at check, naming the key and the opt-out; accepts it opted out and reports it", async () => {
  const e = engine();
  for (const addr of ["[::]:8443", "0.0.0.0", ":8443", "[::]", "0.0.0.0:8443"]) {
    expect(bindKind(addr)).toBe("wildcard");
    const r = await e.check({ config: { "core.https_address": addr }, connection: { socketPath: "/nonexistent.sock" } });
    expect(r.failures).toEqual([{
      property: "config.core.https_address",
      reason: expect.stringMatching(new RegExp(`^config\\.core\\.https_address=${addr.replace(/[.[\]]/g, "\\$&")} weakens the server's protection: it listens on every address.*add "wildcard-bind" to securityOptOuts$`)),
    }]);
  }
});

test("a wildcard bind opted out of is applied, reported, and unset on destroy (private daemon, loopback-only namespace)", async () => {
  const e = engine();
  // The private daemon's namespace has only loopback: a wildcard bind there reaches nothing else.
  const s = await e.up({ config: { "core.https_address": "[::]:18444" }, securityOptOuts: ["wildcard-bind"], connection });
  expect((await live())["core.https_address"]).toBe("[::]:18444");
  expect(s.outputs.warnings).toEqual([expect.stringMatching(/^config\.core\.https_address=\[::\]:18444 weakens the server's protection \(wildcard-bind, opted out\)/)]);
  await e.destroy();
  expect((await live())["core.https_address"]).toBeUndefined();
});

onlyOn("lxd", "Incus has no core.trust_password (its refusal is tested below)").test("rejects core.trust_password at check; opted out it is set (LXD reads it back only as true), reported, and unset on destroy", async () => {
  const e = engine();
  const r = await e.check({ config: { "core.trust_password": "s3cret-pw" }, connection });
  expect(r.failures).toEqual([{ property: "config.core.trust_password", reason: expect.stringMatching(/^config\.core\.trust_password weakens .*add "trust-password" to securityOptOuts$/) }]);
  expect(JSON.stringify(r.failures)).not.toContain("s3cret-pw");

  const inputs = { config: { "core.trust_password": "s3cret-pw" }, securityOptOuts: ["trust-password"], connection };
  const s = await e.up(inputs);
  expect((await live())["core.trust_password"]).toBe(true); // measured: a JSON boolean, never the password
  expect(s.outputs.warnings).toEqual([expect.stringMatching(/trust-password, opted out/)]);
  await e.refresh();
  expect((await e.diff(inputs)).changes).toBe("none");
  await e.destroy();
  expect((await live())["core.trust_password"]).toBeUndefined();

  // A password set before the stack cannot be read back: it is listed and left in place on destroy.
  await patchServerConfig(lxd, { "core.trust_password": "theirs" });
  const e2 = engine();
  const s2 = await e2.up({ config: { "core.trust_password": "" }, connection });
  expect(s2.outputs.previousUnreadable).toEqual(["core.trust_password"]);
  expect((await live())["core.trust_password"]).toBeUndefined(); // the stack's "" unsets it
  await e2.destroy();
  expect((await live())["core.trust_password"]).toBeUndefined();
});

test("rejects bad input before any call to LXD, naming the key", async () => {
  const e = engine();
  const nowhere = { socketPath: "/nonexistent.sock" };
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ config: {} }, "config", /must name at least one server key/],
    [{ config: { "core.https_address": "127.0.0.1:99999" } }, "config.core.https_address", /must be an address \[host\]\[:port\].*"127\.0\.0\.1:99999" was provided/],
    [{ config: { "images.auto_update_interval": "soon" } }, "config.images.auto_update_interval", /must be a whole number, but "soon" was provided/],
    [{ config: { "core.metrics_address": "127.0.0.1:9100\nx" } }, "config.core.metrics_address", /must be a single line/],
    [{ config: { "Bad Key": "1" } }, "config.Bad Key", /must be an LXD config key/],
    [{ config: { "images.auto_update_interval": 1 }, securityOptOuts: ["privileged"] }, "securityOptOuts.0", /wildcard-bind|trust-password/],
  ];
  for (const [inputs, property, reason] of cases) {
    const r = await e.check({ ...inputs, connection: nowhere });
    expect(r.failures).toEqual(expect.arrayContaining([expect.objectContaining({ property, reason: expect.stringMatching(reason) })]));
  }
  // Preview: an unknown config is carried, not judged.
  expect((await e.check({ config: UNKNOWN, connection: nowhere }, { preview: true })).failures).toEqual([]);
  await expect(e.up({ config: { "core.https_address": "[::]" }, connection: nowhere })).rejects.toBeInstanceOf(CheckFailed);
  // A value LXD itself refuses: its message, in our wording; LXD refused the whole PATCH, so nothing is kept in state.
  const bad = engine();
  const err = await bad.up({ config: { "core.bgp_asn": "4294967296000" }, connection }).then(() => undefined, (x: unknown) => x as Error & { partial?: boolean });
  expect(err?.message).toMatch(/failed: Failed to create the server config: cannot set 'core\.bgp_asn' to '4294967296000'/);
  expect(err?.partial).toBe(false);
  expect(bad.state).toBeUndefined();
  expect((await live())["core.bgp_asn"]).toBeUndefined();
});

test("a host name bind is accepted with a warning; loopback and a specific address without one", async () => {
  const e = engine();
  // localhost is loopback: applied with no warning.
  const s = await e.up({ config: { "core.metrics_address": `localhost:${await freePort()}` }, connection });
  expect(s.outputs.warnings).toEqual([]);
  await e.destroy();
  expect((await live())["core.metrics_address"]).toBeUndefined();
  expect(bindKind("192.0.2.10:8443")).toBe("specific");
  expect(bindKind("[2001:db8::1]:8443")).toBe("specific");
  expect(bindKind("[::1]:8443")).toBe("loopback");
  expect(bindKind("lxd.example.net:8443")).toBe("hostname");
  // A host name passes check (not refused) and is reported (the same function fills the warnings output).
  expect((await e.check({ config: { "core.https_address": "lxd.example.net:8443" }, connection })).failures).toEqual([]);
  expect(serverConfigNotes({ "core.https_address": "lxd.example.net:8443", "core.debug_address": "192.0.2.10:8444" })).toEqual([
    expect.stringMatching(/^config\.core\.https_address=lxd\.example\.net:8443 binds a host name/),
    expect.stringMatching(/^config\.core\.debug_address=192\.0\.2\.10:8444 serves Go's pprof/),
  ]);
  expect(serverConfigNotes({ "core.https_address": "192.0.2.10:8443" })).toEqual([]);
});

onlyOn("incus", "LXD has core.trust_password (tested above)").test("refuses core.trust_password at check on Incus, opted out or not, saying it trusts by token only; nothing is sent", async () => {
  const e = engine();
  for (const optOuts of [[], ["trust-password"]]) {
    const r = await e.check({ config: { "core.trust_password": "s3cret-pw", "images.auto_update_interval": 0 }, securityOptOuts: optOuts, connection });
    expect(r.failures).toEqual([{
      property: "config.core.trust_password",
      reason: `config.core.trust_password does not exist on Incus (it trusts clients by token only: use a TrustToken), but it was provided; remove the key`,
    }]);
  }
  const before = await live();
  await expect(e.up({ config: { "core.trust_password": "s3cret-pw" }, securityOptOuts: ["trust-password"], connection })).rejects.toBeInstanceOf(CheckFailed);
  expect(e.state).toBeUndefined();
  expect(await live()).toEqual(before);
  // Incus itself has no such key (what the check spares the user): its own refusal, measured.
  await expect(patchServerConfig(lxd, { "core.trust_password": "x" })).rejects.toThrow(/trust_password/);
});
