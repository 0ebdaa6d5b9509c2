/**
 * Parsing and checking of manifest documents as fetched from a registry or the
 * content store: Docker v2 schema 2 manifests and manifest lists, OCI manifests
 * and indexes. Schema 1 is refused: it was deprecated by docker (v1 image
 * format, removed from pulls in docker 26) and carries no content-addressed config.
 */
import { InvalidArgument, NotImplemented } from "../errdefs.js";
import { isDigest } from "./digest.js";
import {
  MediaType, isIndexType, isManifestType,
  type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest,
} from "./media-types.js";

export type ParsedManifest =
  | { kind: "manifest"; mediaType: string; manifest: ImageManifest }
  | { kind: "index"; mediaType: string; index: ImageIndex };

function checkDescriptor(d: unknown, what: string): Descriptor {
  const x = d as Partial<Descriptor> | null;
  if (x === null || typeof x !== "object") throw new InvalidArgument(`${what}: descriptor is not an object`);
  if (typeof x.mediaType !== "string" || x.mediaType === "") throw new InvalidArgument(`${what}: descriptor has no mediaType`);
  if (!isDigest(x.digest)) throw new InvalidArgument(`${what}: descriptor digest ${JSON.stringify(x.digest)} is not sha256:<hex>`);
  if (typeof x.size !== "number" || !Number.isSafeInteger(x.size) || x.size < 0) {
    throw new InvalidArgument(`${what}: descriptor ${x.digest} has invalid size ${JSON.stringify(x.size)}`);
  }
  return x as Descriptor;
}

/** Parses manifest bytes; `contentType` is the registry's Content-Type header when known. */
export function parseManifest(bytes: Buffer, contentType: string | undefined, what: string): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new InvalidArgument(`${what}: manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== "object") throw new InvalidArgument(`${what}: manifest is not a JSON object`);
  const ct = contentType?.split(";")[0]?.trim();
  const declared = typeof doc.mediaType === "string" ? doc.mediaType : undefined;
  if (doc.schemaVersion === 1 || ct === MediaType.DockerSchema1 || ct === MediaType.DockerSchema1Signed) {
    throw new NotImplemented(`${what}: image manifest schema 1 is not supported (deprecated by docker); re-push the image with a current docker or skopeo to convert it to schema 2 or OCI`);
  }
  if (doc.schemaVersion !== 2) throw new InvalidArgument(`${what}: unsupported manifest schemaVersion ${JSON.stringify(doc.schemaVersion)}`);
  let mediaType = declared ?? (ct && ct !== "application/json" && ct !== "text/plain" ? ct : undefined);
  if (mediaType === undefined) {
    // OCI allows mediaType to be absent; the shape then tells index from manifest.
    mediaType = Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  }
  if (isIndexType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new InvalidArgument(`${what}: index has no manifests array`);
    doc.manifests.forEach((m, i) => checkDescriptor(m, `${what}: manifests[${i}]`));
    return { kind: "index", mediaType, index: doc as unknown as ImageIndex };
  }
  if (isManifestType(mediaType)) {
    checkDescriptor(doc.config, `${what}: config`);
    if (!Array.isArray(doc.layers)) throw new InvalidArgument(`${what}: manifest has no layers array`);
    doc.layers.forEach((l, i) => checkDescriptor(l, `${what}: layers[${i}]`));
    return { kind: "manifest", mediaType, manifest: doc as unknown as ImageManifest };
  }
  throw new NotImplemented(`${what}: manifest media type ${JSON.stringify(mediaType)} is not supported`);
}

/** Parses an image config and checks the fields pulling depends on. */
export function parseImageConfig(bytes: Buffer, what: string): ImageConfig {
  let c: ImageConfig;
  try {
    c = JSON.parse(bytes.toString("utf8")) as ImageConfig;
  } catch (e) {
    throw new InvalidArgument(`${what}: image config is not valid JSON: ${(e as Error).message}`);
  }
  if (c === null || typeof c !== "object") throw new InvalidArgument(`${what}: image config is not a JSON object`);
  if (c.rootfs?.type !== "layers" || !Array.isArray(c.rootfs.diff_ids) || !c.rootfs.diff_ids.every(isDigest)) {
    throw new InvalidArgument(`${what}: image config rootfs must be {type: "layers", diff_ids: [sha256 digests]}`);
  }
  return c;
}
