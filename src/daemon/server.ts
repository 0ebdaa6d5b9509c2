/**
 * berthd's HTTP server on a unix socket: routes every request (and every hijacked attach/exec
 * upgrade) through one Router, and answers errors as docker does: {"message": …} with the status
 * of the error's class.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { chmodSync, rmSync } from "node:fs";
import { InvalidArgument, NotFound } from "../errdefs.js";
import { API_VERSION, httpStatus, readBody, requestedVersion, Router, Status, type Ctx } from "./http.js";
import { Status201 } from "./routes-system.js";

const HEADERS = { "Api-Version": API_VERSION, "Docker-Experimental": "false", "Ostype": "linux", "Server": "berth/0.1.0 (linux)" };

function versionCheck(pathname: string): void {
  const v = requestedVersion(pathname);
  if (v && Number(v.split(".")[1]) > Number(API_VERSION.split(".")[1]) && v.split(".")[0] === "1") {
    throw new InvalidArgument(`client version ${v} is too new. Maximum supported API version is ${API_VERSION}`);
  }
}

export function startServer(router: Router, socketPath: string, log: (level: "debug" | "error", msg: string) => void): Promise<Server> {
  const handle = async (req: IncomingMessage, res: ServerResponse | undefined, socket?: Duplex, head?: Buffer): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://berth");
    log("debug", `${req.method} ${url.pathname}${url.search}`);
    const send = (status: number, body?: unknown): void => {
      if (res) {
        if (res.headersSent) { res.end(); return; }
        if (body === undefined) { res.writeHead(status, HEADERS).end(); return; }
        const text = typeof body === "string" ? body : JSON.stringify(body);
        res.writeHead(status, { ...HEADERS, "Content-Type": typeof body === "string" ? "text/plain; charset=utf-8" : "application/json" }).end(req.method === "HEAD" ? undefined : text);
      } else if (socket) {
        const text = JSON.stringify(body ?? {});
        socket.end(`HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
      }
    };
    try {
      versionCheck(url.pathname);
      const m = router.match(req.method ?? "GET", url.pathname);
      if (!m) throw new NotFound("page not found");
      const ctx: Ctx = { req, res, socket, head, params: m.params, query: url.searchParams, body: () => readBody(req, head, socket) };
      const out = await m.handler(ctx);
      if (out instanceof Status) { if (out.code) send(out.code); }
      else if (out instanceof Status201) send(201, out.body);
      else send(200, out ?? {});
    } catch (e) {
      const status = httpStatus(e);
      if (status >= 500) log("error", `${req.method} ${url.pathname}: ${(e as Error).stack ?? e}`);
      if (res && !req.complete) await drain(req);
      send(status, { message: (e as Error).message });
    }
  };
  const server = createServer({ keepAlive: true }, (req, res) => { void handle(req, res); });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => { void handle(req, undefined, socket, head); });
  // docker's CLI hijacks attach/exec without an Upgrade header on old API versions: Node then gives
  // us a normal request, and the handler writes raw headers on the socket itself.
  rmSync(socketPath, { force: true });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      chmodSync(socketPath, 0o660);
      resolve(server);
    });
  });
}

/**
 * An error answered while the client still sends its body (a bad build context, say) would reach
 * a client that is still writing, which then sees a broken pipe instead of the answer. Read what
 * is left first — up to 1 MiB or 2 s, as Go's server does in spirit — then answer.
 */
function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    let left = 1 << 20;
    const done = (): void => { clearTimeout(t); req.off("data", onData); resolve(); };
    const onData = (d: Buffer): void => { left -= d.length; if (left <= 0) done(); };
    const t = setTimeout(done, 2000);
    req.on("data", onData).once("end", done).once("close", done).once("error", done);
    req.resume();
  });
}
