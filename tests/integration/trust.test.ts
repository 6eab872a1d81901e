/**
 * TrustCertificate and TrustToken through the real provider host, against the shared LXD. Over HTTPS on loopback
 * only: LXD's `core.https_address` is bound to 127.0.0.1:<free port> for this file and restored afterwards (an
 * existing loopback listener is reused, anything else refuses to run), as tests/integration/client-https.test.ts does.
 * Client certificates are made with `openssl` (generateClientCertificate); every one is removed in afterAll.
 */
import * as pulumi from "@pulumi/pulumi";
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { mockResourcesToHost } from "../support/provider-host-mocks";
import { TrustToken } from "../../resources/trust-token";
import { SECRET_SIG, SIG_KEY } from "../support/provider-wire";
import { CheckFailed, MiniEngine, randomName } from "../support/engine";
import { freePort } from "../support/net";
import { localClient, removeProject } from "../support/lxd";
import { BACKEND } from "../support/backend";
import {
  LxdClient, LxdError, createProject, isForbidden, deleteCertificate, generateClientCertificate, getCertificate, getOperation, isNotFound,
  listCertificates, parseTrustToken, patchServerConfig, trustWithToken, updateCertificate, type ClientCertificate,
} from "../../provider/lxd";

jest.setTimeout(120_000);

let host: ProviderHost;
let admin: LxdClient;
let url: string;
let serverFingerprint: string;
let weSetHttpsAddress = false;
const certs: ClientCertificate[] = [];
const ops: string[] = [];
const projects = [randomName("tp"), randomName("tp")];

function newCert(): ClientCertificate {
  const c = generateClientCertificate({ commonName: randomName("tc") });
  certs.push(c);
  return c;
}

beforeAll(async () => {
  admin = localClient();
  host = await startProviderHost();
  const server = await admin.server(true);
  serverFingerprint = server.environment?.certificate_fingerprint ?? "";
  const current = server.config?.["core.https_address"] ?? "";
  if (current) {
    if (!/^127\.0\.0\.1:\d+$/.test(current)) throw new Error(`core.https_address is "${current}", not 127.0.0.1:<port>; refusing to run HTTPS tests`);
    url = `https://${current}`;
  } else {
    const port = await freePort();
    await patchServerConfig(admin, { "core.https_address": `127.0.0.1:${port}` });
    weSetHttpsAddress = true;
    url = `https://127.0.0.1:${port}`;
  }
  for (const p of projects) await createProject(admin, { name: p, description: "", config: {} });
});

afterAll(async () => {
  try {
    for (const id of ops) {
      const op = await getOperation(admin, id).catch(() => undefined);
      if (op?.status === "Running") await admin.request("DELETE", `/1.0/operations/${id}`);
    }
    const ours = new Set(certs.map((c) => c.fingerprint));
    for (const fp of await listCertificates(admin)) if (ours.has(fp)) await deleteCertificate(admin, fp);
    for (const p of projects) await removeProject(admin, p);
  } finally {
    if (weSetHttpsAddress) await patchServerConfig(admin, { "core.https_address": "" });
    await host?.close();
    await admin.close();
  }
});

async function trusted(fp: string) {
  try {
    return (await getCertificate(admin, fp)).value;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** A client over HTTPS with certificate `c`, the server pinned. */
function asClient(c: ClientCertificate): LxdClient {
  return new LxdClient({ url, clientCert: c.cert, clientKey: c.key, serverFingerprint });
}

describe("TrustCertificate", () => {
  test("lifecycle: restricted by default, fingerprint is the id, rename and projects in place, drift corrected, certificate change replaces, delete removes", async () => {
    const c = newCert();
    const e = new MiniEngine(host, "trust-certificate", randomName("cert"), "TrustCertificate");
    const name = randomName("client");
    const inputs = { name, certificate: c.cert, projects: [projects[0]] };
    const s = await e.up(inputs);
    expect(s.id).toBe(c.fingerprint);
    expect(s.outputs).toMatchObject({ fingerprint: c.fingerprint, restricted: true, projects: [projects[0]], type: "client", warnings: [] });
    expect(await trusted(c.fingerprint)).toMatchObject({ name, type: "client", restricted: true, projects: [projects[0]] });
    await e.refresh();
    expect((await e.diff(inputs)).changes).toBe("none");

    const changed = { ...inputs, name: `${name}-b`, projects: [projects[0], projects[1]] };
    await e.up(changed);
    expect(e.lastAction).toBe("update");
    expect(await trusted(c.fingerprint)).toMatchObject({ name: `${name}-b`, restricted: true, projects: [projects[0], projects[1]] });

    // Someone lifts the restriction by hand: refresh shows it, the next up restricts it again.
    const { etag } = await getCertificate(admin, c.fingerprint);
    await updateCertificate(admin, c.fingerprint, { restricted: false }, etag);
    await e.refresh();
    expect(e.state!.outputs.restricted).toBe(false);
    expect((await e.diff(changed)).changes).toBe("some");
    await e.up(changed);
    expect((await trusted(c.fingerprint))?.restricted).toBe(true);

    const c2 = newCert();
    const replaced = { ...changed, certificate: c2.cert };
    expect((await e.diff(replaced)).replaces).toEqual(["certificate"]);
    await e.up(replaced);
    expect(e.lastAction).toBe("replace");
    expect(e.state!.id).toBe(c2.fingerprint);
    expect(await trusted(c.fingerprint)).toBeUndefined();
    expect((await e.diff({ ...replaced, type: "metrics" })).replaces).toEqual(["type"]);

    await e.destroy();
    expect(await trusted(c2.fingerprint)).toBeUndefined();
  });

  test("over HTTPS: a restricted certificate made by the stack lists instances in its project, and is refused in another project and on server config", async () => {
    const c = newCert();
    const e = new MiniEngine(host, "trust-certificate", randomName("cert"), "TrustCertificate");
    await e.up({ name: randomName("client"), certificate: c.cert, projects: [projects[0]] });
    const client = asClient(c);
    try {
      expect((await client.server()).auth).toBe("trusted");
      expect((await client.get<string[]>("/1.0/instances", { project: projects[0] })).metadata).toEqual([]);
      const other = await client.get("/1.0/instances", { project: projects[1] }).then(() => undefined, (x: unknown) => x);
      expect(other).toBeInstanceOf(LxdError);
      // LXD: 403; Incus 6.0: 500 'User does not have permissions for project "…"' (isForbidden knows both).
      expect(isForbidden(other)).toBe(true);
      expect((other as LxdError).status).toBe(BACKEND === "incus" ? 500 : 403);
      const patch = await client.request("PATCH", "/1.0", { body: { config: { "images.auto_update_interval": "1" } } }).then(() => undefined, (x: unknown) => x);
      expect(patch).toBeInstanceOf(LxdError);
      expect((patch as LxdError).status).toBe(403);
      expect((await admin.server(true)).config?.["images.auto_update_interval"]).toBeUndefined();
    } finally {
      await client.close();
    }
    await e.destroy();
    // Removed from the trust store: the same client is untrusted now.
    const after = asClient(c);
    try {
      expect((await after.server()).auth).toBe("untrusted");
    } finally {
      await after.close();
    }
  });

  test("rejects an unrestricted certificate at check naming the input and the opt-out; accepts it opted out and reports it", async () => {
    const c = newCert();
    const e = new MiniEngine(host, "trust-certificate", randomName("cert"), "TrustCertificate");
    const r = await e.check({ name: "x", certificate: c.cert, restricted: false, connection: { socketPath: "/nonexistent.sock" } });
    expect(r.failures).toEqual([{ property: "restricted", reason: expect.stringMatching(/^restricted: false weakens the server's protection: an unrestricted certificate has full control.*add "unrestricted" to securityOptOuts$/) }]);
    const s = await e.up({ name: randomName("client"), certificate: c.cert, restricted: false, securityOptOuts: ["unrestricted"] });
    expect((await trusted(c.fingerprint))?.restricted).toBe(false);
    expect(s.outputs.warnings).toEqual([expect.stringMatching(/^restricted: false weakens the server's protection \(unrestricted, opted out\)/)]);
    await e.destroy();
    expect(await trusted(c.fingerprint)).toBeUndefined();
  });

  test("rejects bad input before any call to LXD", async () => {
    const c = newCert();
    const e = new MiniEngine(host, "trust-certificate", randomName("cert"), "TrustCertificate");
    const nowhere = { socketPath: "/nonexistent.sock" };
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ name: "x", certificate: "not a certificate" }, "certificate", /certificate must be a PEM X\.509 certificate .*but "not a certificate" was provided/],
      [{ name: "x", certificate: c.cert, projects: [] }, "projects", /projects must list at least one project when restricted is true .*but \[\] was provided/],
      [{ name: "x", certificate: c.cert, projects: ["a b"] }, "projects.0", /must be non-empty, without spaces/],
      // "*" would read as every project; LXD reserves it (and "." and "..") as a project name.
      [{ name: "x", certificate: c.cert, projects: ["p", "*"] }, "projects.1", /not "\*", "\." or "\.\." \(LXD reserves them\)/],
      [{ name: "x", certificate: c.cert, projects: ["p"], type: "admin" }, "type", /client|metrics/],
      [{ name: "", certificate: c.cert, projects: ["p"] }, "name", /non-empty/],
    ];
    for (const [inputs, property, reason] of cases) {
      const r = await e.check({ ...inputs, connection: nowhere });
      expect(r.failures).toEqual(expect.arrayContaining([expect.objectContaining({ property, reason: expect.stringMatching(reason) })]));
    }
    // The key is never accepted in place of the certificate (and never echoed).
    const r = await e.check({ name: "x", certificate: c.key, projects: ["p"], connection: nowhere });
    expect(r.failures[0].property).toBe("certificate");
    expect(r.failures[0].reason).not.toContain(c.key.slice(40, 80));
    // A project that does not exist: LXD's message, said as the project's.
    await expect(e.up({ name: "x", certificate: c.cert, projects: [randomName("nope")] })).rejects.toThrow(/Failed to create trust certificate "x": Project not found: one of the projects/);
    expect(e.state).toBeUndefined();
  });

  test("adoption: an existing certificate fails without adopt, is taken over with it, and is put back on destroy", async () => {
    const c = newCert();
    const der = c.cert.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    const before = randomName("byhand");
    await admin.request("POST", "/1.0/certificates", { body: { type: "client", name: before, certificate: der, restricted: true, projects: [projects[1]] } });
    const inputs = { name: randomName("client"), certificate: c.cert, projects: [projects[0]] };
    const plain = new MiniEngine(host, "trust-certificate", randomName("cert"), "TrustCertificate");
    await expect(plain.up(inputs)).rejects.toThrow(/already in trust store.*set adopt: true/);
    const e = new MiniEngine(host, "trust-certificate", randomName("cert"), "TrustCertificate");
    await e.up({ ...inputs, adopt: true });
    expect(await trusted(c.fingerprint)).toMatchObject({ name: inputs.name, projects: [projects[0]] });
    await e.destroy();
    expect(await trusted(c.fingerprint)).toMatchObject({ name: before, restricted: true, projects: [projects[1]] });
  });
});

describe("TrustToken", () => {
  test("issues a restricted token as a secret output that the package's first-contact flow uses to get a certificate trusted; then it reads as gone", async () => {
    const e = new MiniEngine(host, "trust-token", randomName("tok"), "TrustToken");
    const name = randomName("joiner");
    const s = await e.up({ name, projects: [projects[0]] });
    ops.push(s.id);
    // The raw struct the host returned: the token travels in the wire form of a secret, and only there.
    const wire = s.outputs.token as Record<string, unknown>;
    expect(Object.keys(wire).sort()).toEqual([SIG_KEY, "value"].sort());
    expect(wire[SIG_KEY]).toBe(SECRET_SIG);
    const token = wire.value as string;
    const secret = parseTrustToken(token).secret;
    const { token: _t, ...rest } = s.outputs;
    expect(JSON.stringify(rest)).not.toContain(secret);
    expect(JSON.stringify(rest)).not.toContain(token);
    expect(JSON.stringify(s.inputs)).not.toContain(secret);
    expect(s.outputs).toMatchObject({ operationId: s.id, serverFingerprint, addresses: [url.slice("https://".length)], expiresAt: "", restricted: true, projects: [projects[0]], warnings: [] });
    expect((await getOperation(admin, s.id)).status).toBe("Running");
    // Refresh keeps it, still as a secret.
    await e.refresh();
    expect((e.state!.outputs.token as Record<string, unknown>)[SIG_KEY]).toBe(SECRET_SIG);
    expect((await e.diff({ name, projects: [projects[0]] })).changes).toBe("none");

    // The package's connection code (first contact, case C08) uses it: the client gets trusted, restricted as the token said.
    const c = newCert();
    const r = await trustWithToken({ clientCert: c.cert, clientKey: c.key }, token);
    expect(r).toMatchObject({ added: true, serverFingerprint, clientFingerprint: c.fingerprint });
    expect(await trusted(c.fingerprint)).toMatchObject({ name, restricted: true, projects: [projects[0]] });
    // Used: refresh drops it (the next up issues a new one).
    expect(await e.refresh()).toBeUndefined();
  });

  test("destroy revokes a pending token; a name change replaces it; unrestricted is refused unless opted out", async () => {
    const e = new MiniEngine(host, "trust-token", randomName("tok"), "TrustToken");
    const name = randomName("joiner");
    const first = await e.up({ name, projects: [projects[0]] });
    ops.push(first.id);
    expect((await e.diff({ name: `${name}-b`, projects: [projects[0]] })).replaces).toEqual(["name"]);
    expect((await e.diff({ name, projects: [projects[1]] })).replaces).toEqual(["projects"]);
    const second = await e.up({ name: `${name}-b`, projects: [projects[0]] });
    ops.push(second.id);
    expect(e.lastAction).toBe("replace");
    expect((await getOperation(admin, first.id)).status).not.toBe("Running");
    expect((await getOperation(admin, second.id)).status).toBe("Running");
    const token = (second.outputs.token as { value: string }).value;
    await e.destroy();
    expect((await getOperation(admin, second.id)).status).not.toBe("Running");
    // A revoked token no longer works.
    const c = newCert();
    await expect(trustWithToken({ clientCert: c.cert, clientKey: c.key }, token)).rejects.toThrow();
    expect(await trusted(c.fingerprint)).toBeUndefined();

    const u = new MiniEngine(host, "trust-token", randomName("tok"), "TrustToken");
    const r = await u.check({ name, restricted: false });
    expect(r.failures).toEqual([{ property: "restricted", reason: expect.stringMatching(/add "unrestricted" to securityOptOuts$/) }]);
    await expect(u.up({ name, restricted: false })).rejects.toBeInstanceOf(CheckFailed);
    const opted = await u.up({ name, restricted: false, securityOptOuts: ["unrestricted"] });
    ops.push(opted.id);
    expect(opted.outputs.warnings).toEqual([expect.stringMatching(/unrestricted, opted out/)]);
    // Opt-outs alone change no token: an in-place update that keeps it.
    const same = await u.up({ name, restricted: false, securityOptOuts: ["unrestricted", "unrestricted"] });
    expect(u.lastAction).toBe("update");
    expect(same.id).toBe(opted.id);
    await u.destroy();
    expect((await getOperation(admin, opted.id)).status).not.toBe("Running");
  });
});

test("the TrustToken class registers token as an additional secret output, and the program sees it as a secret", async () => {
  // The SDK's registration call, observed: what the class asks the engine to keep secret.
  const resourceRuntime = require("@pulumi/pulumi/runtime/resource") as { registerResource: (...a: unknown[]) => unknown };
  const spy = jest.spyOn(resourceRuntime, "registerResource");
  const mocks = mockResourcesToHost(host);
  await pulumi.runtime.setMocks(mocks, "pulumi-lxd-hardened", "test", false);
  try {
    const t = new TrustToken(randomName("tok"), { projects: [projects[0]] });
    const call = spy.mock.calls.find((c) => c[3] === (t as unknown as { __name?: string }).__name || c[0] === t);
    expect((call?.[8] as pulumi.CustomResourceOptions | undefined)?.additionalSecretOutputs).toEqual(["token"]);
    const token = t.token as unknown as { isSecret: Promise<boolean>; promise(): Promise<string> };
    expect(parseTrustToken(await token.promise()).fingerprint).toBe(serverFingerprint);
    expect(await token.isSecret).toBe(true);
    ops.push(await (t.id as unknown as { promise(): Promise<string> }).promise());
  } finally {
    spy.mockRestore();
    await mocks.cleanup();
  }
  for (const id of ops.slice(-1)) expect((await getOperation(admin, id)).status).not.toBe("Running");
});
