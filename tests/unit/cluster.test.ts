/**
 * Cluster pieces that need no LXD: the `target` input's validation, HardenedContainer `replicas` (validation and
 * the instances it declares, with echo mocks), ClusterGroup/ClusterMember input checks.
 * tests/integration/cluster.test.ts runs all of it against the real 3-member test cluster.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { HardenedContainer, validateHardenedContainerArgs, type HardenedContainerArgs } from "../../components";
import { locationOf, placementFields } from "../../provider/kinds/instance-placement";
import { clusterGroupKind } from "../../provider/kinds/cluster-group";
import { clusterMemberKind } from "../../provider/kinds/cluster-member";
import type { Scope } from "../../provider/kit/contract";

const noScope = (): Scope => {
  throw new Error("no LXD in unit tests");
};

function inputError(fn: () => void): pulumi.InputPropertyError {
  try {
    fn();
  } catch (err) {
    if (pulumi.InputPropertyError.isInstance(err)) return err;
    throw err;
  }
  throw new Error("no InputPropertyError");
}

describe("Instance target", () => {
  const schema = () => z.object(placementFields()).strict();
  it("accepts a member name or @group", () => {
    expect(schema().parse({ target: "node1" })).toEqual({ target: "node1" });
    expect(schema().parse({ target: "@gpu-nodes", allowRestartForMove: true })).toEqual({ target: "@gpu-nodes", allowRestartForMove: true });
  });
  it("rejects a target that is no member or group name, saying what was provided", () => {
    const r = schema().safeParse({ target: "node 1" });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].message).toBe('must be a cluster member name or "@<cluster group>", but "node 1" was provided');
    expect(schema().safeParse({ target: "@" }).success).toBe(false);
  });
  it("reports location as the member, and \"\" on a server that is not clustered", () => {
    expect(locationOf({ location: "node2" })).toBe("node2");
    expect(locationOf({ location: "none" })).toBe("");
    expect(locationOf({})).toBe("");
  });
});

describe("HardenedContainer replicas", () => {
  const c = (extra: Partial<HardenedContainerArgs>): HardenedContainerArgs => ({ image: "img", ...extra });
  it("rejects a bad count, bad targets, or target with replicas", () => {
    expect(inputError(() => validateHardenedContainerArgs(c({ replicas: { count: 0, targets: ["node1"] } }))).propertyPath).toBe("replicas.count");
    expect(inputError(() => validateHardenedContainerArgs(c({ replicas: { count: 2, targets: [] } }))).propertyPath).toBe("replicas.targets");
    expect(inputError(() => validateHardenedContainerArgs(c({ replicas: { count: 2, targets: "group" } }))).reason).toMatch(/"@<cluster group>", but "group" was provided/);
    expect(inputError(() => validateHardenedContainerArgs(c({ replicas: { count: 2, targets: ["node 1"] } }))).propertyPath).toBe("replicas.targets[0]");
    expect(inputError(() => validateHardenedContainerArgs(c({ target: "node1", replicas: { count: 2, targets: ["node1"] } }))).propertyPath).toBe("target");
    expect(inputError(() => validateHardenedContainerArgs(c({ target: "no/de" }))).propertyPath).toBe("target");
  });

  describe("wiring (echo mocks)", () => {
    const registered: pulumi.runtime.MockResourceArgs[] = [];
    beforeAll(async () => {
      await pulumi.runtime.setMocks({
        newResource: (args) => {
          registered.push(args);
          return { id: args.custom ? `${args.name}-id` : undefined, state: { ...args.inputs, location: args.inputs.target ?? "" } };
        },
        call: (args) => args.inputs,
      }, "unit", "test", false);
    });
    const settle = <T>(o: pulumi.Output<T>) => (o as unknown as { promise(): Promise<T> }).promise();
    const instances = (prefix: string) => registered.filter((r) => r.type.endsWith(":Instance") && r.name.startsWith(prefix));

    it("declares count instances <name>-<i>, round-robin over the members, sharing one profile", async () => {
      const w = new HardenedContainer("web", { image: "img", replicas: { count: 4, targets: ["node1", "node2", "node3"] } });
      expect(await settle(w.locations)).toEqual(["node1", "node2", "node3", "node1"]);
      const inst = instances("web");
      expect(inst.map((r) => [r.name, r.inputs.name, r.inputs.target])).toEqual([
        ["web-1", "web-1", "node1"], ["web-2", "web-2", "node2"], ["web-3", "web-3", "node3"], ["web-4", "web-4", "node1"],
      ]);
      expect(inst.every((r) => JSON.stringify(r.inputs.profiles) === JSON.stringify(["web"]))).toBe(true);
      expect(w.instance).toBe(w.instances[0]);
    });

    it("targets every replica at the group", async () => {
      const w = new HardenedContainer("grp", { image: "img", replicas: { count: 2, targets: "@gpu" } });
      await settle(w.locations);
      expect(instances("grp").map((r) => r.inputs.target)).toEqual(["@gpu", "@gpu"]);
    });

    it("keeps the single-container default exactly as before: one instance named like the component, no target", async () => {
      const one = new HardenedContainer("solo", { image: "img" });
      await settle(one.name);
      const inst = instances("solo");
      expect(inst.map((r) => r.name)).toEqual(["solo"]);
      expect(inst[0].inputs).not.toHaveProperty("target");
      expect(inst[0].inputs).not.toHaveProperty("allowRestartForMove");
      expect(inst[0].inputs.name).toBe("solo");
    });
  });
});

describe("ClusterGroup and ClusterMember checks", () => {
  const ctx = { olds: {}, open: noScope };
  it("rejects the default group and bad member names; sorts members", async () => {
    expect((await clusterGroupKind.check({ name: "default" }, ctx)).failures?.[0].reason).toMatch(/must not be "default"/);
    expect((await clusterGroupKind.check({ name: "g", members: ["node 1"] }, ctx)).failures?.[0].property).toBe("members.0");
    expect((await clusterGroupKind.check({ name: "g", members: ["node3", "node1", "node3"] }, ctx)).inputs).toMatchObject({ members: ["node1", "node3"], description: "" });
  });
  it("rejects an empty group list for a member and stores config values as strings", async () => {
    expect((await clusterMemberKind.check({ name: "node1", groups: [] }, ctx)).failures?.[0].reason).toMatch(/at least one cluster group/);
    expect((await clusterMemberKind.check({ name: "node1", config: { "scheduler.instance": "all", "user.n": 3 } }, ctx)).inputs).toMatchObject({
      config: { "scheduler.instance": "all", "user.n": "3" }, restoreOnDelete: true,
    });
  });
});
