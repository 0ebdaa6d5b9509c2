/**
 * Pushing one blob (distribution spec/api.md, "Pushing An Image"): HEAD to skip
 * what the repository has, cross-repository mount (POST ?mount=&from=, 201 when
 * mounted, 202 = a plain upload session instead), then either one monolithic
 * PUT ?digest= or PATCHes with Content-Range and a closing PUT. The registry
 * checks the digest of what it received and refuses a mismatch (DIGEST_INVALID).
 */
import { Readable, Transform } from "node:stream";
import { Unavailable } from "../errdefs.js";
import type { Descriptor } from "./media-types.js";
import { progressEvent, type ProgressFn } from "./progress.js";
import type { Reference } from "./reference.js";
import { registryError } from "./registry-errors.js";
import type { RegistryClient } from "./registry-client.js";
import { pushScope } from "./registry-client.js";
import type { HttpResponse } from "./transport.js";

export interface PushBlobOptions {
  /** Other repository paths on the same registry that may hold the blob (mount candidates). */
  mountFrom?: string[];
  /** Upload in PATCH chunks of this many bytes when the blob is larger; monolithic otherwise. */
  chunkSize?: number;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

const what = (repo: Reference, d: string): string => `push blob ${repo.domain}/${repo.path}@${d}`;

function location(res: HttpResponse, repo: Reference, digest: string): URL {
  const loc = res.headers.location;
  if (!loc) throw new Unavailable(`${what(repo, digest)}: registry answered ${res.status} without a Location`);
  return new URL(loc, res.url);
}

export async function pushBlobUpload(
  client: RegistryClient, repo: Reference, desc: Descriptor, open: () => Promise<Readable>, opts: PushBlobOptions,
): Promise<"exists" | "mounted" | "pushed"> {
  const { signal, onProgress } = opts;
  const mountFrom = (opts.mountFrom ?? []).filter((p) => p !== repo.path);
  const scopes = [pushScope(repo), ...mountFrom.map((p) => `repository:${p}:pull`)];
  onProgress?.(progressEvent(desc.digest, "Preparing"));
  if ((await client.blobExists(repo, desc.digest, signal)) !== undefined) {
    onProgress?.(progressEvent(desc.digest, "Layer already exists"));
    return "exists";
  }
  let session: URL | undefined;
  for (const from of mountFrom) {
    const q = new URLSearchParams({ mount: desc.digest, from });
    const res = await client.call(repo.domain, scopes, { method: "POST", url: `/v2/${repo.path}/blobs/uploads/?${q}`, body: Buffer.alloc(0), signal });
    if (res.status === 201) {
      await res.drain();
      onProgress?.(progressEvent(desc.digest, `Mounted from ${from}`));
      return "mounted";
    }
    if (res.status !== 202) throw await registryError(res, what(repo, desc.digest));
    await res.drain();
    session = location(res, repo, desc.digest);
    break;
  }
  if (!session) {
    const res = await client.call(repo.domain, scopes, { method: "POST", url: `/v2/${repo.path}/blobs/uploads/`, body: Buffer.alloc(0), signal });
    if (res.status !== 202) throw await registryError(res, what(repo, desc.digest));
    await res.drain();
    session = location(res, repo, desc.digest);
  }
  const chunked = opts.chunkSize !== undefined && desc.size > opts.chunkSize;
  const final = chunked
    ? await uploadChunks(client, repo, desc, session, await open(), opts.chunkSize!, opts)
    : session;
  final.searchParams.set("digest", desc.digest);
  const body = chunked ? Buffer.alloc(0) : (await open()).pipe(counter(desc, onProgress));
  const res = await client.call(repo.domain, scopes, {
    method: "PUT", url: final, body, signal,
    headers: { "content-type": "application/octet-stream", ...(chunked ? {} : { "content-length": String(desc.size) }) },
  });
  if (res.status !== 201) throw await registryError(res, what(repo, desc.digest));
  await res.drain();
  onProgress?.(progressEvent(desc.digest, "Pushed"));
  return "pushed";
}

function counter(desc: Descriptor, onProgress?: ProgressFn): Transform {
  let done = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      done += chunk.length;
      onProgress?.(progressEvent(desc.digest, "Pushing", done, desc.size));
      cb(null, chunk);
    },
  });
}

/** Regroups a stream into Buffers of exactly `size` bytes (the last may be shorter). */
async function* rechunk(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    let buf = c as Buffer;
    while (buf.length > 0) {
      const take = Math.min(size - n, buf.length);
      parts.push(buf.subarray(0, take));
      n += take;
      buf = buf.subarray(take);
      if (n === size) { yield Buffer.concat(parts); parts = []; n = 0; }
    }
  }
  if (n > 0) yield Buffer.concat(parts);
}

async function uploadChunks(
  client: RegistryClient, repo: Reference, desc: Descriptor, session: URL, stream: Readable, size: number, opts: PushBlobOptions,
): Promise<URL> {
  let url = session;
  let offset = 0;
  for await (const chunk of rechunk(stream, size)) {
    const res = await client.call(repo.domain, [pushScope(repo)], {
      method: "PATCH", url, body: chunk, signal: opts.signal,
      headers: {
        "content-type": "application/octet-stream",
        "content-range": `${offset}-${offset + chunk.length - 1}`,
      },
    });
    if (res.status !== 202) throw await registryError(res, `${what(repo, desc.digest)} (chunk at ${offset})`);
    await res.drain();
    // The registry reports what it holds as "0-<last byte>"; trust it over our count.
    const m = /^(?:bytes=)?0-(\d+)$/.exec(String(res.headers.range ?? ""));
    offset = m ? Number(m[1]) + 1 : offset + chunk.length;
    url = location(res, repo, desc.digest);
    opts.onProgress?.(progressEvent(desc.digest, "Pushing", offset, desc.size));
  }
  return url;
}
