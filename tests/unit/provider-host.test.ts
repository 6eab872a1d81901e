/**
 * Proves the provider-host harness (tests/support/provider-host.ts) against the SDK's real
 * dynamic-provider host, with the in-memory fixture providers of tests/support/fixtures.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  configSnapshotProvider,
  MemoryItem,
  memoryProvider,
  type MemoryInputs,
} from "../support/fixtures/memory-provider";
import {
  DYNAMIC_RESOURCE_TYPE,
  ProviderHostError,
  UNKNOWN,
  dynamicResourceType,
  serializeProvider,
  startProviderHost,
  urn,
  withProvider,
  type ProviderHost,
} from "../support/provider-host";
import { mockResourcesToHost, valueOf } from "../support/provider-host-mocks";

const ITEM_TYPE = dynamicResourceType("memory", "Item");

let host: ProviderHost;
let providerText: string;

beforeAll(async () => {
  [host, providerText] = await Promise.all([
    startProviderHost({ config: { greeting: "hello", "other:flag": "on" }, secretKeys: ["greeting"] }),
    serializeProvider(memoryProvider),
  ]);
});

afterAll(async () => {
  await host?.close();
});

/** Check then Create, as the engine does for a new resource. */
async function createItem(name: string, inputs: Partial<MemoryInputs> = {}) {
  const itemUrn = urn(ITEM_TYPE, name);
  const checked = await host.check(itemUrn, {}, withProvider({ name, ...inputs }, providerText));
  expect(checked.failures).toEqual([]);
  const created = await host.create(itemUrn, checked.inputs);
  return { itemUrn, checked, created };
}

describe("wire helpers", () => {
  it("builds URNs and type tokens as the engine and dynamic.Resource do", () => {
    expect(urn(DYNAMIC_RESOURCE_TYPE, "web")).toBe(
      "urn:pulumi:test::pulumi-lxd-hardened::pulumi-nodejs:dynamic:Resource::web",
    );
    expect(urn(ITEM_TYPE, "web", "prod", "p")).toBe("urn:pulumi:prod::p::pulumi-nodejs:dynamic/memory:Item::web");
    expect(dynamicResourceType()).toBe(DYNAMIC_RESOURCE_TYPE);
  });

  it("rejects props that already carry __provider, with the SDK's message", () => {
    expect(() => withProvider({ __provider: "x" }, providerText)).toThrow(
      "A dynamic resource must not define the __provider key",
    );
  });

  it("serializes a provider into a module whose handler returns it", () => {
    expect(providerText).toMatch(/^exports\.handler = /);
  });
});

describe("dynamic-provider host", () => {
  it("answers Configure the way the engine plans around", () => {
    expect(host.port).toBeGreaterThan(0);
    expect(host.protocol).toEqual({
      acceptSecrets: false,
      acceptResources: false,
      supportsPreview: false,
      acceptOutputs: false,
    });
  });

  it("runs check → create → read → diff → update → delete", async () => {
    const { itemUrn, checked, created } = await createItem("web");
    expect(checked.inputs).toEqual({ name: "web", size: 1, __provider: providerText });
    expect(created).toEqual({
      id: "item-web",
      properties: { name: "web", size: 1, greeting: "hello", runtimeGreeting: "hello", __provider: providerText },
    });

    const read = await host.read(created.id, itemUrn, created.properties, checked.inputs);
    expect(read).toEqual({
      id: "item-web",
      properties: created.properties,
      inputs: { name: "web", size: 1, __provider: providerText },
    });

    const same = await host.check(itemUrn, checked.inputs, withProvider({ name: "web" }, providerText));
    expect(await host.diff(created.id, itemUrn, created.properties, same.inputs)).toEqual({
      changes: "none",
      replaces: [],
      deleteBeforeReplace: false,
      diffs: [],
      detailedDiff: undefined,
    });
    const renamed = await host.check(itemUrn, checked.inputs, withProvider({ name: "www" }, providerText));
    expect(await host.diff(created.id, itemUrn, created.properties, renamed.inputs)).toMatchObject({
      changes: "some",
      replaces: ["name"],
      deleteBeforeReplace: true,
    });
    const resized = await host.check(itemUrn, checked.inputs, withProvider({ name: "web", size: 3 }, providerText));
    expect(await host.diff(created.id, itemUrn, created.properties, resized.inputs)).toMatchObject({
      changes: "some",
      replaces: [],
    });

    const updated = await host.update(created.id, itemUrn, created.properties, resized.inputs, {
      oldInputs: checked.inputs,
    });
    expect(updated.properties).toEqual({ ...created.properties, size: 3 });

    await host.delete(created.id, itemUrn, updated.properties, { oldInputs: resized.inputs });
    expect((await host.read(created.id, itemUrn, updated.properties, resized.inputs)).id).toBe("");
  });

  it("reports check failures as {property, reason}", async () => {
    const checked = await host.check(urn(ITEM_TYPE, "bad"), {}, withProvider({ name: "", size: "big" }, providerText));
    expect(checked.failures).toEqual([
      { property: "name", reason: 'name must be a non-empty string, but "" was provided' },
      { property: "size", reason: 'size must be a number, but "big" was provided' },
    ]);
  });

  it("exposes stack config through configure() and through PULUMI_CONFIG at run time", async () => {
    // "greeting" was sent as a secret: the host unwraps it, providers see plain values.
    const { created } = await createItem("config");
    expect(created.properties).toMatchObject({ greeting: "hello", runtimeGreeting: "hello" });
  });

  it("shows that a captured pulumi.Config is the program's config frozen into __provider", async () => {
    const saved = pulumi.runtime.allConfig();
    pulumi.runtime.setConfig("pulumi-lxd-hardened:greeting", "from-program");
    let snapshotText: string;
    try {
      snapshotText = await serializeProvider(configSnapshotProvider);
    } finally {
      pulumi.runtime.setAllConfig(saved);
    }
    expect(snapshotText).toContain("from-program");
    const snapshotUrn = urn(DYNAMIC_RESOURCE_TYPE, "snapshot");
    const created = await host.create(snapshotUrn, withProvider({}, snapshotText));
    expect(created.properties.greeting).toBe("from-program"); // the host's config says "hello"
  });

  it("rejects a partially created resource with its {id, properties, reasons}", async () => {
    const itemUrn = urn(ITEM_TYPE, "broken");
    const error = await host
      .create(itemUrn, withProvider({ name: "broken", size: 1, behaviour: "partial-create" }, providerText))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ProviderHostError);
    const failed = error as ProviderHostError;
    expect(failed.message).toContain('Failed to start item "broken": boot timed out');
    expect(failed.partial).toBe(true);
    expect(failed.id).toBe("item-broken");
    expect(failed.properties).toMatchObject({ name: "broken", size: 1, greeting: "hello" });
    expect(failed.reasons).toEqual(["boot timed out"]);
    // Pitfall: the host does not add `__provider` to a partial failure's properties, and the engine
    // stores them as the resource's outputs. Delete and Read load the provider from those outputs, so
    // they fail until the provider itself puts `__provider: inputs.__provider` into `properties`.
    expect(failed.properties).not.toHaveProperty("__provider");
    await expect(host.delete("item-broken", itemUrn, failed.properties ?? {})).rejects.toThrow(
      "code must be a string",
    );
    await host.delete("item-broken", itemUrn, withProvider(failed.properties ?? {}, providerText));
  });

  it("fails when a provider returns undefined, with the host's 'Unexpected struct type.'", async () => {
    const itemUrn = urn(ITEM_TYPE, "leaky");
    const props = withProvider({ name: "leaky", size: 1, behaviour: "undefined-output" }, providerText);
    const created = host.create(itemUrn, props);
    await expect(created).rejects.toThrow("Unexpected struct type.");
    await expect(created).rejects.toMatchObject({ partial: false });
    await host.delete("item-leaky", itemUrn, withProvider({}, providerText));
  });

  it("passes preview unknowns to check as the sentinel and plans create without calling it", async () => {
    const itemUrn = urn(ITEM_TYPE, "planned");
    const news = withProvider({ name: "planned", size: UNKNOWN }, providerText);
    const checked = await host.check(itemUrn, {}, news, { preview: true });
    // The fixture accepts `size` only as a number or exactly the sentinel string.
    expect(checked).toEqual({ inputs: news, failures: [] });

    const planned = await host.create(itemUrn, checked.inputs, { preview: true });
    expect(planned).toEqual({ id: "", properties: news });
    const gone = await host.read("item-planned", itemUrn, withProvider({}, providerText));
    expect(gone.id).toBe(""); // nothing was created
  });

  it("rejects unknowns outside preview, as the engine never sends them", async () => {
    const news = withProvider({ name: "x", size: UNKNOWN }, providerText);
    await expect(host.check(urn(ITEM_TYPE, "x"), {}, news)).rejects.toThrow(/only during preview/);
  });

  it("close() ends the host process", async () => {
    const extra = await startProviderHost();
    await extra.close();
    expect(() => process.kill(extra.pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    await expect(extra.check(urn(ITEM_TYPE, "x"), {}, {})).rejects.toThrow("closed");
  });

  it("lets a process that forgot close() exit, and the host ends with it", async () => {
    const script = path.join(__dirname, "..", "support", "fixtures", "forgetful-host.ts");
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ["-r", "ts-node/register/transpile-only", script], (error, out) =>
        error ? reject(error) : resolve(out),
      );
    });
    const pid = Number(stdout.trim());
    expect(pid).toBeGreaterThan(0);
    // The watchdog sees stdin close when the parent exits; give the host a bounded moment to follow.
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(isAlive(pid)).toBe(false);
  });
});

describe("mockResourcesToHost", () => {
  it("runs a program's dynamic resources through the host via setMocks", async () => {
    const mocks = mockResourcesToHost(host);
    await pulumi.runtime.setMocks(mocks, "pulumi-lxd-hardened", "test");

    const item = new MemoryItem("mock-web", { name: "mock-web", size: 2 });
    const secretItem = new MemoryItem("mock-secret", { name: pulumi.secret("mock-secret") });
    const plain = new PlainDynamic("mock-plain", { name: "mock-plain" });
    const thing = new Thing("thing", { x: 1 });

    expect(await valueOf(item.id)).toBe("item-mock-web");
    expect(await valueOf(item.greeting)).toBe("hello");
    expect(await valueOf(item.size)).toBe(2);
    expect(await valueOf(plain.id)).toBe("item-mock-plain");
    expect(await valueOf(thing.id)).toBe("thing-id");
    expect(await valueOf(secretItem.name)).toBe("mock-secret");
    expect(await pulumi.isSecret(secretItem.name)).toBe(true);

    // What setMocks sees: the SDK's type tokens and the serialized provider among the inputs —
    // byte-identical to serializeProvider(memoryProvider). (Registration order is not program order:
    // dynamic resources wait for their provider's serialization.)
    const seen = mocks.resources.map((r) => [r.type, r.name, r.viaHost]);
    expect(seen.sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual([
      [DYNAMIC_RESOURCE_TYPE, "mock-plain", true],
      [ITEM_TYPE, "mock-secret", true],
      [ITEM_TYPE, "mock-web", true],
      ["test:index:Thing", "thing", false],
    ]);
    const web = mocks.find(ITEM_TYPE, "mock-web");
    expect(web?.inputs).toEqual({ name: "mock-web", size: 2, __provider: providerText });
    expect(web?.outputs).toMatchObject({ name: "mock-web", size: 2, greeting: "hello", runtimeGreeting: "hello" });
    expect(mocks.find(ITEM_TYPE, "mock-secret")?.inputs.name).toBe("mock-secret"); // unwrapped for the host
    expect(mocks.find("test:index:Thing", "thing")?.outputs).toEqual({ x: 1 });

    await mocks.cleanup();
    expect(mocks.resources.filter((r) => r.viaHost).every((r) => r.deleted)).toBe(true);
    expect((await host.read("item-mock-web", web?.urn ?? "", withProvider({}, providerText))).id).toBe("");
  });
});

describe("mockResourcesToHost in preview", () => {
  it("sends unknown inputs to Check as the sentinel and does not create", async () => {
    const mocks = mockResourcesToHost(host);
    await pulumi.runtime.setMocks(mocks, "pulumi-lxd-hardened", "test", /* preview */ true);

    // `size` is an output the mock state does not provide: unknown during preview.
    const thing = new Thing("sizer", { x: 1, size: undefined });
    const item = new MemoryItem("mock-planned", { name: "mock-planned", size: thing.size as pulumi.Output<number> });
    await valueOf(item.urn); // the URN is known once the registration finished

    const planned = mocks.find(ITEM_TYPE, "mock-planned");
    expect(planned?.inputs.size).toBe(UNKNOWN);
    expect(planned?.checkedInputs.size).toBe(UNKNOWN);
    expect(planned?.id).toBe("");
    const gone = await host.read("item-mock-planned", planned?.urn ?? "", withProvider({}, providerText));
    expect(gone.id).toBe("");
  });
});

/** `dynamic.Resource` without module/type: registers as `pulumi-nodejs:dynamic:Resource`. */
class PlainDynamic extends pulumi.dynamic.Resource {
  constructor(name: string, props: pulumi.Inputs) {
    super(memoryProvider, name, props);
  }
}

/** A plain custom resource (not dynamic): the mocks echo its inputs. */
class Thing extends pulumi.CustomResource {
  declare readonly size: pulumi.Output<unknown>;

  constructor(name: string, props: pulumi.Inputs) {
    super("test:index:Thing", name, props);
  }
}

/**
 * Whether `pid` is a running process. An orphaned host that exited stays a zombie until PID 1 reaps
 * it, which can take seconds in a container; a zombie counts as gone.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "<pid> (<comm>) <state> ..."; comm may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
