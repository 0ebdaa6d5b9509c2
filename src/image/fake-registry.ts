/**
 * A tiny in-process registry for tests of failure paths the real one will not
 * produce: tampered blobs, stalls, 503s, dropped connections, redirects to
 * another origin, and a Bearer token service. Serves manifests and blobs from
 * maps; supports Range on blobs. Not part of the module's interface.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRequest { method: string; url: string; headers: IncomingMessage["headers"] }

export interface FakeRegistryOptions {
  manifests: Map<string, { bytes: Buffer; mediaType: string }>;
  blobs: Map<string, Buffer>;
  /** Serve these blobs with one byte flipped. */
  tamper?: Set<string>;
  /** Send blob bodies in 1 KiB pieces this many ms apart. */
  blobDelayMs?: number;
  /** Answer 503 to the first request of these paths. */
  fail503Once?: Set<string>;
  /** Destroy the connection after this many body bytes, once per blob digest. */
  dropBlobAfter?: Map<string, number>;
  /** Answer every blob GET with the whole blob (200), ignoring Range, as some servers do. */
  ignoreRange?: boolean;
  /** Redirect blob GETs to this origin (which must serve /storage/<digest>). */
  redirectBlobsTo?: string;
  /** Require Bearer tokens from /token, issued for these credentials. */
  bearer?: { user: string; password: string };
}

export interface FakeRegistry {
  host: string;
  requests: FakeRequest[];
  tokenRequests: URL[];
  close(): Promise<void>;
}

async function sendBody(res: ServerResponse, body: Buffer, delayMs: number, dropAfter?: number): Promise<void> {
  for (let p = 0; p < body.length; p += 1024) {
    if (res.destroyed) return;
    if (dropAfter !== undefined && p >= dropAfter) { res.socket?.destroy(); return; }
    res.write(body.subarray(p, Math.min(p + 1024, body.length)));
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
  }
  res.end();
}

export function serveBlob(req: IncomingMessage, res: ServerResponse, data: Buffer, delayMs = 0, dropAfter?: number, ignoreRange = false): void {
  const m = ignoreRange ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
  const start = m ? Number(m[1]) : 0;
  if (start >= data.length && data.length > 0) { res.writeHead(416).end(); return; }
  const headers = { "content-type": "application/octet-stream", "content-length": String(data.length - start) };
  res.writeHead(m ? 206 : 200, m ? { ...headers, "content-range": `bytes ${start}-${data.length - 1}/${data.length}` } : headers);
  if (req.method === "HEAD") { res.end(); return; }
  void sendBody(res, data.subarray(start), delayMs, dropAfter === undefined ? undefined : Math.max(0, dropAfter - start));
}

export async function startFakeRegistry(o: FakeRegistryOptions): Promise<FakeRegistry> {
  const requests: FakeRequest[] = [];
  const tokenRequests: URL[] = [];
  const failed = new Set<string>();
  const dropped = new Set<string>();
  let host = "";
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method!, url: req.url!, headers: req.headers });
    const url = new URL(req.url!, `http://${host}`);
    if (o.fail503Once?.has(url.pathname) && !failed.has(url.pathname)) {
      failed.add(url.pathname);
      res.writeHead(503).end("busy");
      return;
    }
    if (url.pathname === "/token") {
      tokenRequests.push(url);
      const want = `Basic ${Buffer.from(`${o.bearer?.user}:${o.bearer?.password}`).toString("base64")}`;
      if (req.headers.authorization !== want) { res.writeHead(401).end(); return; }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: `tok-${url.searchParams.getAll("scope").join(",")}`, expires_in: 300 }));
      return;
    }
    if (o.bearer && !(req.headers.authorization ?? "").startsWith("Bearer tok-")) {
      res.writeHead(401, { "www-authenticate": `Bearer realm="http://${host}/token",service="fake-registry",scope="repository:x:pull"` }).end();
      return;
    }
    if (url.pathname === "/v2/") { res.writeHead(200).end("{}"); return; }
    const mm = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (mm) {
      const m = o.manifests.get(`${mm[1]}:${mm[2]}`) ?? o.manifests.get(`${mm[1]}@${mm[2]}`);
      if (!m) { res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] })); return; }
      res.writeHead(200, { "content-type": m.mediaType, "content-length": String(m.bytes.length) }).end(m.bytes);
      return;
    }
    const bm = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
    if (bm) {
      const digest = bm[2]!;
      let data = o.blobs.get(digest);
      if (!data) { res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown" }] })); return; }
      if (o.redirectBlobsTo) { res.writeHead(307, { location: `${o.redirectBlobsTo}/storage/${digest}?sig=1` }).end(); return; }
      if (o.tamper?.has(digest)) { data = Buffer.from(data); data[data.length >> 1] ^= 0xff; }
      const drop = o.dropBlobAfter?.get(digest);
      const dropNow = drop !== undefined && !dropped.has(digest);
      if (dropNow) dropped.add(digest);
      serveBlob(req, res, data, o.blobDelayMs ?? 0, dropNow ? drop : undefined, o.ignoreRange);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host, requests, tokenRequests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
