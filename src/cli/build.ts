/**
 * `berth build [OPTIONS] PATH | -`: the context directory sent to berthd as a tar (what
 * .dockerignore excludes is left out, as docker's CLI does), a Dockerfile from -f (inside or
 * outside the context, or `-f -` from stdin), and docker's progress printed as it streams.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { createReadStream } from "node:fs";
import { relative, resolve } from "node:path";
import { Readable } from "node:stream";
import { b, bool, filterFlags, l, list, needArgs, parseArgs, s, str } from "./args.js";
import { jsonLines, type Client } from "./client.js";
import { CliError } from "./errors.js";
import { humanSize } from "./format.js";
import { confirm } from "./stdio.js";
import { DockerIgnore } from "../build/dockerignore.js";
import { writeTar, type TarWriteEntry } from "../snapshot/tar/writer.js";

type Cmd = (c: Client, argv: string[]) => Promise<void>;

/** A name for a Dockerfile sent inside the context; node:crypto would cost this command ~5 ms to load. */
const privateName = (): string => `.berth-dockerfile-${process.pid.toString(16)}${Math.random().toString(16).slice(2, 10)}`;

async function* contextEntries(root: string, rel: string, ignore: DockerIgnore, keep: Set<string>): AsyncGenerator<TarWriteEntry> {
  for (const name of (await readdir(rel ? `${root}/${rel}` : root)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (ignore.ignored(r) && !keep.has(r)) continue;
    const abs = `${root}/${r}`;
    let st;
    try { st = await lstat(abs); } catch { continue; }
    const h = { name: r, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: { sec: Math.floor(st.mtimeMs / 1000), nsec: 0 } };
    if (st.isDirectory()) {
      yield { header: { ...h, type: "dir" } };
      yield* contextEntries(root, r, ignore, keep);
    } else if (st.isSymbolicLink()) {
      yield { header: { ...h, type: "symlink", linkname: await readlink(abs) } };
    } else if (st.isFile()) {
      yield { header: { ...h, type: "file", size: st.size }, body: createReadStream(abs, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer> };
    }
  }
}

export const build: Cmd = async (c, argv) => {
  const p = parseArgs("build", argv, [
    l("tag", "t"), s("file", "f"), l("build-arg"), l("label"), b("no-cache"), b("quiet", "q"), s("target"), s("iidfile"),
    s("network"), b("pull"), b("rm"), b("force-rm"), s("platform"), s("progress"),
  ]);
  needArgs("build", p, 1, 1);
  const ctx = p.args[0]!;
  const kv = (flag: string, xs: string[]): Record<string, string> => Object.fromEntries(xs.map((x) => {
    const i = x.indexOf("=");
    if (i <= 0) {
      if (flag === "--build-arg" && process.env[x] !== undefined) return [x, process.env[x]!];
      if (flag === "--label") return [x, ""];
      throw new CliError(`invalid argument "${x}" for "${flag}" flag: expected key=value`);
    }
    return [x.slice(0, i), x.slice(i + 1)];
  }));
  const buildArgs = kv("--build-arg", list(p, "build-arg"));
  const labels = kv("--label", list(p, "label"));
  let body: Readable;
  let dockerfile = str(p, "file");
  if (ctx === "-") {
    if (dockerfile === "-") throw new CliError("invalid argument: can't use stdin for both build context and dockerfile");
    body = process.stdin;
  } else {
    const root = resolve(ctx);
    if (!existsSync(root) || !statSync(root).isDirectory()) throw new CliError(`unable to prepare context: path "${ctx}" not found`, 1);
    const ignore = await DockerIgnore.load(root);
    const extra: TarWriteEntry[] = [];
    const keep = new Set<string>([".dockerignore"]);
    if (dockerfile === "-") {
      const text = await new Promise<Buffer>((res) => { const parts: Buffer[] = []; process.stdin.on("data", (d: Buffer) => parts.push(d)); process.stdin.on("end", () => res(Buffer.concat(parts))); });
      dockerfile = privateName();
      extra.push({ header: { name: dockerfile, type: "file", mode: 0o644, size: text.length, mtime: { sec: Math.floor(Date.now() / 1000), nsec: 0 } }, body: [text] });
    } else {
      const df = resolve(dockerfile ?? `${root}/Dockerfile`);
      if (!existsSync(df)) throw new CliError(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${df}: no such file or directory`, 1);
      const rel = relative(root, df);
      if (rel.startsWith("..")) {
        // A Dockerfile outside the context travels in it under a private name, as docker's CLI does.
        const text = readFileSync(df);
        dockerfile = privateName();
        extra.push({ header: { name: dockerfile, type: "file", mode: 0o644, size: text.length, mtime: { sec: Math.floor(Date.now() / 1000), nsec: 0 } }, body: [text] });
      } else {
        dockerfile = rel;
        keep.add(rel);
      }
    }
    async function* all(): AsyncGenerator<TarWriteEntry> {
      yield* contextEntries(root, "", ignore, keep);
      yield* extra;
    }
    body = Readable.from(writeTar(all()));
  }
  const tags = list(p, "tag");
  const quiet = bool(p, "quiet");
  const res = await c.open("POST", "/build", {
    raw: body, headers: { "Content-Type": "application/x-tar" },
    query: {
      t: tags, dockerfile, buildargs: Object.keys(buildArgs).length ? JSON.stringify(buildArgs) : undefined,
      labels: Object.keys(labels).length ? JSON.stringify(labels) : undefined, nocache: bool(p, "no-cache") ? 1 : undefined, pull: bool(p, "pull") ? 1 : undefined,
      q: quiet ? 1 : undefined, target: str(p, "target"), networkmode: str(p, "network"), platform: str(p, "platform"),
    },
  });
  let id = "";
  for await (const m of jsonLines<{ stream?: string; error?: string; errorDetail?: { message?: string }; aux?: { ID?: string } }>(res)) {
    if (m.error) throw new CliError(m.errorDetail?.message ?? m.error, 1);
    if (m.aux?.ID) id = m.aux.ID;
    else if (m.stream && !quiet) process.stdout.write(m.stream);
  }
  if (quiet) process.stdout.write(`${id}\n`);
  const iid = str(p, "iidfile");
  if (iid) (await import("node:fs")).writeFileSync(iid, id);
};

/** `berth builder prune`: the build cache's intermediate images. */
export const builderPrune: Cmd = async (c, argv) => {
  const p = parseArgs("builder prune", argv, [b("force", "f"), b("all", "a"), l("filter")]);
  const q = bool(p, "all") ? "all build cache" : "all dangling build cache";
  if (!bool(p, "force") && !(await confirm(`WARNING! This will remove ${q}.\nAre you sure you want to continue?`))) return;
  const r = await c.json("POST", "/build/prune", { query: { all: bool(p, "all") ? 1 : undefined, filters: filterFlags(p) } });
  if (r.CachesDeleted?.length) process.stdout.write(`Deleted build cache objects:\n${r.CachesDeleted.join("\n")}\n\n`);
  process.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
};
