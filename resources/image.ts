/**
 * Image, program side: the `Image` resource class and its inputs. The provider host runs the `image` kind
 * (provider/kinds/image.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/rules/connection";
import type { ImageAliasSpec, ImageSource } from "../provider/kinds/image";
import { providerShim } from "./shim";

export type { ImageAliasSpec, ImageSource, ImageInputs, ImageOutputs } from "../provider/kinds/image";

/** Inputs of {@link Image}. */
export interface ImageArgs {
  /**
   * Path (on the machine running Pulumi) of a unified image tarball (`metadata.yaml` + `rootfs/`). Its SHA-256
   * is the image fingerprint; a change of content forces replacement. Exactly one of `file`, `source` and `sourceInstance`.
   */
  file?: pulumi.Input<string>;
  /** Copy the image from another server instead. Forces replacement. */
  source?: pulumi.Input<ImageSource>;
  /**
   * Publish this instance (in `project`, which is also the image's project) as the image instead (POST /1.0/images,
   * source type `instance`, or `snapshot` with {@link sourceSnapshot}). The instance must be stopped: a running one is
   * refused (at preview when it runs then), naming the reason, unless {@link snapshotForPublish}. Every publish makes a
   * new image (a new fingerprint). Exactly one of `file`, `source` and `sourceInstance`. Forces replacement.
   */
  sourceInstance?: pulumi.Input<string>;
  /** Publish this snapshot of `sourceInstance` (the instance may be running). Forces replacement. */
  sourceSnapshot?: pulumi.Input<string>;
  /**
   * Publish a running `sourceInstance` through a temporary snapshot (`publish-<random>`, deleted after the publish),
   * so the image is a consistent point in time and the instance keeps running. Default false.
   */
  snapshotForPublish?: pulumi.Input<boolean>;
  /**
   * Image properties of a published image (`os`, `release`, `description`, …). When given they replace what the
   * instance's `image.*` keys would give, are read back and updated in place (PUT). Default: LXD's (from the
   * instance), not managed. Only with `sourceInstance`.
   */
  properties?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * Compression of a published image (`gzip`, `bzip2`, `xz`, `zstd`, `none`, …; LXD `compression_algorithm`,
   * extension `image_compression_algorithm`). Default: the server's `images.compression_algorithm`. Only with
   * `sourceInstance`. Forces replacement.
   */
  compressionAlgorithm?: pulumi.Input<string>;
  /** Aliases to create for the image (in its project). Added, removed and re-described in place. Default none. */
  aliases?: pulumi.Input<pulumi.Input<ImageAliasSpec>[]>;
  /** LXD project. Default `default`. A project with `features.images=true` holds its own copy; otherwise the default project's images are used. Forces replacement. */
  project?: pulumi.Input<string>;
  /** Visible to untrusted clients (LXD `public`). Default false. Updated in place (a published image is made with it). */
  public?: pulumi.Input<boolean>;
  /** Wait for the upload, copy or publish (and its temporary snapshot), in seconds (-1: no limit). Default 600. */
  timeoutSec?: pulumi.Input<number>;
  /** How to reach LXD. Default: stack config `lxd:*`, then environment, then the local unix socket. */
  connection?: pulumi.Input<ConnectionArgs>;
}

/**
 * An LXD image from a local unified tarball, another image server, or published from an instance or snapshot,
 * with its aliases. An image that already exists (same fingerprint) is adopted and never deleted by this stack
 * (a published image is always new).
 */
export class Image extends pulumi.dynamic.Resource {
  declare readonly fingerprint: pulumi.Output<string>;
  declare readonly fileSha256: pulumi.Output<string | undefined>;
  declare readonly size: pulumi.Output<number>;
  declare readonly architecture: pulumi.Output<string>;
  declare readonly aliases: pulumi.Output<Required<ImageAliasSpec>[]>;
  declare readonly project: pulumi.Output<string>;
  declare readonly public: pulumi.Output<boolean>;
  /** The properties declared for a published image, as LXD holds them. */
  declare readonly properties: pulumi.Output<Record<string, string> | undefined>;
  declare readonly adopted: pulumi.Output<boolean>;

  constructor(name: string, args: ImageArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("image"),
      name,
      { ...args, fileSha256: undefined, fingerprint: undefined, size: undefined, architecture: undefined, adopted: undefined, addedAliases: undefined, adoptedPublic: undefined },
      opts,
      "lxd",
      "Image",
    );
  }
}
