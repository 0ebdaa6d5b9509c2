/**
 * HTTP for the registry client, on node:http/https: streaming bodies, redirects
 * (Authorization dropped when the origin changes, as blob redirects to object
 * storage carry their own signature), bounded retries with backoff on 5xx, 429
 * and dropped connections, and a scheme policy: plain http only to loopback hosts
 * and registries the user marked insecure.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { BerthError, FailedPrecondition, Unavailable } from "../errdefs.js";

export interface HttpRequest {
  method: "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";
  url: URL;
  headers?: Record<string, string>;
  /** A Buffer can be re-sent on retry or redirect; a stream is sent once. */
  body?: Buffer | Readable;
  signal?: AbortSignal;
  /** Follow 3xx (GET/HEAD only; default true). */
  followRedirects?: boolean;
  /** Override the transport's attempt count (1 = no retry), e.g. for a probe. */
  attempts?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Final URL after redirects. */
  url: URL;
  body: IncomingMessage;
  /** Reads the whole body (refusing more than `limit` bytes, default 1 MiB). */
  buffer(limit?: number): Promise<Buffer>;
  text(limit?: number): Promise<string>;
  /** Reads and drops the body so the socket can be reused. */
  drain(): Promise<void>;
}

export interface TransportOptions {
  /** Hosts (host or host:port) allowed over plain http besides loopback. */
  insecureRegistries?: string[];
  userAgent?: string;
  /** Attempts for retryable failures (default 4: one try and three retries). */
  attempts?: number;
  /** First backoff delay; doubles each retry (default 250 ms). */
  backoffMs?: number;
  /** Socket idle timeout (default 60 s). */
  timeoutMs?: number;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);
const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const MAX_REDIRECTS = 10;

/** host or host:port as written in a reference, from a URL. */
export function hostOf(url: URL): string {
  return url.host;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0]!;
  return LOOPBACK.has(h) || /^127\.\d+\.\d+\.\d+$/.test(h);
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(t); reject(signal?.reason); };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

export class HttpTransport {
  private readonly insecure: Set<string>;
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  private readonly insecureTls = new https.Agent({ keepAlive: true, rejectUnauthorized: false });

  constructor(private readonly opts: TransportOptions = {}) {
    this.insecure = new Set((opts.insecureRegistries ?? []).map((h) => h.toLowerCase()));
  }

  /** May this host be spoken to over http (and https without certificate checks)? */
  allowsInsecure(host: string): boolean {
    return isLoopbackHost(host) || this.insecure.has(host.toLowerCase()) || this.insecure.has(host.split(":")[0]!.toLowerCase());
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const attempts = req.body instanceof Readable ? 1 : (req.attempts ?? this.opts.attempts ?? 4);
    let lastErr: unknown;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await sleep((this.opts.backoffMs ?? 250) * 2 ** (i - 1), req.signal);
      try {
        const res = await this.followRedirects(req);
        if (RETRY_STATUS.has(res.status) && i < attempts - 1) {
          await res.drain();
          lastErr = new Unavailable(`${req.method} ${req.url.href}: HTTP ${res.status}`);
          continue;
        }
        return res;
      } catch (e) {
        if (req.signal?.aborted || (e as Error).name === "AbortError") throw req.signal?.reason ?? e;
        if (e instanceof BerthError) throw e;
        lastErr = e;
      }
    }
    if (lastErr instanceof BerthError) throw lastErr;
    throw new Unavailable(`registry ${req.url.host} is unreachable: ${req.method} ${req.url.href}: ${(lastErr as Error).message}`, { cause: lastErr });
  }

  private async followRedirects(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let headers = { ...req.headers };
    const follow = (req.followRedirects ?? true) && (req.method === "GET" || req.method === "HEAD");
    for (let hop = 0; ; hop++) {
      const res = await this.once({ ...req, url, headers });
      if (!follow || ![301, 302, 303, 307, 308].includes(res.status) || !res.headers.location) return res;
      await res.drain();
      if (hop >= MAX_REDIRECTS) throw new Unavailable(`${req.method} ${req.url.href}: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(res.headers.location, url);
      if (next.origin !== url.origin) {
        const { authorization: _drop, Authorization: _Drop, ...rest } = headers;
        headers = rest;
      }
      url = next;
    }
  }

  private once(req: HttpRequest): Promise<HttpResponse> {
    const { url } = req;
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      return Promise.reject(new FailedPrecondition(`${url.href}: unsupported URL scheme ${url.protocol}`));
    }
    const plain = url.protocol === "http:";
    if (plain && !this.allowsInsecure(url.host)) {
      return Promise.reject(new FailedPrecondition(`refusing plain http to ${url.host}: only loopback hosts and registries marked insecure may use http`));
    }
    const agent = plain ? this.agents.http : this.allowsInsecure(url.host) ? this.insecureTls : this.agents.https;
    const mod = plain ? http : https;
    const headers: Record<string, string> = { "user-agent": this.opts.userAgent ?? "berth/0.1", ...req.headers };
    if (Buffer.isBuffer(req.body)) headers["content-length"] = String(req.body.length);
    return new Promise<HttpResponse>((resolve, reject) => {
      const r = mod.request(url, { method: req.method, headers, agent, signal: req.signal, timeout: this.opts.timeoutMs ?? 60_000 }, (res) => {
        resolve(wrapResponse(res, url));
      });
      r.on("timeout", () => r.destroy(new Error(`no data from ${url.host} for ${this.opts.timeoutMs ?? 60_000} ms`)));
      r.on("error", reject);
      if (req.body === undefined) r.end();
      else if (Buffer.isBuffer(req.body)) r.end(req.body);
      else {
        req.body.on("error", (e) => r.destroy(e));
        req.body.pipe(r);
      }
    });
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
    this.insecureTls.destroy();
  }
}

function wrapResponse(res: IncomingMessage, url: URL): HttpResponse {
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    url,
    body: res,
    async buffer(limit = 1 << 20): Promise<Buffer> {
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of res) {
        n += (c as Buffer).length;
        if (n > limit) { res.destroy(); throw new FailedPrecondition(`${url.href}: response larger than ${limit} bytes`); }
        chunks.push(c as Buffer);
      }
      return Buffer.concat(chunks);
    },
    async text(limit = 1 << 20): Promise<string> {
      return (await this.buffer(limit)).toString("utf8");
    },
    async drain(): Promise<void> {
      res.resume();
      if (res.complete) return;
      await new Promise<void>((r) => { res.on("end", r); res.on("error", () => r()); res.on("close", r); });
    },
  };
}
