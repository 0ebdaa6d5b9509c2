/**
 * A client for the OCI distribution / Docker Registry HTTP API v2: ping, auth,
 * manifests by tag or digest, blobs (ranged, redirected), and the push side
 * (HEAD, cross-repository mount, monolithic and chunked uploads, manifest PUT).
 * Every answer is checked: manifests are hashed before use, blobs are hashed by
 * the content store while they stream (ContentIngester.ingest).
 */
import type { Readable } from "node:stream";
import { FailedPrecondition, PermissionDenied, Unavailable } from "../errdefs.js";
import { Authorizer } from "./auth.js";
import { digestMismatch, isDigest, sha256Digest, type Digest } from "./digest.js";
import type { Credentials, CredentialStore } from "./docker-config.js";
import { DockerConfigCredentials } from "./docker-config.js";
import { parseManifest, type ParsedManifest } from "./manifests.js";
import { MANIFEST_ACCEPT, type Descriptor } from "./media-types.js";
import { DEFAULT_DOMAIN, type Reference } from "./reference.js";
import { registryError } from "./registry-errors.js";
import { HttpTransport, type HttpRequest, type HttpResponse, type TransportOptions } from "./transport.js";
import { pushBlobUpload, type PushBlobOptions } from "./blob-upload.js";

export interface RegistryClientOptions extends TransportOptions {
  /** Where credentials are read and login stores them (default: docker's config.json). */
  credentials?: CredentialStore;
}

export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  parsed: ParsedManifest;
}

const MAX_MANIFEST = 4 << 20;

/** One low-level call, authorised for `scopes`; used by blob-upload.ts. */
export type RegistryCall = (domain: string, scopes: string[], req: Omit<HttpRequest, "url"> & { url: string | URL }) => Promise<HttpResponse>;

export const pullScope = (r: Reference): string => `repository:${r.path}:pull`;
export const pushScope = (r: Reference): string => `repository:${r.path}:pull,push`;
const repoWhat = (r: Reference): string => `${r.domain}/${r.path}`;

export class RegistryClient {
  readonly transport: HttpTransport;
  readonly credentials: CredentialStore;
  private readonly auth: Authorizer;
  private readonly bases = new Map<string, Promise<URL>>();
  /** Credentials given to login() before they are stored, so the check uses them. */
  private readonly pending = new Map<string, Credentials>();

  constructor(opts: RegistryClientOptions = {}) {
    this.transport = new HttpTransport(opts);
    this.credentials = opts.credentials ?? new DockerConfigCredentials();
    this.auth = new Authorizer(this.transport, async (host) => this.pending.get(host) ?? this.credentials.get(host));
  }

  /** The API base for a domain, settled by a ping (scheme fallback for insecure hosts). */
  private endpoint(domain: string, signal?: AbortSignal): Promise<URL> {
    let p = this.bases.get(domain);
    if (!p) {
      p = this.probe(domain, signal);
      this.bases.set(domain, p);
      p.catch(() => this.bases.delete(domain));
    }
    return p;
  }

  private async probe(domain: string, signal?: AbortSignal): Promise<URL> {
    const host = domain === DEFAULT_DOMAIN ? "registry-1.docker.io" : domain;
    const https = new URL(`https://${host}/v2/`);
    if (!this.transport.allowsInsecure(domain)) {
      await this.pingAt(domain, https, signal);
      return new URL(`https://${host}/`);
    }
    // Like docker for insecure registries: https (unverified) first, then plain http.
    try {
      await this.pingAt(domain, https, signal, 1);
      return new URL(`https://${host}/`);
    } catch (e) {
      if (signal?.aborted || !(e instanceof Unavailable)) throw e;
    }
    await this.pingAt(domain, new URL(`http://${host}/v2/`), signal);
    return new URL(`http://${host}/`);
  }

  private async pingAt(domain: string, url: URL, signal?: AbortSignal, attempts?: number): Promise<void> {
    const res = await this.transport.request({ method: "GET", url, signal, ...(attempts ? { attempts } : {}) });
    await res.drain();
    if (res.status === 401) { this.auth.learn(domain, res.headers["www-authenticate"]); return; }
    if (res.status !== 200) throw new Unavailable(`registry ${domain} at ${url.origin}: /v2/ answered HTTP ${res.status}; is it a registry?`);
  }

  /** Checks the registry answers the v2 API; says whether it asks for authentication. */
  async ping(domain: string, signal?: AbortSignal): Promise<{ url: string; authRequired: boolean }> {
    const base = await this.endpoint(domain, signal);
    return { url: base.origin, authRequired: this.auth.knows(domain) };
  }

  readonly call: RegistryCall = async (domain, scopes, req) => {
    const base = await this.endpoint(domain, req.signal);
    const url = typeof req.url === "string" ? new URL(req.url, base) : req.url;
    for (let round = 0; ; round++) {
      const authz = await this.auth.header(domain, scopes, req.signal);
      const res = await this.transport.request({ ...req, url, headers: { ...req.headers, ...(authz ? { authorization: authz } : {}) } });
      if (res.status !== 401) return res;
      const challenge = res.headers["www-authenticate"];
      const creds = this.pending.get(domain) ?? (await this.credentials.get(domain));
      const usedBasic = authz?.startsWith("Basic ") ?? false;
      if (round > 0 || usedBasic || !this.auth.learn(domain, challenge) || !Buffer.isBuffer(req.body ?? Buffer.alloc(0))) {
        await res.drain();
        throw new PermissionDenied(creds
          ? `unauthorized: incorrect username or password, or no access to ${req.method} ${url.pathname} on ${domain}`
          : `unauthorized: authentication required for ${domain} (${scopes.join(" ") || "registry access"}); run berth login ${domain}`);
      }
      await res.drain();
      this.auth.invalidate(domain);
    }
  };

  /** Verifies credentials against /v2/ and stores them. */
  async login(domain: string, creds: Credentials, signal?: AbortSignal): Promise<void> {
    this.pending.set(domain, creds);
    try {
      this.auth.invalidate(domain);
      const res = await this.call(domain, [], { method: "GET", url: "/v2/", signal });
      await res.drain();
      if (res.status !== 200) throw new Unavailable(`login to ${domain}: /v2/ answered HTTP ${res.status}`);
      await this.credentials.store(domain, creds);
    } finally {
      this.pending.delete(domain);
      this.auth.invalidate(domain);
    }
  }

  /** Removes stored credentials; false when none were stored. */
  async logout(domain: string): Promise<boolean> {
    this.auth.invalidate(domain);
    return this.credentials.erase(domain);
  }

  /** GET a manifest by tag or digest; its bytes are verified against the digest asked for or announced. */
  async getManifest(repo: Reference, tagOrDigest: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const what = `${repoWhat(repo)}:${tagOrDigest}`.replace(":sha256:", "@sha256:");
    const res = await this.call(repo.domain, [pullScope(repo)], {
      method: "GET", url: `/v2/${repo.path}/manifests/${tagOrDigest}`, headers: { accept: MANIFEST_ACCEPT }, signal,
    });
    if (res.status !== 200) throw await registryError(res, `manifest ${what}`);
    const raw = await res.buffer(MAX_MANIFEST);
    const digest = sha256Digest(raw);
    if (isDigest(tagOrDigest) && tagOrDigest !== digest) throw digestMismatch(`manifest ${what}`, tagOrDigest, digest);
    const announced = res.headers["docker-content-digest"];
    if (typeof announced === "string" && isDigest(announced) && announced !== digest) throw digestMismatch(`manifest ${what}`, announced, digest);
    const parsed = parseManifest(raw, res.headers["content-type"], `manifest ${what}`);
    return { descriptor: { mediaType: parsed.mediaType, digest, size: raw.length }, bytes: raw, parsed };
  }

  /** A repository's tags (GET /v2/<name>/tags/list, following the Link header's next pages). */
  async listTags(repo: Reference, signal?: AbortSignal): Promise<string[]> {
    const tags: string[] = [];
    let url: string | undefined = `/v2/${repo.path}/tags/list?n=1000`;
    for (let pages = 0; url && pages < 100; pages++) {
      const res = await this.call(repo.domain, [pullScope(repo)], { method: "GET", url, signal });
      if (res.status !== 200) throw await registryError(res, `tags of ${repoWhat(repo)}`);
      const body = JSON.parse((await res.buffer(MAX_MANIFEST)).toString("utf8")) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ""));
      url = next ? next[1] : undefined;
    }
    return tags;
  }

  /**
   * Opens a blob's bytes from `offset` (HTTP Range); the answer says where the
   * stream really starts (0 when the server ignored the range).
   */
  async fetchBlob(repo: Reference, digest: Digest, offset = 0, signal?: AbortSignal): Promise<{ stream: Readable; offset: number }> {
    const res = await this.call(repo.domain, [pullScope(repo)], {
      method: "GET", url: `/v2/${repo.path}/blobs/${digest}`, signal,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
    });
    if (res.status === 206) {
      const m = /^bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""));
      return { stream: res.body, offset: m ? Number(m[1]) : offset };
    }
    if (res.status === 200) return { stream: res.body, offset: 0 };
    if (res.status === 416 && offset > 0) {
      await res.drain();
      return this.fetchBlob(repo, digest, 0, signal);
    }
    throw await registryError(res, `blob ${repoWhat(repo)}@${digest}`);
  }

  /** Size of a blob the repository already has, or undefined. */
  async blobExists(repo: Reference, digest: Digest, signal?: AbortSignal): Promise<number | undefined> {
    const res = await this.call(repo.domain, [pushScope(repo)], { method: "HEAD", url: `/v2/${repo.path}/blobs/${digest}`, signal });
    await res.drain();
    if (res.status === 200) return Number(res.headers["content-length"] ?? -1);
    if (res.status === 404) return undefined;
    throw await registryError(res, `blob ${repoWhat(repo)}@${digest}`);
  }

  /** Uploads a blob unless present: HEAD, then mount from `mountFrom` repos, then upload. */
  pushBlob(repo: Reference, desc: Descriptor, open: () => Promise<Readable>, opts: PushBlobOptions = {}): Promise<"exists" | "mounted" | "pushed"> {
    return pushBlobUpload(this, repo, desc, open, opts);
  }

  /** PUT a manifest under a tag or its digest; returns the digest the registry stored. */
  async putManifest(repo: Reference, tagOrDigest: string, mediaType: string, bytes: Buffer, signal?: AbortSignal): Promise<Digest> {
    const digest = sha256Digest(bytes);
    const res = await this.call(repo.domain, [pushScope(repo)], {
      method: "PUT", url: `/v2/${repo.path}/manifests/${tagOrDigest}`, headers: { "content-type": mediaType }, body: bytes, signal,
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw await registryError(res, `push manifest ${repoWhat(repo)}:${tagOrDigest}`);
    await res.drain();
    const stored = res.headers["docker-content-digest"];
    if (typeof stored === "string" && isDigest(stored) && stored !== digest) {
      throw new FailedPrecondition(`push manifest ${repoWhat(repo)}:${tagOrDigest}: registry stored ${stored}, we sent ${digest}`);
    }
    return digest;
  }

  close(): void { this.transport.close(); }
}

export function createRegistryClient(opts: RegistryClientOptions = {}): RegistryClient {
  return new RegistryClient(opts);
}
