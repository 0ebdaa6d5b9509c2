/** Container commands: run, create, start, stop, restart, kill, rm, ps, logs, exec, attach, inspect, top, stats, pause, unpause, wait, rename. */
import type { ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, realpathSync, statSync, writeFileSync } from "node:fs";
import type { Response } from "./http1.js";
import { basename, dirname, posix, resolve } from "node:path";
import { b, bool, filterFlags, l, list, needArgs, parseArgs, s, str, unixTime, type Parsed } from "./args.js";
import type { Client } from "./client.js";
import { ApiError, CliError, each, ExitCode } from "./errors.js";
import { portsLine } from "../network/ports.js";
import { ago, bytesSize, goTime, humanSize, printRows, shortId, table, template } from "./format.js";
import { createBody, resourceFields, RESOURCE_FLAG_NAMES, restartFlag, RUN_FLAGS } from "./run-config.js";
import { relay } from "./stdio.js";
import { demux } from "../stream-frames.js";
import { pullWithProgress } from "./images.js";

type Cmd = (c: Client, argv: string[]) => Promise<void>;

const posixDirname = (p: string): string => posix.dirname(p.replace(/\/+$/, "") || "/");
const posixBasename = (p: string): string => posix.basename(p.replace(/\/+$/, ""));

/** Creates the container of run/create, pulling its image first when it is missing (docker's --pull missing). */
async function createContainer(c: Client, p: Parsed, cmd: "run" | "create"): Promise<{ id: string; body: Record<string, any> }> {
  const code = cmd === "run" ? 125 : 1; // docker's exit codes for a refused run / create
  const { name, image, body } = createBody(p);
  // --cidfile: refused up front if the file is there (another container may own it), written once created.
  const cidfile = str(p, "cidfile");
  if (cidfile && existsSync(cidfile)) throw new CliError(`Container ID file found, make sure the other container isn't running or delete ${cidfile}`, code);
  const platform = str(p, "platform");
  const pull = str(p, "pull") ?? "missing";
  if (!["always", "missing", "never"].includes(pull)) throw new CliError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`, code);
  if (pull === "always") await pullWithProgress(c, image, process.stderr, platform).catch((err) => { throw withCode(err, code); });
  const doCreate = (): Promise<{ Id: string; Warnings?: string[] }> => c.json("POST", "/containers/create", { query: { name, platform }, body });
  let r: { Id: string; Warnings?: string[] };
  try {
    r = await doCreate();
  } catch (e) {
    const missing = e instanceof ApiError && e.status === 404 && /No such image|does not match the specified platform/i.test(e.message);
    if (!missing || pull === "never") throw withCode(e, code);
    process.stderr.write(`Unable to find image '${image}' locally\n`);
    await pullWithProgress(c, image, process.stderr, platform).catch((err) => { throw withCode(err, code); });
    r = await doCreate().catch((err) => { throw withCode(err, code); });
  }
  for (const w of r.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
  if (cidfile) {
    try { writeFileSync(cidfile, r.Id, { flag: "wx" }); } catch (e) { throw new CliError(`failed to write the container ID to the file: ${(e as Error).message}`, code); }
  }
  return { id: r.Id, body };
}

/** docker run's codes for a start that failed: 127 command not found, 126 not executable, else 125. */
function startError(e: unknown): unknown {
  if (!(e instanceof CliError)) return e;
  const code = /executable file not found|no such file or directory/.test(e.message) ? 127 : /permission denied/.test(e.message) ? 126 : 125;
  return new CliError(e.message, code);
}

function withCode(e: unknown, code: number): unknown {
  if (e instanceof CliError) return new CliError(e.message, code);
  return e;
}

const run: Cmd = async (c, argv) => {
  const p = parseArgs("run", argv, RUN_FLAGS, { stopAtPositional: true });
  const { id, body } = await createContainer(c, p, "run");
  const detach = bool(p, "detach");
  if (detach) {
    await c.json("POST", `/containers/${id}/start`).catch((e) => { throw startError(e); });
    process.stdout.write(`${id}\n`);
    return;
  }
  const tty = !!body.Tty, stdin = !!body.OpenStdin;
  const unproxy = !tty && sigProxy(p) ? proxySignals(c, id) : () => {};
  // Attach first, then wait, then start: not a byte of output is lost (docker's order).
  const sock = await c.hijack(`/containers/${id}/attach`, { query: { stream: 1, stdout: 1, stderr: 1, stdin: stdin ? 1 : undefined, detachKeys: str(p, "detach-keys") } });
  const waitRes = await c.open("POST", `/containers/${id}/wait`, { query: { condition: body.HostConfig.AutoRemove ? "removed" : "next-exit" } });
  const waited = readJson(waitRes);
  try {
    await c.json("POST", `/containers/${id}/start`);
  } catch (e) {
    sock.destroy();
    throw startError(e);
  }
  await relay(sock, { tty, stdin, resize: (h, w) => c.call("POST", `/containers/${id}/resize`, { query: { h, w } }) }).finally(unproxy);
  // The attachment ended: detached by the keys (the container still runs), or the container ended.
  const st = await Promise.race([waited, new Promise<undefined>((r) => setTimeout(() => r(undefined), tty ? 300 : 30000))]);
  if (!st) { waitRes.destroy(); return; }
  throw new ExitCode(Number((st as { StatusCode?: number }).StatusCode ?? 0));
};

/** docker's --sig-proxy, true unless given false. */
const sigProxy = (p: Parsed): boolean => !p.flags.has("sig-proxy") || bool(p, "sig-proxy");

/**
 * While attached without a TTY (where ^C is input to the container), the signals berth gets are
 * sent on to the container instead of ending berth, as docker's CLI does; returns the undo.
 */
function proxySignals(c: Client, id: string): () => void {
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
  const forward = (sig: NodeJS.Signals): void => { void c.call("POST", `/containers/${id}/kill`, { query: { signal: sig } }).catch(() => {}); };
  for (const sig of signals) process.on(sig, forward);
  return () => { for (const sig of signals) process.off(sig, forward); };
}

async function readJson(res: Response): Promise<unknown> {
  const parts: Buffer[] = [];
  for await (const x of res) parts.push(x as Buffer);
  const t = Buffer.concat(parts).toString("utf8").trim();
  return t ? JSON.parse(t) : undefined;
}

const create: Cmd = async (c, argv) => {
  const p = parseArgs("create", argv, RUN_FLAGS, { stopAtPositional: true });
  const { id } = await createContainer(c, p, "create");
  process.stdout.write(`${id}\n`);
};

const start: Cmd = async (c, argv) => {
  const p = parseArgs("start", argv, [b("attach", "a"), b("interactive", "i"), s("detach-keys")]);
  needArgs("start", p, 1);
  if (bool(p, "attach") || bool(p, "interactive")) {
    if (p.args.length > 1) throw new CliError("you cannot start and attach multiple containers at once");
    const info = await c.json("GET", `/containers/${p.args[0]}/json`);
    const stdin = bool(p, "interactive") && !!info.Config.OpenStdin;
    const sock = await c.hijack(`/containers/${info.Id}/attach`, { query: { stream: 1, stdout: 1, stderr: 1, stdin: stdin ? 1 : undefined, detachKeys: str(p, "detach-keys") } });
    const waitRes = await c.open("POST", `/containers/${info.Id}/wait`, { query: { condition: "next-exit" } });
    await c.json("POST", `/containers/${info.Id}/start`);
    await relay(sock, { tty: !!info.Config.Tty, stdin, resize: (h, w) => c.call("POST", `/containers/${info.Id}/resize`, { query: { h, w } }) });
    const st = await Promise.race([readJson(waitRes), new Promise<undefined>((r) => setTimeout(() => r(undefined), 300))]);
    if (st) throw new ExitCode(Number((st as { StatusCode?: number }).StatusCode ?? 0));
    waitRes.destroy();
    return;
  }
  await each(p.args, (n) => c.json("POST", `/containers/${n}/start`));
};

const stopLike = (verb: "stop" | "restart"): Cmd => async (c, argv) => {
  const p = parseArgs(verb, argv, [s("time", "t", ["timeout"]), s("signal", "s")]);
  needArgs(verb, p, 1);
  await each(p.args, (n) => c.json("POST", `/containers/${n}/${verb}`, { query: { t: str(p, "time"), signal: str(p, "signal") } }));
};

const kill: Cmd = async (c, argv) => {
  const p = parseArgs("kill", argv, [s("signal", "s")]);
  needArgs("kill", p, 1);
  await each(p.args, (n) => c.json("POST", `/containers/${n}/kill`, { query: { signal: str(p, "signal") } }));
};

const simple = (verb: string, path: string): Cmd => async (c, argv) => {
  const p = parseArgs(verb, argv, []);
  needArgs(verb, p, 1);
  await each(p.args, (n) => c.json("POST", `/containers/${n}/${path}`));
};

const rm: Cmd = async (c, argv) => {
  const p = parseArgs("rm", argv, [b("force", "f"), b("volumes", "v"), b("link", "l")]);
  needArgs("rm", p, 1);
  await each(p.args, (n) => c.json("DELETE", `/containers/${n}`, { query: { force: bool(p, "force") ? 1 : undefined, v: bool(p, "volumes") ? 1 : undefined, link: bool(p, "link") ? 1 : undefined } }));
};

const ps: Cmd = async (c, argv) => {
  const p = parseArgs("ps", argv, [b("all", "a"), b("quiet", "q"), b("no-trunc"), l("filter", "f"), s("format"), s("last", "n"), b("latest", "l"), b("size", "s")]);
  const limit = bool(p, "latest") ? 1 : str(p, "last") !== undefined ? Number(str(p, "last")) : undefined;
  const size = bool(p, "size");
  const rows = await c.json<any[]>("GET", "/containers/json", { query: { all: bool(p, "all") || limit !== undefined ? 1 : undefined, limit, filters: filterFlags(p), size: size ? 1 : undefined } });
  const trunc = !bool(p, "no-trunc");
  if (bool(p, "quiet")) { for (const r of rows) process.stdout.write(`${trunc ? shortId(r.Id) : r.Id}\n`); return; }
  const view = rows.map((r) => {
    // docker quotes it as Go's strconv.Quote does, after cutting it to 20 characters.
    const command = JSON.stringify(trunc && r.Command.length > 20 ? `${r.Command.slice(0, 19)}…` : r.Command);
    return {
      ID: trunc ? shortId(r.Id) : r.Id, Image: r.Image, Command: command, CreatedAt: goTime(r.Created),
      RunningFor: ago(r.Created), Ports: portsLine(r.Ports ?? []), Status: r.Status, State: r.State, Names: (r.Names ?? []).map((x: string) => x.replace(/^\//, "")).join(","),
      Labels: Object.entries(r.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(","), Mounts: (r.Mounts ?? []).map((m: any) => m.Name ?? m.Source).join(","), Networks: Object.keys(r.NetworkSettings?.Networks ?? {}).join(","),
      // docker's SIZE: the writable layer, and with the image under it ("virtual").
      Size: r.SizeRootFs > 0 ? `${humanSize(r.SizeRw ?? 0)} (virtual ${humanSize(r.SizeRootFs)})` : humanSize(r.SizeRw ?? 0),
    };
  });
  printRows(view, str(p, "format"), {
    header: ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", ...(size ? ["SIZE"] : [])],
    cells: (r) => [r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names, ...(size ? [r.Size] : [])].map(String),
  });
};

const logs: Cmd = async (c, argv) => {
  const p = parseArgs("logs", argv, [b("follow", "f"), s("tail", "n"), b("timestamps", "t"), s("since"), s("until"), b("details")]);
  needArgs("logs", p, 1, 1);
  const info = await c.json("GET", `/containers/${p.args[0]}/json`);
  const res = await c.open("GET", `/containers/${info.Id}/logs`, { query: { stdout: 1, stderr: 1, follow: bool(p, "follow") ? 1 : undefined, tail: str(p, "tail"), timestamps: bool(p, "timestamps") ? 1 : undefined, details: bool(p, "details") ? 1 : undefined, since: unixTime("since", str(p, "since")), until: unixTime("until", str(p, "until")) } });
  const split = demux((stream, data) => (stream === 2 ? process.stderr : process.stdout).write(data));
  for await (const chunk of res) info.Config.Tty ? process.stdout.write(chunk as Buffer) : split(chunk as Buffer);
};

const exec: Cmd = async (c, argv) => {
  const p = parseArgs("exec", argv, [b("detach", "d"), b("interactive", "i"), b("tty", "t"), l("env", "e"), l("env-file"), s("user", "u"), s("workdir", "w"), b("privileged"), s("detach-keys")], { stopAtPositional: true });
  needArgs("exec", p, 2);
  const [name, ...cmd] = p.args;
  const tty = bool(p, "tty"), stdin = bool(p, "interactive"), detach = bool(p, "detach");
  if (tty && stdin && !process.stdin.isTTY) throw new CliError("the input device is not a TTY", 1);
  const { envList } = await import("./run-config.js");
  const e = await c.json<{ Id: string }>("POST", `/containers/${name}/exec`, {
    body: { Cmd: cmd, Env: envList(p), User: str(p, "user") ?? "", WorkingDir: str(p, "workdir") ?? "", Tty: tty, Privileged: bool(p, "privileged"),
      AttachStdin: stdin && !detach, AttachStdout: !detach, AttachStderr: !detach, DetachKeys: str(p, "detach-keys") ?? "",
      ConsoleSize: tty && process.stdout.isTTY ? [process.stdout.rows, process.stdout.columns] : undefined },
  });
  if (detach) { await c.json("POST", `/exec/${e.Id}/start`, { body: { Detach: true, Tty: tty } }); return; }
  const sock = await c.hijack(`/exec/${e.Id}/start`, { body: { Detach: false, Tty: tty } });
  await relay(sock, { tty, stdin, resize: (h, w) => c.call("POST", `/exec/${e.Id}/resize`, { query: { h, w } }) });
  for (let i = 0; i < 50; i++) {
    const st = await c.json("GET", `/exec/${e.Id}/json`);
    if (!st.Running) { if (st.ExitCode) throw new ExitCode(st.ExitCode); return; }
    await new Promise((r) => setTimeout(r, 20));
  }
};

const attach: Cmd = async (c, argv) => {
  const p = parseArgs("attach", argv, [b("no-stdin"), b("sig-proxy"), s("detach-keys")]);
  needArgs("attach", p, 1, 1);
  const info = await c.json("GET", `/containers/${p.args[0]}/json`);
  if (!info.State.Running) throw new CliError("You cannot attach to a stopped container, start it first", 1);
  const stdin = !bool(p, "no-stdin") && !!info.Config.OpenStdin;
  if (info.Config.Tty && stdin && !process.stdin.isTTY) throw new CliError("the input device is not a TTY", 1);
  const waitRes = await c.open("POST", `/containers/${info.Id}/wait`, { query: { condition: "next-exit" } });
  const sock = await c.hijack(`/containers/${info.Id}/attach`, { query: { stream: 1, stdout: 1, stderr: 1, stdin: stdin ? 1 : undefined, detachKeys: str(p, "detach-keys") } });
  const unproxy = !info.Config.Tty && sigProxy(p) ? proxySignals(c, info.Id) : () => {};
  await relay(sock, { tty: !!info.Config.Tty, stdin, resize: (h, w) => c.call("POST", `/containers/${info.Id}/resize`, { query: { h, w } }) }).finally(unproxy);
  const st = await Promise.race([readJson(waitRes), new Promise<undefined>((r) => setTimeout(() => r(undefined), 300))]);
  waitRes.destroy();
  if (st) throw new ExitCode(Number((st as { StatusCode?: number }).StatusCode ?? 0));
};

const inspect: Cmd = async (c, argv) => {
  const p = parseArgs("inspect", argv, [s("format", "f"), s("type"), b("size", "s")]);
  needArgs("inspect", p, 1);
  const out: unknown[] = [];
  const fmt = str(p, "format");
  await each(p.args, async (n) => {
    const type = str(p, "type");
    let obj: unknown;
    if (type !== "image") obj = await c.json("GET", `/containers/${n}/json`, { query: { size: bool(p, "size") ? 1 : undefined } }).catch((e) => {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
      if (type === "container") throw new CliError(`Error: No such container: ${n}`, 1);
      return undefined;
    });
    if (obj === undefined && type !== "container") obj = await c.json("GET", `/images/${n}/json`).catch((e) => { if (e instanceof ApiError && e.status === 404) throw new CliError(`Error: No such ${type === "image" ? "image" : "object"}: ${n}`, 1); throw e; });
    if (fmt) process.stdout.write(`${template(fmt).render(obj)}\n`);
    else out.push(obj);
  }, false).finally(() => { if (!fmt) process.stdout.write(`${JSON.stringify(out, null, 4)}\n`); });
};

const top: Cmd = async (c, argv) => {
  const p = parseArgs("top", argv, [], { stopAtPositional: true });
  needArgs("top", p, 1);
  const r = await c.json("GET", `/containers/${p.args[0]}/top`, { query: { ps_args: p.args.slice(1).join(" ") || undefined } });
  process.stdout.write(table([r.Titles, ...r.Processes]));
};

const stats: Cmd = async (c, argv) => {
  const p = parseArgs("stats", argv, [b("all", "a"), b("no-stream"), b("no-trunc"), s("format")]);
  const names = p.args.length ? p.args : (await c.json<any[]>("GET", "/containers/json", { query: { all: bool(p, "all") ? 1 : undefined } })).map((x) => x.Id);
  const once = bool(p, "no-stream") || !process.stdout.isTTY;
  const idOf = (id: string): string => (bool(p, "no-trunc") ? id : shortId(id));
  const row = (id: string, st: any): Record<string, string> => {
    const cpuDelta = (st.cpu_stats?.cpu_usage?.total_usage ?? 0) - (st.precpu_stats?.cpu_usage?.total_usage ?? 0);
    const sysDelta = (st.cpu_stats?.system_cpu_usage ?? 0) - (st.precpu_stats?.system_cpu_usage ?? 0);
    const cpus = st.cpu_stats?.online_cpus ?? 1;
    const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
    const mem = st.memory_stats ?? {};
    const used = (mem.usage ?? 0) - (mem.stats?.total_inactive_file ?? mem.stats?.inactive_file ?? 0);
    const limit = mem.limit ?? 0;
    const blk = (st.blkio_stats?.io_service_bytes_recursive ?? []) as { op: string; value: number }[];
    const sum = (op: string): number => blk.filter((x) => x.op.toLowerCase() === op).reduce((a, x) => a + x.value, 0);
    const nets = Object.values((st.networks ?? {}) as Record<string, { rx_bytes: number; tx_bytes: number }>);
    const net = (k: "rx_bytes" | "tx_bytes"): number => nets.reduce((a, x) => a + (x[k] ?? 0), 0);
    return {
      ID: idOf(st.id ?? id), Container: idOf(st.id ?? id), Name: (st.name ?? "").replace(/^\//, ""), CPUPerc: `${cpu.toFixed(2)}%`,
      MemUsage: `${bytesSize(Math.max(used, 0))} / ${bytesSize(limit)}`, MemPerc: `${limit ? ((used / limit) * 100).toFixed(2) : "0.00"}%`,
      // docker prints I/O in decimal units (kB) and memory in binary ones (MiB).
      NetIO: `${humanSize(net("rx_bytes"))} / ${humanSize(net("tx_bytes"))}`, BlockIO: `${humanSize(sum("read"))} / ${humanSize(sum("write"))}`, PIDs: String(st.pids_stats?.current ?? 0),
    };
  };
  const sample = async (): Promise<Record<string, string>[]> => Promise.all(names.map(async (n) => row(n, await c.json("GET", `/containers/${n}/stats`, { query: { stream: 0 } }))));
  const print = (rows: Record<string, string>[]): void => printRows(rows, str(p, "format"), {
    header: ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"],
    cells: (r) => [r.ID, r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs].map(String),
  });
  if (once) { print(await sample()); return; }
  for (;;) {
    const rows = await sample();
    process.stdout.write("\x1b[2J\x1b[H");
    print(rows);
  }
};

const wait: Cmd = async (c, argv) => {
  const p = parseArgs("wait", argv, []);
  needArgs("wait", p, 1);
  await each(p.args, async (n) => {
    const r = await c.json("POST", `/containers/${n}/wait`);
    process.stdout.write(`${r.StatusCode}\n`);
  }, false);
};

const rename: Cmd = async (c, argv) => {
  const p = parseArgs("rename", argv, []);
  needArgs("rename", p, 2, 2);
  await c.json("POST", `/containers/${p.args[0]}/rename`, { query: { name: p.args[1] } });
};

/** CONTAINER:PATH, or undefined for a local path (docker's rule: a colon before any slash). */
function containerRef(arg: string): { name: string; path: string } | undefined {
  const i = arg.indexOf(":");
  if (i <= 0 || arg.slice(0, i).includes("/")) return undefined;
  return { name: arg.slice(0, i), path: arg.slice(i + 1) || "/" };
}

async function tarProcess(args: string[], stdio: ("pipe" | "inherit")[]): Promise<ChildProcess> {
  const { spawn } = await import("node:child_process"); // loaded by cp only, not by every container command
  return spawn("tar", args, { stdio: stdio as ("pipe" | "inherit")[] });
}

async function finished(p: ChildProcess, what: string): Promise<void> {
  const code = await new Promise<number>((r) => p.on("close", (c) => r(c ?? 1)));
  if (code !== 0) throw new CliError(`${what}: tar exited with ${code}`, 1);
}

/** docker cp: a tar stream each way, unpacked or packed locally with tar(1). */
const cp: Cmd = async (c, argv) => {
  const p = parseArgs("cp", argv, [b("archive", "a"), b("follow-link", "L"), b("quiet", "q")]);
  needArgs("cp", p, 2, 2);
  const [src, dst] = p.args as [string, string];
  const from = containerRef(src), to = containerRef(dst);
  if (from && to) throw new CliError("copying between containers is not supported");
  if (!from && !to) throw new CliError("must specify at least one container source");
  const follow = bool(p, "follow-link");
  const archive = bool(p, "archive") ? 1 : undefined;
  if (from) {
    // -L: a symlink source is copied as what it points to, under the link's own name (docker's way).
    let srcPath = from.path, linkName: string | undefined;
    if (follow) {
      const st = await pathStat(c, from.name, from.path);
      if (st?.linkTarget) {
        linkName = posixBasename(from.path);
        srcPath = st.linkTarget.startsWith("/") ? st.linkTarget : posix.join(posixDirname(from.path), st.linkTarget);
      }
    }
    const res = await c.open("GET", `/containers/${from.name}/archive`, { query: { path: srcPath } });
    if (dst === "-") { for await (const x of res) process.stdout.write(x as Buffer); return; }
    const top = basename(srcPath.replace(/\/+$/, "")) || "/";
    let target = dst, rename = linkName;
    if (!existsSync(dst) || !statSync(dst).isDirectory()) { target = dirname(resolve(dst)); rename = basename(dst); }
    if (!existsSync(target)) throw new CliError(`no such directory: ${target}`, 1);
    // Owners as the container has them (GNU tar keeps them for root, as docker's CLI does).
    const args = ["-x", "-C", target];
    if (rename && rename !== top) args.push(`--transform=s,^${top.replace(/[,\\.*[\]^$]/g, "\\$&")},${rename.replace(/[,&\\]/g, "\\$&")},`);
    const t = await tarProcess(args, ["pipe", "inherit", "inherit"]);
    res.pipe(t.stdin!);
    await finished(t, "cp");
    return;
  }
  const dest = to!;
  if (src === "-") {
    // A tar stream on stdin, extracted into the container's directory (docker cp - CONTAINER:DIR).
    await c.json("PUT", `/containers/${dest.name}/archive`, { query: { path: dest.path, copyUIDGID: archive }, raw: process.stdin, headers: { "Content-Type": "application/x-tar" } });
    return;
  }
  if (!existsSync(src)) throw new CliError(`lstat ${resolve(src)}: no such file or directory`, 1);
  // A destination that is a symlink is followed (in the container's terms), as docker's CLI does.
  let destPath = dest.path;
  let st = await pathStat(c, dest.name, destPath);
  for (let hops = 0; st?.linkTarget && hops < 8; hops++) {
    destPath = st.linkTarget.startsWith("/") ? st.linkTarget : posix.join(posixDirname(destPath), st.linkTarget);
    st = await pathStat(c, dest.name, destPath);
  }
  let dir = destPath, name = basename(resolve(src));
  if (st && st.mode < 2 ** 31) { dir = posixDirname(destPath); name = posixBasename(destPath); }
  if (!st) {
    if (destPath.endsWith("/")) throw new CliError(`Error response from daemon: Could not find the file ${destPath} in container ${dest.name}`, 1);
    dir = posixDirname(destPath);
    name = posixBasename(destPath);
  }
  // -L: a symlink source goes in as what it points to, under the name it would have had.
  const srcAbs = follow ? realpathSync(resolve(src)) : resolve(src);
  const srcBase = basename(srcAbs);
  const args = ["-c", "-C", dirname(srcAbs)];
  if (name !== srcBase) args.push(`--transform=s,^${srcBase.replace(/[,\\.*[\]^$]/g, "\\$&")},${name.replace(/[,&\\]/g, "\\$&")},`);
  args.push(srcBase);
  const t = await tarProcess(args, ["inherit", "pipe", "inherit"]);
  const put = c.json("PUT", `/containers/${dest.name}/archive`, { query: { path: dir, copyUIDGID: archive }, raw: t.stdout!, headers: { "Content-Type": "application/x-tar" } });
  await Promise.all([put, finished(t, "cp")]);
};

/** docker's container path stat (HEAD …/archive), or undefined when the path does not exist. */
async function pathStat(c: Client, container: string, path: string): Promise<{ mode: number; linkTarget: string } | undefined> {
  let head;
  try {
    head = await c.call("HEAD", `/containers/${container}/archive`, { query: { path } });
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
  if (head.status === 404) return undefined;
  const st = JSON.parse(Buffer.from(String(head.headers["x-docker-container-path-stat"] ?? ""), "base64").toString() || "{}") as { mode?: number; linkTarget?: string };
  return { mode: st.mode ?? 0, linkTarget: st.linkTarget ?? "" };
}

const diff: Cmd = async (c, argv) => {
  const p = parseArgs("diff", argv, []);
  needArgs("diff", p, 1, 1);
  const list0 = await c.json<{ Path: string; Kind: number }[]>("GET", `/containers/${p.args[0]}/changes`);
  for (const ch of list0 ?? []) process.stdout.write(`${"CAD"[ch.Kind]} ${ch.Path}\n`);
};

const commit: Cmd = async (c, argv) => {
  const p = parseArgs("commit", argv, [s("author", "a"), l("change", "c"), s("message", "m"), b("pause", "p")]);
  needArgs("commit", p, 1, 2);
  const [repo, tag] = p.args[1] ? splitRef(p.args[1]) : [undefined, undefined];
  const r = await c.json<{ Id: string }>("POST", "/commit", { query: { container: p.args[0], repo, tag, comment: str(p, "message"), author: str(p, "author"), changes: list(p, "change"), pause: p.flags.has("pause") ? (bool(p, "pause") ? 1 : 0) : undefined } });
  process.stdout.write(`${r.Id}\n`);
};

const exportCmd: Cmd = async (c, argv) => {
  const p = parseArgs("export", argv, [s("output", "o")]);
  needArgs("export", p, 1, 1);
  const out = str(p, "output");
  if (!out && process.stdout.isTTY) throw new CliError("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1);
  const res = await c.open("GET", `/containers/${p.args[0]}/export`);
  const { pipeline } = await import("node:stream/promises");
  if (out) await pipeline(res, createWriteStream(out));
  else for await (const x of res) if (!process.stdout.write(x as Buffer)) await new Promise<void>((r) => process.stdout.once("drain", () => r()));
};

/** "repo:tag" → [repo, tag] (a registry port is not a tag). */
function splitRef(ref: string): [string, string | undefined] {
  const m = /^(.*):([\w][\w.-]{0,127})$/.exec(ref);
  return m && !m[2]!.includes("/") ? [m[1]!, m[2]!] : [ref, undefined];
}

const update: Cmd = async (c, argv) => {
  const flags = RUN_FLAGS.filter((f) => RESOURCE_FLAG_NAMES.includes(f.name) || f.name === "restart");
  const p = parseArgs("update", argv, flags);
  needArgs("update", p, 1);
  const body = { ...resourceFields(p), RestartPolicy: restartFlag(p) };
  await each(p.args, async (n) => {
    const r = await c.json<{ Warnings?: string[] }>("POST", `/containers/${n}/update`, { body });
    for (const w of r?.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
  });
};

export const containerCommands: Record<string, Cmd> = {
  update, cp, diff, commit, export: exportCmd,
  run, create, start, stop: stopLike("stop"), restart: stopLike("restart"), kill, rm,
  ps, logs, exec, attach, inspect, top, stats, pause: simple("pause", "pause"), unpause: simple("unpause", "unpause"), wait, rename,
};
