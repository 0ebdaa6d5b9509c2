/**
 * Media types of the Docker v2 schema 2 and OCI image formats, and the shapes of
 * the JSON documents they name (OCI image-spec manifest.md, image-index.md,
 * descriptor.md, config.md; Docker's manifest-v2-2.md).
 */
export const MediaType = {
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  DockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerLayerForeignGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  OciLayerNonDistributable: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  OciLayerNonDistributableGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
} as const;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
}

/** Docker v2 schema 2 manifest or OCI image manifest (same shape). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** Docker manifest list or OCI image index (same shape). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The image configuration (OCI config.md), as docker writes it. */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  config?: Record<string, unknown>;
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: HistoryEntry[];
  /** docker-only fields, kept for `inspect` */
  comment?: string;
  docker_version?: string;
  container?: string;
  parent?: string;
}

export const MANIFEST_TYPES: readonly string[] = [MediaType.DockerManifest, MediaType.OciManifest];
export const INDEX_TYPES: readonly string[] = [MediaType.DockerManifestList, MediaType.OciIndex];

/** What a registry GET of a manifest should accept, best first. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.DockerManifest,
  // Asked for so that a schema 1 answer is recognised and refused with a clear message.
  MediaType.DockerSchema1Signed, MediaType.DockerSchema1,
].join(", ");

export function isManifestType(mt: string | undefined): boolean {
  return mt !== undefined && MANIFEST_TYPES.includes(mt);
}

export function isIndexType(mt: string | undefined): boolean {
  return mt !== undefined && INDEX_TYPES.includes(mt);
}
