/**
 * Look-ups (lookups/) against the real LXD: each kind compared with what LXD itself answers, not-found (object and
 * project), `allowMissing`, validation, the `Output` forms, a project with its own images and profiles (C09-like),
 * and, over HTTPS on 127.0.0.1 with a client certificate from stack config, that no credential appears in a
 * result or an error message.
 *
 * The HTTPS part binds LXD's `core.https_address` to 127.0.0.1:<free port> for this file (or reuses a loopback
 * listener already set) and restores it afterwards, as client-https.test.ts does.
 */
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  LxdClient, createInstance, createProfile, createProject, deleteImage, deleteProfile, deleteProject, generateClientCertificate,
  getProfile as rawProfile, hostHasAppArmor, importImageFile, createImageAlias, isNotFound, listInstances, updateProfile, startInstance,
  type ClientCertificate, type Server,
} from "../../provider/lxd";
import {
  getImage, getImageOutput, getInstance, getInstanceOutput, getNetwork, getProfile, getProject, getServerInfo, getServerInfoOutput,
  getStoragePool,
} from "../../lookups";
import { localClient, removeInstance, TEST_IMAGE } from "../support/lxd";
import { backendStackConfig } from "../support/backend";
import { freePort } from "../support/net";

const REPO = path.resolve(__dirname, "..", "..");
const rnd = (p = "lk") => `${p}-${randomBytes(4).toString("hex")}`;

let admin: LxdClient;
const project = rnd("lkp");
const profile = rnd("lkprof");
const instance = rnd("lki");
const alias = rnd("lkimg");
let imageFp = "";

/** The value an Output resolves to (outside a deployment every input is known, so `apply` runs). */
function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => { resolve(v); return v; }));
}

/** The message a promise rejects with ("" if it resolves). */
async function rejection(p: Promise<unknown>): Promise<{ message: string; err: unknown }> {
  try {
    await p;
  } catch (err) {
    return { message: (err as Error).message, err };
  }
  return { message: "", err: undefined };
}

beforeAll(async () => {
  admin = localClient();
  // The test backend (LXD or Incus) as a user's stack would name it: stack config lxd:server.
  pulumi.runtime.setAllConfig(backendStackConfig());
  // A project with its own images and profiles (C09-like); its default profile gets a root disk so instances start.
  await createProject(admin, { name: project, description: "look-ups test", config: { "features.images": "true", "features.profiles": "true" } });
  const def = await rawProfile(admin, "default", { project });
  await updateProfile(admin, "default", { ...def.value, devices: { root: { type: "disk", path: "/", pool: "default" } } }, def.etag, { project });
  await createProfile(admin, { name: profile, description: "look-ups", config: { "user.lookup": "profile", "limits.processes": "500" }, devices: {} }, { project });
  imageFp = await importImageFile(admin, path.join(REPO, ".cache", "pulumi-lxd-test.tar.gz"), { project });
  await createImageAlias(admin, { name: alias, target: imageFp, description: "only in the project" }, { project });
  await createInstance(admin, {
    name: instance, source: { type: "image", alias }, profiles: ["default", profile],
    config: { "user.lookup": "instance", "security.nesting": "true" }, devices: {},
  }, { project });
  await startInstance(admin, instance, { project });
});

afterAll(async () => {
  try {
    for (const i of await listInstances(admin, { project }).catch(() => [] as string[])) await removeInstance(admin, i, project);
    await deleteProfile(admin, profile, { project }).catch((e) => { if (!isNotFound(e)) throw e; });
    if (imageFp) await deleteImage(admin, imageFp, { project }).catch((e) => { if (!isNotFound(e)) throw e; });
    await deleteProject(admin, project).catch((e) => { if (!isNotFound(e)) throw e; });
    await expect(admin.get(`/1.0/projects/${project}`)).rejects.toMatchObject({ status: 404 });
  } finally {
    pulumi.runtime.setAllConfig(backendStackConfig());
    await admin.close();
  }
});

describe("each kind, compared with what LXD answers", () => {
  test("getInstance gives the instance in this package's terms, with its security report", async () => {
    const raw = (await admin.get<Record<string, any>>(`/1.0/instances/${instance}`, { project })).metadata;
    const r = await getInstance({ name: instance, project });
    expect(r).toMatchObject({ name: instance, project, type: "container", status: "Running", running: true, ephemeral: false, profiles: ["default", profile] });
    expect(r.config).toEqual({ "user.lookup": "instance", "security.nesting": "true" });
    expect(Object.keys(r.serverConfig).every((k) => k.startsWith("volatile.") || k.startsWith("image."))).toBe(true);
    expect(r.serverConfig["volatile.base_image"]).toBe(imageFp);
    expect(r.imageFingerprint).toBe(imageFp);
    expect(r.expandedConfig).toMatchObject({ "user.lookup": "instance", "limits.processes": "500", "security.nesting": "true" });
    expect(r.expandedDevices).toEqual(raw.expanded_devices);
    expect(r.architecture).toBe(raw.architecture);
    expect(r.createdAt).toBe(raw.created_at);
    // The policy judged what it runs with: nesting is a weakening, and the host's AppArmor is reported as it is.
    expect(r.securityReport.nesting).toBe(true);
    expect(r.securityReport.weakened.map((f) => f.class)).toContain("nesting");
    expect(r.securityReport.apparmor === "unavailable-on-host").toBe(!(await hostHasAppArmor(admin)));
  });

  test("getProfile and getProject", async () => {
    const p = await getProfile({ name: profile, project });
    expect(p).toEqual({
      name: profile, project, description: "look-ups", config: { "user.lookup": "profile", "limits.processes": "500" }, devices: {},
      usedBy: [`/1.0/instances/${instance}?project=${project}`],
    });
    const d = await getProfile({ name: "default", project });
    expect(d.devices.root).toEqual({ type: "disk", path: "/", pool: "default" });
    const proj = await getProject({ name: project });
    const rawProject = (await admin.get<{ config: Record<string, string> }>(`/1.0/projects/${project}`)).metadata;
    expect(proj).toMatchObject({ name: project, description: "look-ups test", restricted: false, config: rawProject.config });
    // LXD adds features.storage.volumes=true on its own; the features list follows LXD's config, not ours.
    expect(proj.features).toEqual(expect.arrayContaining(["images", "profiles"]));
    expect(proj.features).toEqual(Object.keys(rawProject.config).filter((k) => k.startsWith("features.") && rawProject.config[k] === "true").map((k) => k.slice(9)).sort());
    expect(proj.usedBy).toContain(`/1.0/instances/${instance}?project=${project}`);
  });

  test("C09-like: getImage finds the project's own image by alias and by fingerprint prefix; its alias is not in the default project", async () => {
    const byAlias = await getImage({ alias, project });
    expect(byAlias).toMatchObject({ fingerprint: imageFp, project, type: "container", public: false, cached: false });
    expect(byAlias.aliases).toEqual([{ name: alias, description: "only in the project" }]);
    expect(byAlias.size).toBeGreaterThan(0);
    expect((await getImage({ fingerprint: imageFp.slice(0, 12).toUpperCase(), project })).fingerprint).toBe(imageFp);
    const { message, err } = await rejection(getImage({ alias }));
    expect(message).toBe(`image "${alias}" was not found in project "default"`);
    expect(isNotFound(err)).toBe(true);
    // The default project's own test image is found there by its alias.
    expect((await getImage({ alias: TEST_IMAGE })).aliases.map((a) => a.name)).toContain(TEST_IMAGE);
  });

  test("getStoragePool and getNetwork (read-only kinds)", async () => {
    const raw = (await admin.get<Record<string, any>>("/1.0/storage-pools/default")).metadata;
    const pool = await getStoragePool({ name: "default" });
    expect(pool).toMatchObject({ name: "default", driver: raw.driver, status: raw.status, config: raw.config, locations: [] });
    expect(pool.usedBy).toContain(`/1.0/instances/${instance}?project=${project}`);
    // Host interfaces LXD lists unmanaged (this testbed has no managed network: tests never create one with addresses).
    const lo = await getNetwork({ name: "lo" });
    expect(lo).toMatchObject({ name: "lo", project: "default", type: "loopback", managed: false, config: {}, locations: [] });
    const names = (await admin.get<string[]>("/1.0/networks")).metadata.map((u) => u.split("/").pop()!);
    for (const n of names) {
      // Incus 6.0 fails to read some host interfaces it lists (an `ifb` device: it asks Open vSwitch, absent here,
      // and answers 404); the look-up must then fail the same way, not invent a network.
      const raw = await admin.get<Record<string, any>>(`/1.0/networks/${n}`).then((r) => r.metadata, (e: unknown) => e as Error);
      if (raw instanceof Error) {
        await expect(getNetwork({ name: n })).rejects.toThrow();
        continue;
      }
      expect(await getNetwork({ name: n })).toMatchObject({ name: n, type: raw.type, managed: raw.managed, config: raw.config ?? {} });
    }
  });

  test("getServerInfo: daemon, version, API extensions, storage drivers, AppArmor, unix endpoint", async () => {
    const raw = (await admin.get<Server & { environment: Record<string, any> }>("/1.0")).metadata;
    const info = await getServerInfo();
    expect(info).toMatchObject({
      server: raw.environment.server ?? "lxd", auth: "trusted", version: raw.environment.server_version, apiVersion: "1.0",
      serverName: raw.environment.server_name, clustered: false, appArmor: await hostHasAppArmor(admin),
      certificateFingerprint: raw.environment.certificate_fingerprint,
    });
    expect(["lxd", "incus"]).toContain(info.server);
    expect(info.apiExtensions).toEqual(raw.api_extensions);
    expect(info.storageDrivers).toContain("dir");
    expect(info.endpoint).toMatch(/^unix:\//);
    expect(JSON.stringify(info)).not.toContain("BEGIN CERTIFICATE");
  });
});

describe("not found, allowMissing, validation", () => {
  test("rejects a missing object of each kind with `<kind> \"<name>\" was not found in project \"<p>\"` (LxdError 404)", async () => {
    const cases: [() => Promise<unknown>, string][] = [
      [() => getInstance({ name: "lk-nope", project }), `instance "lk-nope" was not found in project "${project}"`],
      [() => getProfile({ name: "lk-nope", project }), `profile "lk-nope" was not found in project "${project}"`],
      [() => getImage({ fingerprint: "0123456789ab", project }), `image "0123456789ab" was not found in project "${project}"`],
      [() => getNetwork({ name: "lk-nope" }), `network "lk-nope" was not found in project "default"`],
      [() => getProject({ name: "lk-nope" }), `project "lk-nope" was not found`],
      [() => getStoragePool({ name: "lk-nope" }), `storage pool "lk-nope" was not found`],
    ];
    for (const [call, msg] of cases) {
      const { message, err } = await rejection(call());
      expect(message).toBe(msg);
      expect(isNotFound(err)).toBe(true);
    }
  });

  test("rejects a look-up in a project that does not exist, saying so", async () => {
    const { message } = await rejection(getInstance({ name: instance, project: "lk-noproject" }));
    expect(message).toBe(`instance "${instance}" was not found in project "lk-noproject": project "lk-noproject" does not exist`);
    expect((await rejection(getProfile({ name: "default", project: "lk-noproject" }))).message).toMatch(/does not exist$/);
  });

  test("allowMissing resolves to undefined for a missing object, and still finds an existing one", async () => {
    expect(await getInstance({ name: "lk-nope", project, allowMissing: true })).toBeUndefined();
    expect(await getInstance({ name: instance, project: "lk-noproject", allowMissing: true })).toBeUndefined();
    expect(await getProfile({ name: "lk-nope", allowMissing: true })).toBeUndefined();
    expect(await getProject({ name: "lk-nope", allowMissing: true })).toBeUndefined();
    expect(await getImage({ alias: "lk-nope", allowMissing: true })).toBeUndefined();
    expect(await getNetwork({ name: "lk-nope", allowMissing: true })).toBeUndefined();
    expect(await getStoragePool({ name: "lk-nope", allowMissing: true })).toBeUndefined();
    expect((await getInstance({ name: instance, project, allowMissing: true }))?.name).toBe(instance);
  });

  test("rejects invalid arguments before asking LXD, in the `<field> must …, but … was provided` form", async () => {
    expect((await rejection(getInstance({ name: "bad name" }))).message).toBe(
      'name must be 1–63 letters, digits or dashes, starting with a letter and not ending with a dash, but "bad name" was provided');
    expect((await rejection(getNetwork({ name: "a-name-longer-than-15" }))).message).toMatch(/^name must be 1–15 .*, but "a-name-longer-than-15" was provided$/);
    expect((await rejection(getProfile({ name: "default", project: "has space" }))).message).toMatch(/^project must be .*, but "has space" was provided$/);
    expect((await rejection(getImage({}))).message).toBe("alias or fingerprint must be given (exactly one), but neither was provided");
    expect((await rejection(getImage({ alias: "a", fingerprint: "ab" }))).message).toBe("alias or fingerprint must be given (exactly one), but both was provided");
    expect((await rejection(getImage({ fingerprint: "xyz" }))).message).toMatch(/^fingerprint must be 1–64 hex digits .*, but "xyz" was provided$/);
  });

  test("rejects an inline connection.clientKey without echoing it, and an unknown remote naming the known ones", async () => {
    const secret = "inline-secret-key-material-0123456789";
    const { message } = await rejection(getServerInfo({ connection: { clientKey: secret } as never }));
    expect(message).toMatch(/connection\.clientKey must not be given inline/);
    expect(message).not.toContain(secret);
    expect((await rejection(getInstance({ name: instance, connection: { remote: "nowhere" } }))).message).toMatch(
      /^Failed to look up instance ".*" in project "default": connection\.remote "nowhere" is not in stack config lxd:remotes/);
  });
});

describe("Output forms", () => {
  test("getInstanceOutput and getImageOutput take Inputs and resolve to the same result", async () => {
    const out = getInstanceOutput({ name: pulumi.output(instance), project: pulumi.output(Promise.resolve(project)) });
    const v = await valueOf(out);
    expect(v.name).toBe(instance);
    expect(v.imageFingerprint).toBe(imageFp);
    expect((await valueOf(getImageOutput({ alias: pulumi.output(alias), project }))).fingerprint).toBe(imageFp);
    expect(await valueOf(getInstanceOutput({ name: "lk-nope", project, allowMissing: true }))).toBeUndefined();
    expect((await valueOf(getServerInfoOutput())).auth).toBe("trusted");
  });
});

describe("over HTTPS with a client certificate from stack config: no credential in any result or error", () => {
  let url = "";
  let fingerprint = "";
  let weSetHttpsAddress = false;
  let cert: ClientCertificate;
  /** Lines of the key and the certificate: none may appear anywhere in what a look-up returns or throws. */
  let credentialLines: string[] = [];

  const leaks = (text: string) => [
    ...credentialLines.filter((l) => text.includes(l)),
    ...["PRIVATE KEY", "BEGIN CERTIFICATE"].filter((m) => text.includes(m)),
  ];

  /** Stack config as `pulumi config set [--secret] --path 'lxd:…'` writes it. */
  function setStackConfig(extra: Record<string, string> = {}): void {
    pulumi.runtime.setAllConfig({
      ...backendStackConfig(),
      "lxd:remotes": JSON.stringify({ loop: { url, clientCert: cert.cert, clientKey: cert.key, serverFingerprint: fingerprint } }),
      ...extra,
    }, ["lxd:remotes", "lxd:clientKey"]);
  }

  beforeAll(async () => {
    const server = await admin.server(true);
    fingerprint = server.environment?.certificate_fingerprint ?? "";
    const previous = server.config?.["core.https_address"] ?? "";
    if (previous) {
      // Network safety: only ever loopback; reuse a loopback listener someone set, never widen it.
      if (!/^127\.0\.0\.1:\d+$/.test(previous)) throw new Error(`core.https_address is "${previous}", not 127.0.0.1:<port>; refusing to run HTTPS tests`);
      url = `https://${previous}`;
    } else {
      const port = await freePort();
      await admin.request("PATCH", "/1.0", { body: { config: { "core.https_address": `127.0.0.1:${port}` } } });
      weSetHttpsAddress = true;
      url = `https://127.0.0.1:${port}`;
    }
    cert = generateClientCertificate({ commonName: rnd() });
    const der = cert.cert.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    await admin.request("POST", "/1.0/certificates", { body: { type: "client", name: rnd(), certificate: der } });
    credentialLines = [...cert.key.split("\n"), ...cert.cert.split("\n")].filter((l) => l.length >= 16 && !l.startsWith("-----"));
    expect(credentialLines.length).toBeGreaterThan(10);
  });

  afterAll(async () => {
    pulumi.runtime.setAllConfig(backendStackConfig());
    try {
      if (cert) await admin.request("DELETE", `/1.0/certificates/${cert.fingerprint}`).catch((e) => { if (!isNotFound(e)) throw e; });
    } finally {
      if (weSetHttpsAddress) await admin.request("PATCH", "/1.0", { body: { config: { "core.https_address": "" } } });
    }
  });

  test("every look-up through a named remote reaches LXD over HTTPS; no result holds the key or the certificate", async () => {
    setStackConfig();
    const connection = { remote: "loop" };
    const info = await getServerInfo({ connection });
    expect(info).toMatchObject({ endpoint: url, auth: "trusted", certificateFingerprint: fingerprint });
    const results = [
      info,
      await getInstance({ name: instance, project, connection }),
      await getProfile({ name: profile, project, connection }),
      await getProject({ name: project, connection }),
      await getImage({ alias, project, connection }),
      await getNetwork({ name: "lo", connection }),
      await getStoragePool({ name: "default", connection }),
    ];
    expect(results[1]).toMatchObject({ name: instance, running: true });
    expect(leaks(JSON.stringify(results))).toEqual([]);
  });

  test("stack config lxd:url, lxd:clientCert, lxd:clientKey (no connection argument) is used the same way", async () => {
    setStackConfig({ "lxd:url": url, "lxd:clientCert": cert.cert, "lxd:clientKey": cert.key, "lxd:serverFingerprint": fingerprint });
    const info = await getServerInfo();
    expect(info.endpoint).toBe(url);
    expect(info.auth).toBe("trusted");
    const r = await getInstance({ name: instance, project });
    expect(leaks(JSON.stringify([info, r]))).toEqual([]);
  });

  test("errors over HTTPS never contain a credential: not found, a wrong pinned fingerprint, a key that is not PEM", async () => {
    setStackConfig();
    const notFound = await rejection(getInstance({ name: "lk-nope", project, connection: { remote: "loop" } }));
    expect(notFound.message).toBe(`instance "lk-nope" was not found in project "${project}"`);

    const wrongPin = "ab".repeat(32);
    const wrong = await rejection(getServerInfo({ connection: { remote: "loop", serverFingerprint: wrongPin } }));
    expect(wrong.message).toMatch(new RegExp(`^Failed to look up the LXD server at ${url.replace(/\./g, "\\.")}: .*expected ${wrongPin}`));
    expect(leaks(wrong.message)).toEqual([]);

    // A key given as something that is not PEM is taken for a file path by the resolver; its text must not be echoed.
    const notPem = `not-a-pem-but-secret-${randomBytes(8).toString("hex")}`;
    setStackConfig({ "lxd:url": url, "lxd:clientCert": cert.cert, "lxd:clientKey": notPem, "lxd:serverFingerprint": fingerprint });
    const bad = await rejection(getInstance({ name: instance, project }));
    expect(bad.message).toMatch(/^Failed to look up instance ".*" in project ".*": ENOENT: no such file or directory, open .\[redacted\].$/);
    expect(bad.message).toContain("[redacted]");
    expect(bad.message).not.toContain(notPem);
    expect(leaks(bad.message)).toEqual([]);
  });

  test("an untrusted client certificate gets LXD's refusal, without its key", async () => {
    const other = generateClientCertificate({ commonName: rnd() });
    setStackConfig({ "lxd:url": url, "lxd:clientCert": other.cert, "lxd:clientKey": other.key, "lxd:serverFingerprint": fingerprint });
    const info = await getServerInfo();
    expect(info.auth).toBe("untrusted");
    expect(info.apiExtensions.length).toBeGreaterThan(0);
    const denied = await rejection(getInstance({ name: instance, project }));
    expect(denied.message).toMatch(new RegExp(`^Failed to look up instance "${instance}" in project "${project}": `));
    const otherLines = other.key.split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----"));
    expect(otherLines.filter((l) => denied.message.includes(l) || JSON.stringify(info).includes(l))).toEqual([]);
  });
});
