/**
 * The program-side classes of InstanceFile and InstanceExec under pulumi.runtime.setMocks: `content` always goes to
 * the engine as a secret (so the state's inputs are encrypted), whatever the program passed.
 */
import * as pulumi from "@pulumi/pulumi";

const seen: Record<string, Record<string, unknown>> = {};

beforeAll(async () => {
  await pulumi.runtime.setMocks({
    newResource(args) {
      seen[args.name] = args.inputs;
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call: () => ({}),
  }, "proj", "stack", false);
});

test("InstanceFile sends content as a secret even when the program passed it plain", async () => {
  const { InstanceFile } = await import("../../resources/instance-file");
  const f = new InstanceFile("f1", { instance: "c1", path: "/etc/x", content: "plain-text" });
  const id = await new Promise((r) => f.id.apply(r));
  expect(id).toBe("f1-id");
  const content = seen.f1.content as Record<string, unknown>;
  expect(content).toEqual({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "plain-text" });
});

test("InstanceFile with source sends no content", async () => {
  const { InstanceFile } = await import("../../resources/instance-file");
  const f = new InstanceFile("f2", { instance: "c1", path: "/etc/x", source: "./x" });
  await new Promise((r) => f.id.apply(r));
  expect(seen.f2.content).toBeUndefined();
  expect(seen.f2.source).toBe("./x");
});
