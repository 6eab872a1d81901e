/**
 * examples/remote-access end to end against the shared LXD, over loopback only: the program is loaded under
 * `pulumi.runtime.setMocks` with mocks that forward each dynamic resource's Check + Create to Pulumi's real
 * dynamic-provider host (the create path of `pulumi up`, as tests/integration/components.test.ts does for the
 * other examples). It binds LXD to 127.0.0.1:<free port> (or keeps a loopback listener another test set), then the
 * tenant's certificate is used over HTTPS; the mocks' cleanup deletes everything through the host, which puts
 * the server's address back.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LxdClient, LxdError, generateClientCertificate, isForbidden, getCertificate, isNotFound, listProjects, patchServerConfig } from "../../provider/lxd";
import { mockResourcesToHost } from "../support/provider-host-mocks";
import { startProviderHost, type ProviderHost } from "../support/provider-host";
import { randomName } from "../support/engine";
import { freePort } from "../support/net";
import { localClient, removeProject } from "../support/lxd";
import { BACKEND } from "../support/backend";

jest.setTimeout(180_000);

let host: ProviderHost;
let admin: LxdClient;
beforeAll(async () => {
  admin = localClient();
  host = await startProviderHost();
});
afterAll(async () => {
  await host?.close();
  await admin?.close();
});

async function outputsOf(mod: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(mod)) out[k] = await (pulumi.output(v as pulumi.Input<unknown>) as unknown as { promise(): Promise<unknown> }).promise();
  return out;
}

test("examples/remote-access binds LXD to the given loopback address and trusts the tenant's certificate for its project only; destroy puts the address back", async () => {
  const before = (await admin.server(true)).config?.["core.https_address"] ?? "";
  if (before && !/^127\.0\.0\.1:\d+$/.test(before)) throw new Error(`core.https_address is "${before}", not loopback; refusing to run`);
  // Keep a loopback listener another test set (so its clients keep working); otherwise a free loopback port.
  const address = before || `127.0.0.1:${await freePort()}`;
  const tenant = randomName("ra");
  const cert = generateClientCertificate({ commonName: tenant });
  const project = "lxd-remote-access";
  pulumi.runtime.setAllConfig({ [`${project}:address`]: address, [`${project}:tenant`]: tenant, [`${project}:clientCertificate`]: cert.cert });
  const mocks = mockResourcesToHost(host);
  await pulumi.runtime.setMocks(mocks, project, "test", false);
  let mod: Record<string, unknown> = {};
  let cleanupError: unknown;
  let addressAfterDestroy: string | undefined;
  try {
    jest.isolateModules(() => {
      mod = require(path.resolve(__dirname, "..", "..", "examples", "remote-access", "index.ts"));
    });
    const out = await outputsOf(mod);
    const server = await admin.server(true);
    expect(server.config?.["core.https_address"]).toBe(address);
    expect(out).toMatchObject({
      url: `https://${address}`, serverFingerprint: server.environment?.certificate_fingerprint, projectName: tenant,
      clientFingerprint: cert.fingerprint, clientProjects: [tenant], warnings: [],
    });
    expect((await getCertificate(admin, cert.fingerprint)).value).toMatchObject({ restricted: true, projects: [tenant], type: "client" });

    // The tenant's side: its certificate over HTTPS, the server pinned.
    const asTenant = new LxdClient({ url: out.url as string, clientCert: cert.cert, clientKey: cert.key, serverFingerprint: out.serverFingerprint as string });
    try {
      expect((await asTenant.server()).auth).toBe("trusted");
      expect((await asTenant.get<string[]>("/1.0/instances", { project: tenant })).metadata).toEqual([]);
      const other = await asTenant.get("/1.0/instances", { project: "default" }).then(() => undefined, (x: unknown) => x);
      // LXD: 403; Incus 6.0: 500 'User does not have permissions for project "default"' (isForbidden knows both).
      expect(isForbidden(other)).toBe(true);
      expect((other as LxdError).status).toBe(BACKEND === "incus" ? 500 : 403);
    } finally {
      await asTenant.close();
    }
  } finally {
    await mocks.cleanup().catch((e: unknown) => (cleanupError = e));
    addressAfterDestroy = (await admin.server(true)).config?.["core.https_address"] ?? "";
    // Whatever happened: the certificate, the project and the address are back to before.
    await getCertificate(admin, cert.fingerprint).then(() => admin.request("DELETE", `/1.0/certificates/${cert.fingerprint}`), (e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
    if ((await listProjects(admin)).includes(tenant)) await removeProject(admin, tenant);
    const now = (await admin.server(true)).config?.["core.https_address"] ?? "";
    if (now !== before && now === address) await patchServerConfig(admin, { "core.https_address": before });
  }
  expect(cleanupError).toBeUndefined();
  expect(addressAfterDestroy).toBe(before); // put back by the ServerSettings' delete, not by the fix-up above
  expect((await admin.server(true)).config?.["core.https_address"] ?? "").toBe(before);
  await expect(getCertificate(admin, cert.fingerprint)).rejects.toMatchObject({ status: 404 });
  expect(await listProjects(admin)).not.toContain(tenant);
});
