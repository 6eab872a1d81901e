/**
 * A stateful app: one hardened container with a data volume, on the LXD that `lxd:*` stack config points at
 * (default: the local unix socket).
 *
 * The volume `<name>-data` (64MiB, custom, filesystem) lives in the container's project and pool, is mounted at
 * /srv/data, and LXD snapshots it every day (`snapshots.schedule: "@daily"`) and drops those snapshots after a
 * week (`snapshots.expiry: "7d"`). A first snapshot, `initial`, is taken now. Destroying the stack deletes the
 * container first, then the snapshot and the volume (the data with it): keep the volume out of `pulumi destroy`
 * (`protect: true` on it, or a StorageVolume with `adopt`) when its data must outlive the stack.
 *
 *   pulumi up
 *   lxc exec stateful-app -- sh -c 'echo hello > /srv/data/hello'
 *   lxc storage volume show default stateful-app-data     # snapshots.schedule, snapshots.expiry, used_by
 *
 * Stack config: `image` (default `pulumi-lxd-test`), `name` (default `stateful-app`), `pool` (default `default`).
 */
import * as pulumi from "@pulumi/pulumi";
// In your own program: import * as lxd from "pulumi-lxd-hardened";
import * as lxd from "../../index";

const config = new pulumi.Config();

const app = new lxd.HardenedContainer("app", {
  name: config.get("name") ?? "stateful-app",
  image: config.get("image") ?? "pulumi-lxd-test",
  pool: config.get("pool") ?? "default",
  limits: { cpu: 1, memory: "256MiB", processes: 500 },
  volumes: {
    data: {
      size: "64MiB",
      path: "/srv/data",
      config: { "snapshots.schedule": "@daily", "snapshots.expiry": "7d" },
    },
  },
});

const data = app.storageVolumes.data;
const initial = new lxd.VolumeSnapshot("data-initial", {
  name: "initial",
  pool: data.pool,
  volume: data.name,
  project: data.project,
  description: "Taken when the stack was first brought up",
});

export const name = app.name;
export const status = app.status;
export const volume = data.name;
export const snapshot = initial.name;
