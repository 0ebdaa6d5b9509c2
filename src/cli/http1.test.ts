import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { send, type Response } from "./http1.js";

/** A unix-socket server that answers each connection with `answer(request head, socket)`. */
async function rawServer(answer: (head: string, s: Socket) => void): Promise<{ path: string; close: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), "berth-http1-"));
  const path = join(dir, "s.sock");
  const srv: Server = createServer((s) => {
    let buf = "";
    const onData = (d: Buffer): void => {
      buf += d.toString("latin1");
      const i = buf.indexOf("\r\n\r\n");
      if (i >= 0) { s.off("data", onData); answer(buf, s); }
    };
    s.on("data", onData);
  });
  await new Promise<void>((r) => srv.listen(path, r));
  return { path, close: () => { srv.close(); rmSync(dir, { recursive: true, force: true }); } };
}

async function body(res: Response): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of res) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

test("http1: Content-Length, chunked (split at every byte) and until-close bodies", async () => {
  const chunked = "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-T: 1\r\n\r\n";
  const srv = await rawServer((head, s) => {
    if (head.startsWith("GET /cl ")) s.end("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nabcdeIGNORED");
    else if (head.startsWith("GET /chunked ")) {
      s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      let i = 0;
      const next = (): void => { if (i < chunked.length) { s.write(chunked[i++]!); setImmediate(next); } else s.end(); };
      next();
    } else s.end("HTTP/1.0 200 OK\r\n\r\nuntil the end");
  });
  try {
    const a = await send(srv.path, { method: "GET", path: "/cl" });
    assert.ok("res" in a);
    assert.equal(a.res.statusCode, 200);
    assert.equal(a.res.headers["x-a"], "1, 2");
    assert.equal(await body(a.res), "abcde");
    const b = await send(srv.path, { method: "GET", path: "/chunked" });
    assert.ok("res" in b);
    assert.equal(await body(b.res), "hello world");
    const c = await send(srv.path, { method: "GET", path: "/close" });
    assert.ok("res" in c);
    assert.equal(await body(c.res), "until the end");
  } finally { srv.close(); }
});

test("http1: 101 hands over the socket with the bytes that came with the head", async () => {
  const srv = await rawServer((head, s) => {
    assert.match(head, /\r\nUpgrade: tcp\r\n/);
    s.write("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nfirst");
    s.on("data", (d) => s.end(`echo:${d}`));
  });
  try {
    const r = await send(srv.path, { method: "POST", path: "/attach", headers: { Connection: "Upgrade", Upgrade: "tcp" } });
    assert.ok("upgraded" in r);
    const got: Buffer[] = [];
    r.upgraded.on("data", (d: Buffer) => got.push(d));
    r.upgraded.resume();
    r.upgraded.write("ping");
    await new Promise((res) => r.upgraded.on("end", res));
    assert.equal(Buffer.concat(got).toString(), "firstecho:ping");
    r.upgraded.destroy();
  } finally { srv.close(); }
});

test("http1: a streamed body goes chunked, a whole one with Content-Length, through node's own server", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-http1-"));
  const path = join(dir, "h.sock");
  const seen: { method: string; te?: string; cl?: string; body: string }[] = [];
  const srv = createHttpServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    seen.push({ method: req.method!, te: req.headers["transfer-encoding"], cl: req.headers["content-length"], body: Buffer.concat(parts).toString() });
    res.writeHead(req.url === "/missing" ? 404 : 200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ n: seen.length }));
  });
  await new Promise<void>((r) => srv.listen(path, r));
  try {
    const big = "x".repeat(200_000);
    const a = await send(path, { method: "POST", path: "/s", stream: Readable.from([Buffer.from("ab"), Buffer.from(big)]) });
    assert.ok("res" in a);
    assert.equal(await body(a.res), '{"n":1}');
    const b = await send(path, { method: "POST", path: "/w", body: Buffer.from('{"k":1}') });
    assert.ok("res" in b);
    await body(b.res);
    const c = await send(path, { method: "POST", path: "/missing" });
    assert.ok("res" in c);
    assert.equal(c.res.statusCode, 404);
    await body(c.res);
    assert.deepEqual(seen.map((x) => [x.method, x.te, x.cl, x.body.length]), [["POST", "chunked", undefined, 200_002], ["POST", undefined, "7", 7], ["POST", undefined, "0", 0]]);
    assert.equal(seen[0]!.body.slice(0, 3), "abx");
  } finally {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("http1: no server, a garbled answer, and a body cut short are errors", async () => {
  await assert.rejects(send("/nonexistent/berth.sock", { method: "GET", path: "/" }), (e: NodeJS.ErrnoException) => e.code === "ENOENT");
  const srv = await rawServer((head, s) => {
    if (head.startsWith("GET /garbled ")) s.end("SPDY/9 200\r\n\r\n");
    else if (head.startsWith("GET /silent ")) s.end();
    else s.end("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  });
  try {
    await assert.rejects(send(srv.path, { method: "GET", path: "/garbled" }), /malformed/);
    await assert.rejects(send(srv.path, { method: "GET", path: "/silent" }), /closed the connection before answering/);
    const r = await send(srv.path, { method: "GET", path: "/short" });
    assert.ok("res" in r);
    await assert.rejects(body(r.res), /in the middle of a response/);
  } finally { srv.close(); }
});
