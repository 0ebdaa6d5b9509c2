/**
 * The CLI's HTTP/1.1 over berthd's unix socket: one request per connection, the response head
 * parsed here, the body (Content-Length, chunked, or until the server closes) as a Readable, and
 * the socket itself when the server switches protocols (101, attach and exec start). node:http
 * does all this and more, but costs every CLI run ~6 ms to load and ~12 ms of first-request
 * warm-up; the CLI pays that on each command (docs/ARCHITECTURE.md, "The CLI's start").
 */
import { connect, type Socket } from "node:net";
import { Readable } from "node:stream";

/** Response headers, names in lower case; a repeated header's values joined with ", ". */
export type Headers = Record<string, string>;

export interface Request {
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** A whole body (sent with Content-Length). */
  body?: Buffer;
  /** A streamed body (sent chunked). */
  stream?: NodeJS.ReadableStream;
}

/** A response body: a Readable that also carries the status and headers. */
export class Response extends Readable {
  constructor(readonly statusCode: number, readonly headers: Headers, private readonly sock: Socket) { super(); }
  override _read(): void { this.sock.resume(); }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void { this.sock.destroy(); cb(err); }
}

export type Reply = { res: Response } | { upgraded: Socket };

const HEAD_END = Buffer.from("\r\n\r\n");
const MAX_HEAD = 64 * 1024;

/** Sends one request to the server at `socketPath`; resolves once the response head is in. */
export function send(socketPath: string, req: Request): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let settled = false;
    const fail = (e: Error): void => { if (!settled) { settled = true; reject(e); } sock.destroy(); };
    const early = (): void => fail(new Error("berthd closed the connection before answering"));
    sock.on("error", fail);
    sock.on("end", early);
    sock.on("connect", () => writeRequest(sock, req, fail));
    let head: Buffer = Buffer.alloc(0);
    const onHead = (chunk: Buffer): void => {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf(HEAD_END);
      if (end < 0) {
        if (head.length > MAX_HEAD) fail(new Error("berthd sent a response head over 64 KiB"));
        return;
      }
      sock.off("data", onHead);
      sock.off("end", early);
      sock.off("error", fail);
      sock.pause();
      const parsed = parseHead(head.subarray(0, end).toString("latin1"));
      if (!parsed) { fail(new Error("berthd sent a malformed HTTP response")); return; }
      settled = true;
      const rest = head.subarray(end + 4);
      if (parsed.status === 101) {
        if (rest.length) sock.unshift(rest);
        resolve({ upgraded: sock });
        return;
      }
      const res = new Response(parsed.status, parsed.headers, sock);
      sock.on("error", (e) => res.destroy(e));
      readBody(sock, res, req.method === "HEAD" || parsed.status === 204 || parsed.status === 304 ? 0 : undefined, rest);
      resolve({ res });
    };
    sock.on("data", onHead);
  });
}

function writeRequest(sock: Socket, req: Request, fail: (e: Error) => void): void {
  const h: Record<string, string> = { Host: "berthd", Connection: "close", ...req.headers };
  if (req.stream) h["Transfer-Encoding"] = "chunked";
  else if (req.body || (req.method !== "GET" && req.method !== "HEAD")) h["Content-Length"] = String(req.body?.length ?? 0);
  let text = `${req.method} ${req.path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(h)) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) { fail(new Error(`header ${k} holds a line break`)); return; }
    text += `${k}: ${v}\r\n`;
  }
  text += "\r\n";
  if (!req.stream) { sock.write(req.body?.length ? Buffer.concat([Buffer.from(text, "latin1"), req.body]) : text); return; }
  sock.write(text);
  const src = req.stream;
  const onData = (c: Buffer | string): void => {
    const b = typeof c === "string" ? Buffer.from(c) : c;
    if (b.length === 0) return;
    sock.cork();
    sock.write(`${b.length.toString(16)}\r\n`);
    sock.write(b);
    const more = sock.write("\r\n");
    sock.uncork();
    if (!more) {
      src.pause();
      sock.once("drain", () => src.resume());
    }
  };
  src.on("data", onData);
  src.on("end", () => { if (!sock.destroyed) sock.write("0\r\n\r\n"); });
  src.on("error", (e: Error) => fail(e));
  // Once the connection is gone the rest of the body has nowhere to go (as pipe() does: unpiped, paused).
  sock.once("close", () => { src.removeListener("data", onData); src.pause(); });
}

function parseHead(text: string): { status: number; headers: Headers } | undefined {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (!m) return undefined;
  const headers: Headers = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i <= 0) return undefined;
    const k = line.slice(0, i).trim().toLowerCase(), v = line.slice(i + 1).trim();
    headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
  }
  return { status: Number(m[1]), headers };
}

/**
 * Moves the body from the socket into `res`, pausing the socket while `res` is full. `length` 0
 * forces an empty body; otherwise Content-Length, chunked coding, or everything until the end.
 */
function readBody(sock: Socket, res: Response, length: number | undefined, first: Buffer): void {
  const te = (res.headers["transfer-encoding"] ?? "").toLowerCase();
  const cl = res.headers["content-length"];
  let left = length ?? (te.includes("chunked") ? -1 : cl !== undefined ? Number(cl) : Infinity);
  if (Number.isNaN(left) || left < -1) { res.destroy(new Error("berthd sent a bad Content-Length")); return; }
  let done = false;
  const finish = (): void => { if (!done) { done = true; res.push(null); sock.destroy(); } };
  const push = (b: Buffer): void => { if (b.length && !res.push(b)) sock.pause(); };
  const chunked = left === -1 ? dechunk(push, finish, (e) => res.destroy(e)) : undefined;
  const onData = (b: Buffer): void => {
    if (done) return;
    if (chunked) { chunked(b); return; }
    if (left === Infinity) { push(b); return; }
    const take = b.subarray(0, left);
    left -= take.length;
    push(take);
    if (left === 0) finish();
  };
  sock.on("data", onData);
  sock.on("end", () => {
    if (done) return;
    if (left === Infinity) finish();
    else res.destroy(new Error("berthd closed the connection in the middle of a response"));
  });
  if (left === 0) { finish(); return; }
  if (first.length) onData(first);
}

/** A decoder of the chunked transfer coding: calls `data` with each chunk's bytes, `end` after the last. */
function dechunk(data: (b: Buffer) => void, end: () => void, error: (e: Error) => void): (b: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  let size = -1; // -1: a size line is next; -2: the trailer section
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (size >= 0) {
        if (buf.length < size + 2) {
          // Pass on what is here of the chunk's data; keep the count of what is still due.
          const n = Math.min(size, buf.length);
          if (n > 0) { data(buf.subarray(0, n)); buf = buf.subarray(n); size -= n; }
          return;
        }
        data(buf.subarray(0, size));
        buf = buf.subarray(size + 2);
        size = -1;
        continue;
      }
      const nl = buf.indexOf("\r\n");
      if (nl < 0) return;
      const line = buf.subarray(0, nl).toString("latin1");
      buf = buf.subarray(nl + 2);
      if (size === -2) { if (line === "") { end(); return; } continue; }
      const n = parseInt(line.split(";")[0]!.trim(), 16);
      if (!Number.isFinite(n) || n < 0) { error(new Error("berthd sent a bad chunk size")); return; }
      if (n === 0) size = -2;
      else size = n;
    }
  };
}
