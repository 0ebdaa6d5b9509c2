/**
 * The image module's public interface: references, the content store, the
 * registry client, pull/push orchestration and image metadata. Other modules
 * import from here only. Layout on disk: README.md beside this file.
 */
export {
  parseReference, isValidReference, formatReference, referenceName, familiarName, familiarString, withTag, withDigest,
  DEFAULT_DOMAIN, DEFAULT_TAG, type Reference, type ParseOptions,
} from "./reference.js";
export { isDigest, parseDigest, sha256Digest, DigestingStream, type Digest } from "./digest.js";
export {
  MediaType, MANIFEST_ACCEPT, isManifestType, isIndexType,
  type Descriptor, type ImageManifest, type ImageIndex, type ImageConfig, type HistoryEntry, type Platform,
} from "./media-types.js";
export {
  createContentStore,
  type ContentStore, type ContentReader, type ContentIngester, type IngestManager, type ContentManager,
  type ContentInfo, type IngestOptions, type IngestResult, type IngestSource, type IngestStatus, type GcResult,
} from "./content-store.js";
export { parseManifest, parseImageConfig, type ParsedManifest } from "./manifests.js";
export { parsePlatform, formatPlatform, defaultPlatform, inspectPlatform, normalizePlatform, platformMatches, selectManifest } from "./platform.js";
export {
  DockerConfigCredentials, defaultDockerConfigPath, authKey, type Credentials, type CredentialStore,
} from "./docker-config.js";
export {
  createRegistryClient, RegistryClient, type RegistryClientOptions, type FetchedManifest,
} from "./registry-client.js";
export type { PushBlobOptions } from "./blob-upload.js";
export type { ProgressEvent, ProgressFn } from "./progress.js";
export { uncompressedLayer, computeDiffId, chainIds, compressionOf, type UncompressedLayer, type Compression } from "./diff-id.js";
export { pullImage, type PullOptions, type PullDeps, type PullResult, type ApplyLayer, type ApplyArriving, type ArrivingBlob } from "./pull.js";
export { pushImage, type PushOptions, type PushDeps, type PushResult } from "./push.js";
export {
  createImageStore, IMAGE_STORE_VERSION,
  type ImageStore, type Image, type ImageRecord, type DeleteItem, type InUse,
} from "./image-store.js";
export type { ImageInspect, ImageHistoryItem } from "./image-inspect.js";
