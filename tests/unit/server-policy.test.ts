/** The server and trust rules (provider/policy/server.ts): binds, shapes, findings and their messages. Pure. */
import {
  applyServerOptOuts, bindKind, judgeServerConfig, judgeTrust, serverConfigNotes, serverConfigShapeErrors, serverRefusal, splitAddress,
} from "../../provider/policy";
import { UNKNOWN } from "../../provider/rules/values";

test("bindKind tells wildcard, loopback, a named IP and a host name apart", () => {
  const cases: [string, ReturnType<typeof bindKind>][] = [
    ["[::]:8443", "wildcard"], ["0.0.0.0", "wildcard"], [":8443", "wildcard"], ["[::]", "wildcard"], ["0.0.0.0:8443", "wildcard"], ["::", "wildcard"],
    ["[0:0:0:0:0:0:0:0]:8443", "wildcard"],
    // Other spellings of every address (a new user's trial): IPv4-mapped and -compatible zeros, a zone, and the
    // numeric forms the C library's resolver reads as 0.0.0.0.
    ["[::ffff:0.0.0.0]:8443", "wildcard"], ["[::FFFF:0:0]:8443", "wildcard"], ["[::0.0.0.0]:8443", "wildcard"], ["[::%lo]:8443", "wildcard"],
    ["0:8443", "wildcard"], ["000.000.000.000:8443", "wildcard"], ["0x0:8443", "wildcard"], ["0.0:8443", "wildcard"],
    ["[::ffff:127.0.0.1]:8443", "loopback"], ["0x7f000001:8443", "loopback"], ["[::ffff:192.0.2.1]:8443", "specific"],
    ["127.0.0.1:8443", "loopback"], ["127.1.2.3", "loopback"], ["[::1]:8443", "loopback"], ["::1", "loopback"], ["localhost:8443", "loopback"],
    ["192.0.2.10:8443", "specific"], ["[2001:db8::1]:8443", "specific"], ["2001:db8::1", "specific"],
    ["lxd.example.net:8443", "hostname"], ["vm", "hostname"],
    ["127.0.0.1:0", "invalid"], ["127.0.0.1:70000", "invalid"], ["a b:1", "invalid"], ["[::1", "invalid"], ["host:port", "invalid"],
  ];
  for (const [addr, kind] of cases) expect([addr, bindKind(addr)]).toEqual([addr, kind]);
  expect(splitAddress("[::1]:8443")).toEqual({ host: "::1", port: "8443" });
});

test("judgeServerConfig finds wildcard listeners and the trust password; never judges unknowns or empty values", () => {
  expect(judgeServerConfig({ "core.https_address": "[::]:8443", "core.metrics_address": "0.0.0.0:9100", "core.trust_password": "pw" }).map((f) => [f.class, f.key])).toEqual([
    ["wildcard-bind", "config.core.https_address"], ["wildcard-bind", "config.core.metrics_address"], ["trust-password", "config.core.trust_password"],
  ]);
  expect(judgeServerConfig({ "core.https_address": UNKNOWN, "core.trust_password": "" })).toEqual([]);
  // Every listener key is judged, not only the three ServerSettings documents first.
  for (const key of ["cluster.https_address", "core.bgp_address", "core.dns_address"]) {
    expect(judgeServerConfig({ [key]: "0.0.0.0:53" }).map((f) => [f.class, f.key])).toEqual([["wildcard-bind", `config.${key}`]]);
  }
  const refused = applyServerOptOuts(judgeServerConfig({ "core.trust_password": "pw" }), []).refused.map(serverRefusal);
  expect(refused).toEqual([expect.stringMatching(/^config\.core\.trust_password weakens .*add "trust-password" to securityOptOuts$/)]);
  expect(refused[0]).not.toContain("pw\"");
  const accepted = applyServerOptOuts(judgeServerConfig({ "core.https_address": ":8443" }), ["wildcard-bind"], ["a note"]);
  expect(accepted).toEqual({ refused: [], warnings: [expect.stringMatching(/^config\.core\.https_address=:8443 .*\(wildcard-bind, opted out\)/), "a note"] });
});

test("shape errors and notes", () => {
  expect(serverConfigShapeErrors({ "core.https_address": "x y", "images.auto_update_interval": "6h", "core.trust_password": "a\nb", "user.x": "ok" })).toEqual([
    { key: "core.https_address", reason: expect.stringMatching(/must be an address .*but "x y" was provided/) },
    { key: "images.auto_update_interval", reason: 'config.images.auto_update_interval must be a whole number, but "6h" was provided' },
    { key: "core.trust_password", reason: "config.core.trust_password must be a single line, but a value with a line break was provided" },
  ]);
  expect(serverConfigNotes({ "core.metrics_authentication": "false" })).toEqual([expect.stringMatching(/without a client certificate/)]);
  // Any origin with credentials: a web page a trusted user opens can use their browser certificate (a new user's trial).
  expect(serverConfigNotes({ "core.https_allowed_origin": "*", "core.https_allowed_credentials": "true" })).toEqual([expect.stringMatching(/^config.core.https_allowed_origin=\* with core.https_allowed_credentials=true lets any web page/)]);
  expect(serverConfigNotes({ "core.https_allowed_origin": "https://ui.example.net", "core.https_allowed_credentials": "true" })).toEqual([]);
  expect(judgeTrust(true)).toEqual([]);
  expect(judgeTrust(false).map((f) => f.class)).toEqual(["unrestricted"]);
});
