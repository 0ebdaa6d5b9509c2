/**
 * berth-shim's monitor-mode stdio (docs/shim-protocol.md, "Monitor-mode stdio"), run for real:
 * hand-written plans execute the host's /bin/sh in new pid and mount namespaces (no rootfs
 * needed), and the tests read the json-file log, speak to the attach and control sockets, and
 * check what the container saw. Needs root (namespaces) and a built shim (`make -C native`).
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, type StdioOptions } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { shimPath } from "./shim.js";
import { encodeField } from "./plan-encoding.js";

const MS_REC = 0x4000, MS_PRIVATE = 0x40000;

if (process.getuid?.() !== 0) throw new Error("shim-io tests need root: they create pid and mount namespaces");

/** The caller's own capability sets, so the plan's capset asks for nothing we lack. */
function ownCaps(): string[] {
  const status = readFileSync("/proc/self/status", "utf8");
  return ["CapBnd", "CapEff", "CapPrm", "CapInh"].map((k) => {
    const m = new RegExp(`^${k}:\\s*([0-9a-f]+)$`, "m").exec(status);
    if (!m) throw new Error(`/proc/self/status has no ${k}`);
    return m[1]!;
  });
}

/**
 * A monitor-mode plan running `sh -c script`; childSteps go between setsid and chdir, earlySteps
 * before the wait-parent point (the child runs them without waiting for the runtime's go).
 */
function plan(parent: string[][], script: string, childSteps: string[][] = [], earlySteps: string[][] = []): string {
  const [bnd, eff, prm, inh] = ownCaps();
  const lines = [["mode", "monitor"], ...parent, ["clone", "pid,mnt"], ["child"], ...earlySteps, ["wait-parent"], ["setsid"], ...childSteps,
    ["chdir", "/"], ["umask", "18"], ["env", "PATH=/usr/bin:/bin"], ["arg", "sh"], ["arg", "-c"], ["arg", script],
    ["identity", "0", "0", "-", bnd!, eff!, prm!, inh!, "0"], ["exec", "sh"]];
  return lines.map((l) => l.map(encodeField).join(" ")).join("\n") + "\n";
}

interface ShimRun {
  /** Resolves with the container's pid; the shim waits for `go` until `go()` is called. */
  pid: Promise<number>;
  go: () => void;
  /** The `exit` record's status and the log file as it was when the record arrived. */
  exit: Promise<{ status: number; logAtExit: string }>;
  code: Promise<number | null>;
  reports: string[];
  shimPid: number;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-shim-io-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function runShim(t: TestContext, planText: string, logPath?: string): ShimRun {
  const stdio: StdioOptions = ["ignore", "ignore", "ignore", "pipe", "pipe", "pipe"];
  const shim = spawn(shimPath(), ["3"], { stdio });
  const fds: readonly unknown[] = shim.stdio; // a 5-tuple in @types/node; fds 3-5 exist at runtime
  const [planW, report, ack] = [fds[3] as Writable, fds[4] as Readable, fds[5] as Writable];
  let containerPid = 0;
  t.after(() => {
    for (const p of [containerPid, shim.pid ?? 0]) if (p > 0) try { process.kill(p, "SIGKILL"); } catch { /* gone */ }
  });
  planW.end(planText);
  const reports: string[] = [];
  let onPid!: (pid: number) => void, onExit!: (v: { status: number; logAtExit: string }) => void, fail!: (e: Error) => void;
  const pid = new Promise<number>((res) => { onPid = res; });
  const exit = new Promise<{ status: number; logAtExit: string }>((res, rej) => { onExit = res; fail = rej; });
  exit.catch(() => {});
  const code = new Promise<number | null>((res) => shim.on("close", (c) => {
    fail(new Error(`shim ended without an exit record: ${reports.join(" | ")}`));
    res(c);
  }));
  let buf = "";
  report.setEncoding("utf8");
  report.on("data", (d: string) => {
    buf += d;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      reports.push(line);
      const [kind, arg] = line.split(" ");
      if (kind === "pid") onPid((containerPid = Number(arg)));
      if (kind === "exit") onExit({ status: Number(arg), logAtExit: logPath && existsSync(logPath) ? readFileSync(logPath, "utf8") : "" });
      if (kind === "error") fail(new Error(`shim step failed: ${line}`));
    }
  });
  return { pid, go: () => ack.end("go\n"), exit, code, reports, shimPid: shim.pid ?? 0 };
}

interface LogEntry { log: string; stream: string; time: string }
function parseLog(text: string): LogEntry[] {
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as LogEntry);
}

/** Connects and collects everything the socket sends until it closes. */
function connect(path: string): Promise<{ sock: Socket; data: () => Buffer; ended: Promise<void> }> {
  return new Promise((res, rej) => {
    const sock = createConnection(path);
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((r) => sock.on("close", () => r()));
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.once("error", rej);
    sock.once("connect", () => res({ sock, data: () => Buffer.concat(chunks), ended }));
  });
}

/** Splits docker's multiplexed stream, checking every header on the way. */
function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out = { stdout: "", stderr: "" };
  let off = 0;
  while (off < buf.length) {
    assert.ok(off + 8 <= buf.length, `truncated frame header at ${off}`);
    const type = buf[off]!;
    assert.ok(type === 1 || type === 2, `stream type ${type} at ${off}`);
    assert.deepEqual([...buf.subarray(off + 1, off + 4)], [0, 0, 0], "header bytes 1-3 are zero");
    const len = buf.readUInt32BE(off + 4);
    assert.ok(off + 8 + len <= buf.length, `frame at ${off} claims ${len} bytes`);
    out[type === 1 ? "stdout" : "stderr"] += buf.subarray(off + 8, off + 8 + len).toString("utf8");
    off += 8 + len;
  }
  return out;
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function control(path: string, cmd: string): Promise<string> {
  const c = await connect(path);
  c.sock.write(`${cmd}\n`);
  await until(`an answer to ${cmd}`, () => c.data().includes("\n"));
  c.sock.destroy();
  return c.data().toString("utf8").trim();
}

const RFC3339_NANO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

test("stdout and stderr land in the json log with their stream and time; exit is reported after the last line", { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const log = join(dir, "c.log");
  const script = `i=0; while [ $i -lt 300 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; ` +
    `printf 'q"\\\\\\t\\001\\303\\251\\377 end'; exit 3`;
  const t0 = Date.now();
  const run = runShim(t, plan([["exitfile", join(dir, "exit")], ["log", log, "0", "0"]], script), log);
  await run.pid;
  run.go();
  const { status, logAtExit } = await run.exit;
  assert.equal(status, 3 << 8, "waitpid status of exit 3");
  assert.equal(await run.code, 3);
  assert.equal(readFileSync(join(dir, "exit"), "utf8"), `${3 << 8}\n`);
  const entries = parseLog(logAtExit);
  const out = entries.filter((e) => e.stream === "stdout").map((e) => e.log);
  const err = entries.filter((e) => e.stream === "stderr").map((e) => e.log);
  assert.equal(entries.length, 601, "every line was in the log when exit was reported");
  assert.deepEqual(err, Array.from({ length: 300 }, (_, i) => `err ${i}\n`));
  assert.deepEqual(out.slice(0, 300), Array.from({ length: 300 }, (_, i) => `out ${i}\n`));
  // The unfinished last line is flushed at EOF; invalid UTF-8 (\377) becomes U+FFFD, as docker's.
  assert.equal(out[300], 'q"\\\t\u0001é\ufffd end');
  for (const e of entries) {
    assert.match(e.time, RFC3339_NANO_UTC);
    const ms = Date.parse(e.time);
    assert.ok(ms >= t0 - 1000 && ms <= Date.now() + 1000, `time ${e.time} is now`);
  }
});

test("a line without newline is cut at 16 KiB", { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const log = join(dir, "c.log");
  const run = runShim(t, plan([["log", log, "0", "0"]], "head -c 40000 /dev/zero | tr '\\0' a; echo"), log);
  await run.pid;
  run.go();
  const entries = parseLog((await run.exit).logAtExit);
  assert.deepEqual(entries.map((e) => e.log.length), [16384, 16384, 40000 - 2 * 16384 + 1]);
  assert.ok(entries[2]!.log.endsWith("a\n"));
});

const numbered = (n: number): string => `i=0; while [ $i -lt ${n} ]; do printf 'line %05d\\n' $i; i=$((i+1)); done`;

test("rotation keeps max-files files, none larger than max-size, and loses no line between them", { timeout: 60_000 }, async (t) => {
  for (const maxFiles of [3, 50]) {
    const dir = tempDir(t);
    const log = join(dir, "c.log");
    const run = runShim(t, plan([["log", log, "2000", String(maxFiles)]], numbered(400)), log);
    await run.pid;
    run.go();
    await run.exit;
    const files = readdirSync(dir).filter((f) => f.startsWith("c.log"));
    const gens = files.map((f) => (f === "c.log" ? 0 : Number(f.slice("c.log.".length)))).sort((a, b) => a - b);
    assert.deepEqual(gens, Array.from({ length: gens.length }, (_, i) => i), `generations ${files.join(",")}`);
    const text = gens.reverse().map((g) => readFileSync(g ? `${log}.${g}` : log, "utf8"));
    for (const g of gens) assert.ok(statSync(g ? `${log}.${g}` : log).size <= 2000, `c.log.${g} within max-size`);
    const nums = parseLog(text.join("")).map((e) => Number(/^line (\d+)\n$/.exec(e.log)![1]));
    assert.equal(nums.at(-1), 399, "the newest line is in c.log");
    assert.deepEqual(nums, Array.from({ length: nums.length }, (_, i) => 400 - nums.length + i), "contiguous: nothing lost");
    if (maxFiles === 3) assert.equal(gens.length, 3, "c.log, c.log.1, c.log.2 are kept");
    else assert.equal(nums.length, 400, "with room for all, every line is kept");
  }
});

test("an attach client gets docker's multiplexed frames; the socket is 0600 and removed at exit", { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const sockPath = join(dir, "attach.sock");
  const run = runShim(t, plan([["attach-socket", sockPath]], "echo hello; echo oops >&2; printf partial"));
  await run.pid;
  assert.equal(statSync(sockPath).mode & 0o777, 0o600);
  const client = await connect(sockPath); // before go: it sees all output
  run.go();
  await run.exit;
  await client.ended;
  assert.deepEqual(demux(client.data()), { stdout: "hello\npartial", stderr: "oops\n" });
  assert.equal(await run.code, 0);
  assert.equal(existsSync(sockPath), false, "attach socket removed");
});

test("attach input reaches stdin; close-stdin ends it; resize without a terminal is refused", { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const [a, c] = [join(dir, "a.sock"), join(dir, "c.sock")];
  const run = runShim(t, plan([["stdin"], ["attach-socket", a], ["control-socket", c]], "cat; echo cat-done"));
  await run.pid;
  const client = await connect(a);
  run.go();
  client.sock.write("ping\n");
  await until("cat echoing ping", () => demux(client.data()).stdout === "ping\n");
  assert.equal(await control(c, "resize 30 100"), "error no terminal");
  assert.match(await control(c, "bogus"), /^error unknown command/);
  assert.equal(await control(c, "close-stdin"), "ok");
  assert.equal((await run.exit).status, 0);
  await client.ended;
  assert.deepEqual(demux(client.data()), { stdout: "ping\ncat-done\n", stderr: "" });
  assert.equal(existsSync(c), false, "control socket removed");
});

test("with stdin-once, the attach client's half-close is the container's EOF", { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const a = join(dir, "a.sock");
  const run = runShim(t, plan([["stdin"], ["stdin-once"], ["attach-socket", a]], "cat; echo cat-done"));
  await run.pid;
  const client = await connect(a);
  run.go();
  client.sock.end("abc\n"); // half-close: we still read the output
  assert.equal((await run.exit).status, 0);
  await client.ended;
  assert.deepEqual(demux(client.data()), { stdout: "abc\ncat-done\n", stderr: "" });
});

const devptsMounts = (): string[] => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(" - devpts "));

test("terminal-relay: the process has a /dev/pts tty, resize changes stty size, output is logged as stdout", { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const [a, c, log] = [join(dir, "a.sock"), join(dir, "c.sock"), join(dir, "c.log")];
  const hostPts = devptsMounts();
  // A fresh devpts in the container's own mount namespace (made rslave first, so nothing reaches
  // the host), its ptmx bound over /dev/ptmx: the terminal step opens the container's pty.
  const childSteps = [["propagate-host", "/", String(0x4000 | 0x80000)], ["root", "/"],
    ["mount", "devpts", "/dev/pts", "devpts", String(2 | 8), "newinstance,ptmxmode=0666,mode=0620", "none"],
    ["mount", "/dev/pts/ptmx", "/dev/ptmx", "-", String(4096), "-", "none"], ["terminal", "24", "80"]];
  const script = "tty; stty size; read x; stty size; echo bye";
  const run = runShim(t, plan([["terminal-relay"], ["stdin"], ["attach-socket", a], ["control-socket", c], ["log", log, "0", "0"]],
    script, childSteps), log);
  await run.pid;
  const client = await connect(a);
  run.go();
  const text = (): string => client.data().toString("utf8");
  await until("the first stty size", () => text().includes("24 80"));
  assert.match(text(), /^\/dev\/pts\/\d+\r\n/, "tty names the container's pty");
  assert.equal(await control(c, "resize 30 100"), "ok");
  client.sock.write("x\n");
  await until("the second stty size", () => text().includes("30 100"));
  const { status, logAtExit } = await run.exit;
  assert.equal(status, 0);
  await client.ended;
  assert.ok(text().endsWith("bye\r\n"), `raw pty bytes, no frames: ${JSON.stringify(text())}`);
  const entries = parseLog(logAtExit);
  assert.ok(entries.every((e) => e.stream === "stdout"));
  assert.equal(entries.map((e) => e.log).join(""), text(), "the log holds what the client saw");
  assert.deepEqual(devptsMounts(), hostPts, "the host's devpts mounts are untouched");
});

test("a client that never reads does not block the container or the log", { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const [a, log] = [join(dir, "a.sock"), join(dir, "c.log")];
  const line = "0123456789".repeat(10);
  const run = runShim(t, plan([["attach-socket", a], ["log", log, "0", "0"]], `yes ${line} | head -c 10000000; echo done`), log);
  await run.pid;
  const stalled = await connect(a);
  stalled.sock.pause(); // never reads: its socket buffer fills
  run.go();
  const started = Date.now();
  const { status, logAtExit } = await run.exit;
  assert.equal(status, 0);
  assert.ok(Date.now() - started < 60_000, "10 MB went through while the client stalled");
  const text = parseLog(logAtExit).map((e) => e.log).join("");
  assert.equal(text.length, 10_000_000 + "done\n".length, "no output lost");
  assert.ok(text.endsWith("done\n"));
  stalled.sock.resume();
  await stalled.ended; // the shim dropped it
  assert.ok(stalled.data().length < 10_000_000, `the stalled client was dropped (got ${stalled.data().length} bytes)`);
});

test("signals sent to the shim still reach the container while it relays", { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const [a, log] = [join(dir, "a.sock"), join(dir, "c.log")];
  // pid 1 of a pid namespace gets only signals it handles: the trap makes SIGTERM one of them.
  const script = "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done";
  const run = runShim(t, plan([["attach-socket", a], ["log", log, "0", "0"]], script), log);
  await run.pid;
  const client = await connect(a);
  run.go();
  await until("ready", () => demux(client.data()).stdout === "ready\n");
  process.kill(run.shimPid, "SIGTERM");
  const { status, logAtExit } = await run.exit;
  assert.equal(status, 7 << 8);
  assert.equal(await run.code, 7);
  assert.deepEqual(parseLog(logAtExit).map((e) => e.log), ["ready\n", "got-term\n"]);
});

test("stdio directives outside monitor mode are refused before clone", { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const run = runShim(t, plan([["log", join(dir, "c.log"), "0", "0"]], "true").replace("mode monitor", "mode exec"));
  await assert.rejects(run.exit, /error stdio 22 /);
  assert.equal(await run.code, 1);
  assert.equal(run.reports.some((r) => r.startsWith("pid ")), false, "nothing was cloned");
});

test("the child runs the steps before wait-parent while the runtime holds the go, and the rest after it", { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  for (const d of ["early", "late"]) mkdirSync(join(dir, d));
  const tmpfs = (d: string): string[] => ["mount", "tmpfs", join(dir, d), "tmpfs", "0", "-", "dir"];
  // Private first: the child's mounts must not propagate to the host's namespace.
  const early = [["propagate-host", "/", String(MS_PRIVATE | MS_REC)], ["root", "/"], tmpfs("early")];
  const run = runShim(t, plan([], "sleep 30", [tmpfs("late")], early));
  const pid = await run.pid;
  const mounted = (d: string): boolean => readFileSync(`/proc/${pid}/mountinfo`, "utf8").includes(` ${join(dir, d)} `);
  await until("the early mount", () => mounted("early"));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(mounted("late"), false, "no step after wait-parent ran before the go");
  run.go();
  await until("the late mount", () => mounted("late"));
  assert.equal(readFileSync("/proc/self/mountinfo", "utf8").includes(join(dir, "early")), false, "the host saw none of it");
});

test("a plan whose child section has no wait-parent point is refused before clone", { timeout: 60_000 }, async (t) => {
  const run = runShim(t, plan([], "true").replace("wait-parent\n", ""));
  await assert.rejects(run.exit, /error plan 22 .*wait-parent/);
  assert.equal(await run.code, 1);
  assert.equal(run.reports.some((r) => r.startsWith("pid ")), false, "nothing was cloned");
});
