/**
 * The small HTTP toolkit berthd's Docker API needs: a router with path parameters and the optional
 * /v1.NN prefix, JSON bodies and errors in docker's shape ({"message": …}), docker's filter query
 * parameter, and connection hijacking for attach and exec (the frames: src/stream-frames.ts).
 */
import { parseGoDuration } from "../go-duration.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { BerthError, Conflict, FailedPrecondition, InvalidArgument, NotFound, NotImplemented, PermissionDenied, Unauthenticated, Unavailable } from "../errdefs.js";

export const API_VERSION = "1.45";
export const MIN_API_VERSION = "1.24";

export interface Ctx {
  req: IncomingMessage;
  res?: ServerResponse;
  /** Set for hijacked (upgraded) requests. */
  socket?: Duplex;
  head?: Buffer;
  params: Record<string, string>;
  query: URLSearchParams;
  body: () => Promise<any>;
}

export type Handler = (c: Ctx) => Promise<unknown> | unknown;

/** A value a handler returns to answer with a status and no JSON body. */
export class Status {
  constructor(readonly code: number) {}
}

interface Route { method: string; re: RegExp; keys: string[]; handler: Handler }

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    // {name*} matches across slashes (image names like localhost:5000/a/b).
    const re = new RegExp(`^${path.replace(/\{(\w+)(\*?)\}/g, (_, k: string, star: string) => { keys.push(k); return star ? "(.+?)" : "([^/]+)"; })}$`);
    this.routes.push({ method, re, keys, handler });
    return this;
  }

  match(method: string, pathname: string): { handler: Handler; params: Record<string, string> } | undefined {
    const path = pathname.replace(/^\/v\d+\.\d+(?=\/)/, "");
    for (const r of this.routes) {
      if (r.method !== method && !(method === "HEAD" && r.method === "GET")) continue;
      const m = r.re.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1]!); });
      return { handler: r.handler, params };
    }
    return undefined;
  }
}

export function requestedVersion(pathname: string): string | undefined {
  return /^\/v(\d+\.\d+)\//.exec(pathname)?.[1];
}

/**
 * A hijacked request's body: exactly Content-Length bytes, from what followed the headers (head)
 * and, when that is short, from the socket; bytes beyond it are the client's stream (stdin) and
 * are put back on the socket.
 */
function hijackedBody(socket: Duplex, head: Buffer, len: number): Promise<Buffer> {
  if (head.length >= len) {
    if (head.length > len) socket.unshift(head.subarray(len));
    return Promise.resolve(head.subarray(0, len));
  }
  return new Promise((resolve, reject) => {
    let got = head;
    const onData = (d: Buffer): void => {
      got = Buffer.concat([got, d]);
      if (got.length < len) return;
      socket.off("data", onData);
      socket.off("error", reject);
      socket.pause();
      if (got.length > len) socket.unshift(got.subarray(len));
      resolve(got.subarray(0, len));
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.resume();
  });
}

export function readBody(req: IncomingMessage, head?: Buffer, socket?: Duplex): Promise<any> {
  return new Promise((resolve, reject) => {
    const len = Number(req.headers["content-length"] ?? 0);
    if (head !== undefined && socket) {
      hijackedBody(socket, head, len).then((buf) => {
        const text = buf.toString("utf8");
        if (!text.trim()) return resolve({});
        try { resolve(JSON.parse(text)); } catch { reject(new InvalidArgument("invalid JSON in the request body")); }
      }, reject);
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (!text.trim()) return resolve({});
      try { resolve(JSON.parse(text)); } catch (e) { reject(new InvalidArgument(`invalid JSON in the request body: ${(e as Error).message}`)); }
    });
    req.on("error", reject);
  });
}

/** docker's `filters` query parameter: {"k":{"v":true}} or the older {"k":["v"]}. */
export function parseFilters(q: URLSearchParams): Record<string, string[]> {
  const raw = q.get("filters");
  if (!raw) return {};
  let o: Record<string, unknown>;
  try { o = JSON.parse(raw) as Record<string, unknown>; } catch { throw new InvalidArgument(`invalid filter '${raw}'`); }
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(o)) {
    out[k] = Array.isArray(v) ? v.map(String) : Object.keys(v as Record<string, boolean>);
  }
  return out;
}

/** One `label` filter value against labels: "key" (present) or "key=value" (equal). docker ANDs several. */
export function labelMatches(filter: string, labels: Record<string, string> | null | undefined): boolean {
  const i = filter.indexOf("=");
  const k = i < 0 ? filter : filter.slice(0, i);
  return !!labels && k in labels && (i < 0 || labels[k] === filter.slice(i + 1));
}

/**
 * docker's prune filters: `until` (a timestamp, unix seconds or a Go duration ago: only what was
 * made before it) and `label` / `label!` (key or key=value: each must hold / none may). Other
 * filters than these and `also` are refused, so a typo never widens what a prune removes.
 * Undefined when none of them is given.
 */
export function pruneFilter(f: Record<string, string[]>, also: string[] = []): ((o: { created: number; labels?: Record<string, string> | null }) => boolean) | undefined {
  for (const k of Object.keys(f)) if (![...also, "until", "label", "label!"].includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
  if (!f.until?.length && !f.label?.length && !f["label!"]?.length) return undefined; // everything is wanted
  let until: number | undefined;
  if (f.until?.length) {
    const v = f.until[0]!, ms = parseGoDuration(v);
    until = ms !== undefined ? Date.now() / 1000 - ms / 1000 : /^\d+(\.\d+)?$/.test(v) ? Number(v) : Date.parse(v) / 1000;
    if (Number.isNaN(until)) throw new InvalidArgument(`invalid filter 'until=${v}'`);
  }
  return (o) => (until === undefined || o.created < until) && (f.label ?? []).every((l) => labelMatches(l, o.labels)) && !(f["label!"] ?? []).some((l) => labelMatches(l, o.labels));
}

export const flag = (q: URLSearchParams, k: string): boolean => ["1", "true", "True"].includes(q.get(k) ?? "");

/** One place that maps error classes to HTTP statuses. */
export function httpStatus(e: unknown): number {
  if (e instanceof NotFound) return 404;
  if (e instanceof Conflict || e instanceof FailedPrecondition) return 409;
  if (e instanceof InvalidArgument) return 400;
  if (e instanceof PermissionDenied) return 403;
  if (e instanceof Unauthenticated) return 401;
  if (e instanceof Unavailable) return 503;
  if (e instanceof NotImplemented) return 501;
  if (e instanceof BerthError) return 500;
  return 500;
}

export function upgradeHeaders(socket: Duplex, tty: boolean, upgraded: boolean): void {
  const ct = tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
  socket.write(upgraded
    ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${ct}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`
    : `HTTP/1.1 200 OK\r\nContent-Type: ${ct}\r\n\r\n`);
}

/**
 * Writes a chunk of a long response, waiting for the client to take it; rejects when the client
 * has gone, so a producer holding a lock (export, cp) stops instead of waiting for ever.
 */
export function writeOrAbort(res: ServerResponse, chunk: Buffer): Promise<void> {
  if (res.destroyed || res.writableEnded) return Promise.reject(new Error("client went away"));
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = (): void => { res.off("close", onClose); resolve(); };
    const onClose = (): void => { res.off("drain", onDrain); reject(new Error("client went away")); };
    res.once("drain", onDrain);
    res.once("close", onClose);
  });
}
