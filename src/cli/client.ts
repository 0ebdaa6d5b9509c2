/**
 * berthd's client: JSON requests over the unix socket, streams (logs, pull progress, events,
 * stats), and hijacked connections for attach and exec. When the default socket is absent and
 * we may start the daemon, it is started detached (log under its run dir) and awaited.
 */
import { existsSync, mkdirSync, openSync } from "node:fs";
import type { Socket } from "node:net";
import { send, type Headers, type Response } from "./http1.js";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiError, CliError } from "./errors.js";

export const DEFAULT_SOCKET = "/run/berth/berth.sock";
const API = "/v1.45";

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined | string[]>;
  body?: unknown;
  /** Raw request body (import, load). */
  raw?: NodeJS.ReadableStream;
  headers?: Record<string, string>;
}

function qs(q: RequestOptions["query"]): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(q ?? {})) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) u.append(k, x);
    else u.set(k, String(v));
  }
  const t = u.toString();
  return t ? `?${t}` : "";
}

async function readAll(res: Response): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of res) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export class Client {
  constructor(readonly socket: string, private readonly autoStart: boolean) {}

  private started = false;

  /** Starts berthd if its socket is absent and this is the default daemon; says so once. */
  async ensureDaemon(): Promise<void> {
    if (this.started || existsSync(this.socket) || !this.autoStart) return;
    this.started = true;
    if (process.getuid?.() !== 0) return; // the connect error below then says what is wrong
    const run = dirname(this.socket);
    mkdirSync(run, { recursive: true, mode: 0o711 });
    const logPath = join(run, "berthd.log");
    const log = openSync(logPath, "a");
    const main = fileURLToPath(new URL("../daemon/main.js", import.meta.url));
    const env = { ...process.env };
    if (env.BERTH_NODE_EXTRA_CA_CERTS) env.NODE_EXTRA_CA_CERTS = env.BERTH_NODE_EXTRA_CA_CERTS;
    const { spawn } = await import("node:child_process"); // only here: most commands never need it
    const child = spawn(process.execPath, [main, "-H", `unix://${this.socket}`], { detached: true, stdio: ["ignore", log, log], env });
    child.unref();
    for (let i = 0; i < 100; i++) {
      if (existsSync(this.socket)) {
        try { await this.json("GET", "/_ping"); process.stderr.write(`berth: started berthd (pid ${child.pid}, log ${logPath})\n`); return; } catch { /* not yet */ }
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new CliError(`berthd did not start; see ${logPath}`, 1);
  }

  /** A request whose answer is read whole; non-2xx become ApiError. */
  async call(method: string, path: string, o: RequestOptions = {}): Promise<{ status: number; body: Buffer; headers: Headers }> {
    const res = await this.open(method, path, o);
    const body = await readAll(res);
    return { status: res.statusCode, body, headers: res.headers };
  }

  async json<T = any>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const r = await this.call(method, path, o);
    if (r.body.length === 0) return undefined as T;
    const text = r.body.toString("utf8");
    try { return JSON.parse(text) as T; } catch { return text as T; }
  }

  /** A streaming request: the response once its status is 2xx. */
  async open(method: string, path: string, o: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...o.headers };
    let body: Buffer | undefined;
    if (o.body !== undefined) { body = Buffer.from(JSON.stringify(o.body)); headers["Content-Type"] = "application/json"; }
    const r = await this.send({ method, path: `${API}${path}${qs(o.query)}`, headers, body, stream: o.raw });
    if (!("res" in r)) { r.upgraded.destroy(); throw new ApiError(101, `berthd switched protocols on ${method} ${path}`); }
    // 304: nothing to do (start of a running container, stop of a stopped one): docker's success.
    if (r.res.statusCode >= 300 && r.res.statusCode !== 304) throw await apiError(r.res);
    return r.res;
  }

  /** A hijacked connection (attach, exec start): resolves with the raw socket, held paused. */
  async hijack(path: string, o: RequestOptions = {}): Promise<Socket> {
    const body = o.body !== undefined ? Buffer.from(JSON.stringify(o.body)) : undefined;
    const headers: Record<string, string> = { Connection: "Upgrade", Upgrade: "tcp", ...(body ? { "Content-Type": "application/json" } : {}) };
    const r = await this.send({ method: "POST", path: `${API}${path}${qs(o.query)}`, headers, body });
    if ("res" in r) throw await apiError(r.res);
    return r.upgraded;
  }

  private send(req: Parameters<typeof send>[1]): ReturnType<typeof send> {
    return send(this.socket, req).catch((e: NodeJS.ErrnoException) => { throw this.connectError(e); });
  }

  private connectError(e: NodeJS.ErrnoException): Error {
    if (e.code === "ENOENT" || e.code === "ECONNREFUSED") {
      return new CliError(`Cannot connect to berthd at unix://${this.socket}. Is berthd running? (start it with \`berth daemon\`, or run berth as root to start it)`, 1);
    }
    if (e.code === "EACCES") return new CliError(`permission denied while trying to connect to berthd at unix://${this.socket}`, 1);
    return e;
  }
}

/** The daemon's error answer as an ApiError: its JSON `message`, or the text as it came. */
async function apiError(res: Response): Promise<ApiError> {
  const text = (await readAll(res)).toString("utf8");
  let msg = text.trim();
  try { msg = (JSON.parse(text) as { message: string }).message; } catch { /* plain text */ }
  return new ApiError(res.statusCode, msg);
}

/** The JSON documents of a newline-delimited stream (pull/push progress, events, load, import). */
export async function* jsonLines<T = any>(res: AsyncIterable<unknown>): AsyncGenerator<T> {
  let buf = "";
  for await (const chunk of res) {
    buf += (chunk as Buffer).toString("utf8");
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  if (buf.trim()) yield JSON.parse(buf) as T;
}
