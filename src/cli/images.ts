/** Image commands: images, pull, push, tag, rmi, import, history; the pull/push progress display. */
import { createReadStream, createWriteStream, renameSync, rmSync } from "node:fs";
import type { Response } from "./http1.js";
import { b, bool, filterFlags, needArgs, parseArgs, s, str, l, list } from "./args.js";
import { jsonLines, type Client } from "./client.js";
import { CliError, ExitCode } from "./errors.js";
import { ago, goTime, humanSize, printRows, shortId } from "./format.js";

type Cmd = (c: Client, argv: string[]) => Promise<void>;

interface ProgressMsg { id?: string; status?: string; progressDetail?: { current?: number; total?: number }; error?: string; errorDetail?: { message: string } }

function bar(cur: number, total: number): string {
  const w = 50;
  const n = Math.min(w, Math.floor((cur / total) * w));
  return `[${"=".repeat(Math.max(0, n - 1))}${n > 0 ? ">" : ""}${" ".repeat(w - n)}] ${humanSize(cur)}/${humanSize(total)}`;
}

/**
 * Shows docker's JSON progress stream: on a terminal one line per layer, redrawn in place with a
 * bar; otherwise each status change as a plain line. Throws the stream's error.
 */
export async function showProgress(res: Response, out: NodeJS.WriteStream): Promise<void> {
  const tty = !!out.isTTY;
  const order: string[] = [];
  const lastStatus = new Map<string, string>();
  let error: string | undefined;
  const draw = (id: string, text: string): void => {
    if (!tty) {
      if (lastStatus.get(id) === text) return;
      lastStatus.set(id, text);
      out.write(`${text}\n`);
      return;
    }
    const idx = order.indexOf(id);
    if (idx < 0) { order.push(id); out.write(`${text}\n`); return; }
    const up = order.length - idx; // redraw that layer's line in place
    out.write(`\x1b[${up}A\r\x1b[2K${text}\x1b[${up}B\r`);
  };
  for await (const m of jsonLines<ProgressMsg>(res)) {
    if (m.error) { error = m.errorDetail?.message ?? m.error; continue; }
    const d = m.progressDetail;
    const withBar = tty && d?.total ? ` ${bar(d.current ?? 0, d.total)}` : "";
    if (m.id) draw(m.id, `${m.id}: ${m.status ?? ""}${withBar}`);
    else if (m.status !== undefined) out.write(`${m.status}\n`);
  }
  if (error) throw new CliError(error, 1);
}

/**
 * docker's X-Registry-Auth for a reference's registry, from the docker-compatible config.json
 * (DOCKER_CONFIG or ~/.docker) that `berth login` and `docker login` write.
 */
export async function registryAuthHeader(ref: string): Promise<Record<string, string>> {
  const { DockerConfigCredentials, parseReference } = await import("../image/index.js");
  let domain: string;
  try { domain = parseReference(ref).domain; } catch { return {}; }
  const creds = await new DockerConfigCredentials().get(domain).catch(() => undefined);
  if (!creds) return {};
  const json = JSON.stringify({ username: creds.username, password: creds.password, serveraddress: domain });
  return { "X-Registry-Auth": Buffer.from(json).toString("base64url") };
}

/** Where -q sends the progress it does not show (the stream is still read to its end for errors). */
const DISCARD = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

export async function pullWithProgress(c: Client, ref: string, out: NodeJS.WriteStream, platform?: string, allTags = false): Promise<void> {
  const [image, tag] = allTags ? [ref, undefined] : splitTag(ref);
  const res = await c.open("POST", "/images/create", { query: { fromImage: image, tag, platform }, headers: await registryAuthHeader(ref) });
  await showProgress(res, out);
}

/** "reg:5000/a/b:tag" → ["reg:5000/a/b", "tag"]; digests stay with the name. */
function splitTag(ref: string): [string, string | undefined] {
  if (ref.includes("@")) return [ref, undefined];
  const m = /^(.*):([\w][\w.-]{0,127})$/.exec(ref);
  if (m && !m[2]!.includes("/")) return [m[1]!, m[2]!];
  return [ref, "latest"];
}

const images: Cmd = async (c, argv) => {
  const p = parseArgs("images", argv, [b("all", "a"), b("quiet", "q"), b("no-trunc"), b("digests"), l("filter", "f"), s("format")]);
  // As docker's CLI: `images REPO[:TAG]` is a reference filter, applied by the daemon with the rest.
  const refs = p.args.length ? [...list(p, "filter"), `reference=${p.args[0]}`] : list(p, "filter");
  const filters = filterFlags({ ...p, flags: new Map(p.flags).set("filter", refs) });
  const list0 = await c.json<any[]>("GET", "/images/json", { query: { all: bool(p, "all") ? 1 : undefined, filters } });
  const rows: Record<string, unknown>[] = [];
  for (const im of list0) {
    const tags: string[] = im.RepoTags?.length ? im.RepoTags : ["<none>:<none>"];
    for (const t of tags) {
      const i = t.lastIndexOf(":");
      const repo = t.slice(0, i);
      // The digest this repository knows the image by (a pull or push), as docker's DIGEST column.
      const digest = (im.RepoDigests as string[] | undefined ?? []).find((d) => d.slice(0, d.lastIndexOf("@")) === repo);
      const r = { Repository: repo, Tag: t.slice(i + 1), ID: bool(p, "no-trunc") ? im.Id : shortId(im.Id), CreatedSince: ago(im.Created), CreatedAt: goTime(im.Created), Size: humanSize(im.Size ?? 0), Digest: digest ? digest.slice(digest.lastIndexOf("@") + 1) : "<none>" };
      rows.push(r);
    }
  }
  if (bool(p, "quiet")) { for (const id of new Set(rows.map((r) => r.ID))) process.stdout.write(`${id}\n`); return; }
  const digests = bool(p, "digests");
  printRows(rows, str(p, "format"), {
    header: ["REPOSITORY", "TAG", ...(digests ? ["DIGEST"] : []), "IMAGE ID", "CREATED", "SIZE"],
    cells: (r) => [r.Repository, r.Tag, ...(digests ? [r.Digest] : []), r.ID, r.CreatedSince, r.Size].map(String),
  });
};

const pull: Cmd = async (c, argv) => {
  const p = parseArgs("pull", argv, [b("all-tags", "a"), b("quiet", "q"), s("platform")]);
  needArgs("pull", p, 1, 1);
  const platform = str(p, "platform");
  const all = bool(p, "all-tags");
  if (all && (p.args[0]!.includes("@") || splitTag(p.args[0]!)[1] !== "latest" || /:latest$/.test(p.args[0]!))) throw new CliError("tag can't be used with --all-tags/-a");
  if (bool(p, "quiet")) {
    await pullWithProgress(c, p.args[0]!, DISCARD, platform, all);
    process.stdout.write(`${p.args[0]}\n`);
    return;
  }
  await pullWithProgress(c, p.args[0]!, process.stdout, platform, all);
};

const push: Cmd = async (c, argv) => {
  const p = parseArgs("push", argv, [b("all-tags", "a"), b("quiet", "q")]);
  needArgs("push", p, 1, 1);
  const [image, tag] = splitTag(p.args[0]!);
  const res = await c.open("POST", `/images/${image}/push`, { query: { tag }, headers: await registryAuthHeader(p.args[0]!) });
  // -q: no progress, then the reference pushed (docker's output).
  if (!bool(p, "quiet")) return showProgress(res, process.stdout);
  await showProgress(res, DISCARD);
  process.stdout.write(`${p.args[0]}\n`);
};

const tag: Cmd = async (c, argv) => {
  const p = parseArgs("tag", argv, []);
  needArgs("tag", p, 2, 2);
  const [repo, t] = splitTag(p.args[1]!);
  await c.json("POST", `/images/${p.args[0]}/tag`, { query: { repo, tag: t } });
};

const rmi: Cmd = async (c, argv) => {
  const p = parseArgs("rmi", argv, [b("force", "f"), b("no-prune")]);
  needArgs("rmi", p, 1);
  let failed = false;
  for (const n of p.args) {
    try {
      const r = await c.json<{ Untagged?: string; Deleted?: string }[]>("DELETE", `/images/${n}`, { query: { force: bool(p, "force") ? 1 : undefined } });
      for (const x of r ?? []) process.stdout.write(x.Untagged ? `Untagged: ${x.Untagged}\n` : `Deleted: ${x.Deleted}\n`);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      failed = true;
      process.stderr.write(`${e.message}\n`);
    }
  }
  if (failed) throw new ExitCode(1);
};

const importCmd: Cmd = async (c, argv) => {
  const p = parseArgs("import", argv, [l("change", "c"), s("message", "m"), s("platform")]);
  needArgs("import", p, 1, 2);
  const src = p.args[0]!;
  const url = /^https?:\/\//.test(src);
  const raw = url ? undefined : src === "-" ? process.stdin : createReadStream(src);
  await new Promise<void>((resolve, reject) => { if (!raw || src === "-") resolve(); else { (raw as ReturnType<typeof createReadStream>).once("open", () => resolve()); raw.once("error", (e: NodeJS.ErrnoException) => reject(new CliError(`open ${src}: ${e.code === "ENOENT" ? "no such file or directory" : e.message}`, 1))); } });
  const [repo, t] = p.args[1] ? splitTag(p.args[1]) : [undefined, undefined];
  const res = await c.open("POST", "/images/create", { query: { fromSrc: url ? src : "-", repo, tag: t, message: str(p, "message"), changes: list(p, "change"), platform: str(p, "platform") }, ...(raw ? { raw, headers: { "Content-Type": "application/x-tar" } } : {}) });
  for await (const m of jsonLines<ProgressMsg>(res)) {
    if (m.error) throw new CliError(m.errorDetail?.message ?? m.error, 1);
    if (m.status) process.stdout.write(`${m.status}\n`);
  }
};

const history: Cmd = async (c, argv) => {
  const p = parseArgs("history", argv, [b("quiet", "q"), b("no-trunc"), b("human", "H"), s("format")]);
  needArgs("history", p, 1, 1);
  const rows = await c.json<any[]>("GET", `/images/${p.args[0]}/history`);
  const idOf = (id: string): string => (id === "<missing>" || bool(p, "no-trunc") ? id : shortId(id));
  if (bool(p, "quiet")) { for (const h of rows) process.stdout.write(`${idOf(String(h.Id))}\n`); return; }
  const view = rows.map((h) => ({ ID: idOf(String(h.Id)), CreatedSince: ago(h.Created), CreatedBy: bool(p, "no-trunc") ? h.CreatedBy : String(h.CreatedBy ?? "").slice(0, 45), Size: humanSize(h.Size ?? 0), Comment: h.Comment ?? "" }));
  printRows(view, str(p, "format"), { header: ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], cells: (r) => [r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment].map(String) });
};

const save: Cmd = async (c, argv) => {
  const p = parseArgs("save", argv, [s("output", "o"), s("platform")]);
  needArgs("save", p, 1);
  const out = str(p, "output");
  if (!out && process.stdout.isTTY) throw new CliError("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1);
  const res = await c.open("GET", "/images/get", { query: { names: p.args, platform: str(p, "platform") } });
  const { pipeline } = await import("node:stream/promises");
  if (out) {
    // Written beside the target and renamed at the end: a failed save never leaves half a file.
    const tmp = `${out}.berth-tmp-${process.pid}`;
    try {
      await pipeline(res, createWriteStream(tmp));
      renameSync(tmp, out);
    } finally {
      rmSync(tmp, { force: true });
    }
  } else {
    for await (const x of res) if (!process.stdout.write(x as Buffer)) await new Promise<void>((r) => process.stdout.once("drain", () => r()));
  }
};

const load: Cmd = async (c, argv) => {
  const p = parseArgs("load", argv, [s("input", "i"), b("quiet", "q"), s("platform")]);
  const input = str(p, "input");
  // berth loads every image an archive holds; picking one platform's is not there yet.
  if (str(p, "platform")) throw new CliError("load --platform is not supported by berth: it loads every image of the archive", 1);
  if (!input && process.stdin.isTTY) throw new CliError("requested load from stdin, but stdin is empty", 1);
  const raw = input ? createReadStream(input) : process.stdin;
  if (input) await new Promise<void>((resolve, reject) => { raw.once("open", () => resolve()); raw.once("error", (e: NodeJS.ErrnoException) => reject(new CliError(`open ${input}: ${e.code === "ENOENT" ? "no such file or directory" : e.message}`, 1))); });
  const res = await c.open("POST", "/images/load", { raw, headers: { "Content-Type": "application/x-tar" }, query: { quiet: bool(p, "quiet") ? 1 : undefined } });
  for await (const m of jsonLines<{ stream?: string; error?: string }>(res)) {
    if (m.error) throw new CliError(m.error, 1);
    if (m.stream) process.stdout.write(m.stream);
  }
};

async function prompt(question: string, secret: boolean): Promise<string> {
  process.stderr.write(question);
  const stdin = process.stdin;
  if (secret && stdin.isTTY) stdin.setRawMode(true);
  try {
    return await new Promise<string>((resolve) => {
      let buf = "";
      const onData = (d: Buffer): void => {
        for (const ch of d.toString("utf8")) {
          if (ch === "\r" || ch === "\n") { stdin.off("data", onData); stdin.pause(); if (secret) process.stderr.write("\n"); resolve(buf); return; }
          if (ch === "\u0003") { process.stderr.write("\n"); process.exit(130); }
          if (ch === "\u007f") buf = buf.slice(0, -1);
          else buf += ch;
        }
      };
      stdin.on("data", onData);
      stdin.resume();
    });
  } finally {
    if (secret && stdin.isTTY) stdin.setRawMode(false);
  }
}

/** berth login: the daemon checks the credentials with the registry; they are kept client-side, in docker's config.json. */
const login: Cmd = async (c, argv) => {
  const p = parseArgs("login", argv, [s("username", "u"), s("password", "p"), b("password-stdin")]);
  needArgs("login", p, 0, 1);
  const server = p.args[0] ?? "docker.io";
  let username = str(p, "username");
  let password = str(p, "password");
  if (bool(p, "password-stdin")) {
    if (password) throw new CliError("--password and --password-stdin are mutually exclusive");
    if (!username) throw new CliError("Must provide --username with --password-stdin");
    let text = "";
    for await (const x of process.stdin) text += (x as Buffer).toString("utf8");
    password = text.replace(/\r?\n$/, "");
  }
  if (!username || !password) {
    if (!process.stdin.isTTY) throw new CliError("Error: Cannot perform an interactive login from a non TTY device", 1);
    if (!username) username = await prompt("Username: ", false);
    if (!password) password = await prompt("Password: ", true);
  }
  if (str(p, "password")) process.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  await c.json("POST", "/auth", { body: { username, password, serveraddress: server } });
  const { DockerConfigCredentials, parseReference } = await import("../image/index.js");
  const domain = parseReference(`${server.replace(/^https?:\/\//, "").replace(/\/.*$/, "")}/x`).domain;
  const store = new DockerConfigCredentials();
  await store.store(domain, { username, password });
  process.stdout.write(`Login Succeeded\n`);
};

const logout: Cmd = async (_c, argv) => {
  const p = parseArgs("logout", argv, []);
  needArgs("logout", p, 0, 1);
  const server = p.args[0] ?? "docker.io";
  const { DockerConfigCredentials, parseReference } = await import("../image/index.js");
  const domain = parseReference(`${server.replace(/^https?:\/\//, "").replace(/\/.*$/, "")}/x`).domain;
  if (await new DockerConfigCredentials().erase(domain)) process.stdout.write(`Removing login credentials for ${server}\n`);
  else process.stdout.write(`Not logged in to ${server}\n`);
};

export const imageCommands: Record<string, Cmd> = {
  login, logout, images, pull, push, tag, rmi, import: importCmd, history, save, load };
