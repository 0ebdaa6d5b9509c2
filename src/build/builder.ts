/**
 * Dockerfile builds on the engine, as docker's classic builder does them: each RUN runs in a
 * container on the image built so far and is committed as a layer; COPY/ADD extract files from the
 * context (or another stage, or an image) into a created container's filesystem and commit it;
 * the other instructions change the config, recorded as history entries without a layer. Every
 * step that made an image is remembered in a content-keyed cache (parent image, the instruction
 * with its arguments expanded, and for COPY/ADD a checksum of what is copied), so a rebuild of an
 * unchanged context reuses every step.
 */
import { parseGoDuration } from "../go-duration.js";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { lchown, lstat, mkdir, readdir, readlink, stat } from "node:fs/promises";
import { join, posix } from "node:path";
import { Readable } from "node:stream";
import type { ContainerRunner } from "../engine/container-runner.js";
import type { EngineImages } from "../engine/images.js";
import { BerthError, InvalidArgument, NotFound } from "../errdefs.js";
import { inspectPlatform, parsePlatform, platformMatches } from "../image/index.js";
import { writeFileAtomic } from "../fsutil.js";
import { secureJoin } from "../secure-join.js";
import { applyLayer, writeTar, type FileDigest, type TarWriteEntry } from "../snapshot/index.js";
import { keyValues, parseDockerfile, processWord, processWords, type Instruction } from "./dockerfile.js";
import { DockerIgnore } from "./dockerignore.js";
import { gunzip } from "../gunzip.js";

export interface BuildOptions {
  /** The extracted build context. */
  contextDir: string;
  /** Its files' digests, recorded while it was extracted (applyLayer's fileDigests). */
  contextDigests?: Map<string, FileDigest>;
  /** Path of the Dockerfile inside the context (default "Dockerfile"). */
  dockerfile?: string;
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target?: string;
  noCache?: boolean;
  /** Pull every base image, even one that is here (a base that is not here is always pulled). */
  pull?: boolean;
  networkMode?: string;
  quiet?: boolean;
  /** The platform of base images (`build --platform`); a stage's `FROM --platform=` overrides it. */
  platform?: string;
}

/** A failed step: the message names the step and line, as docker's does. */
export class BuildError extends BerthError {
  override readonly code = "ERR_BUILD";
}

interface Stage {
  name: string;
  image: string;
  config: Record<string, any>;
  author?: string;
  shell: string[];
  /** ARGs declared in this stage, with their values. */
  args: Record<string, string>;
  cmdSet: boolean;
  noCache: boolean;
}

const DEFAULT_SHELL = ["/bin/sh", "-c"];
/** ARGs every build knows without declaring them (docker's predefined proxy args). */
const PREDEFINED = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"];

export class Builder {
  private readonly cacheFile: string;
  private cache: Record<string, string>;

  constructor(private readonly o: { runner: ContainerRunner; images: EngineImages; dataRoot: string }) {
    this.cacheFile = join(o.dataRoot, "build", "cache.json");
    mkdirSync(join(o.dataRoot, "build"), { recursive: true });
    // Contexts of builds a previous daemon did not finish.
    for (const d of readdirSync(join(o.dataRoot, "build"))) if (d.startsWith("context-")) rmSync(join(o.dataRoot, "build", d), { recursive: true, force: true });
    try { this.cache = JSON.parse(readFileSync(this.cacheFile, "utf8")) as Record<string, string>; } catch { this.cache = {}; }
  }

  /** Image IDs the cache holds: intermediate images, hidden from `images` as docker hides them. */
  cachedImages(): Set<string> {
    return new Set(Object.values(this.cache));
  }

  /**
   * builder prune: forgets the cached steps whose image `match` accepts (all without one); returns
   * those images, which only the cache held.
   */
  async prune(match?: (imageId: string) => Promise<boolean>): Promise<string[]> {
    const ids = new Set<string>();
    for (const [key, id] of Object.entries(this.cache)) {
      if (match && !(await match(id))) continue;
      delete this.cache[key];
      ids.add(id);
    }
    await writeFileAtomic(this.cacheFile, JSON.stringify(this.cache));
    // An image still cached under another step (a filter kept that one) stays.
    const kept = this.cachedImages();
    return [...ids].filter((id) => !kept.has(id));
  }

  async build(opts: BuildOptions, out: (s: string) => void): Promise<string> {
    const dfPath = opts.dockerfile || "Dockerfile";
    let text: string;
    try {
      text = readFileSync(secureJoin(opts.contextDir, dfPath), "utf8");
    } catch {
      throw new InvalidArgument(`Cannot locate specified Dockerfile: ${dfPath}`);
    }
    const all = parseDockerfile(text);
    const escape = /^#\s*escape\s*=\s*`/m.test(text.split("\n").slice(0, 5).join("\n")) ? "`" : "\\";
    const ignore = await DockerIgnore.load(opts.contextDir);
    // ARGs before the first FROM are global: usable in FROM lines, and re-declarable in a stage.
    const globalArgs: Record<string, string> = {};
    let idx = 0;
    for (; idx < all.length && all[idx]!.cmd === "ARG"; idx++) {
      for (const [k, v] of argDecl(all[idx]!, {})) globalArgs[k] = opts.buildArgs[k] ?? v ?? "";
    }
    const body = all.slice(idx);
    if (!body.length || body[0]!.cmd !== "FROM") throw new InvalidArgument(`Dockerfile parse error line ${all[idx]?.line ?? 1}: no build stage in current context (a Dockerfile starts with FROM)`);
    // Stages: a FROM and what follows it; only the target and what it depends on are built.
    const stages: Instruction[][] = [];
    for (const ins of body) {
      if (ins.cmd === "FROM") stages.push([ins]);
      else stages.at(-1)!.push(ins);
    }
    const names = stages.map((s, i) => (/\s+AS\s+(\S+)\s*$/i.exec(s[0]!.args)?.[1]?.toLowerCase() ?? String(i)));
    let last = stages.length - 1;
    if (opts.target) {
      last = names.indexOf(opts.target.toLowerCase());
      if (last < 0) throw new InvalidArgument(`failed to reach build target ${opts.target} in Dockerfile`);
    }
    // What each stage needs: the stage its FROM names and those its COPY --from name. Only the
    // target and what it needs are built; stages that do not need each other build in parallel.
    const fromOf = (si: number): string => processWord(stages[si]![0]!.args.replace(/\s+AS\s+\S+\s*$/i, ""), globalArgs, escape);
    const deps = stages.map((insts, si) => {
      const refs = [fromOf(si), ...insts.filter((x) => x.flags.from).map((x) => x.flags.from!)].map((r) => names.indexOf(r.toLowerCase()));
      return [...new Set(refs.filter((r) => r >= 0 && r < si))];
    });
    const needed = new Set<number>();
    const need = (si: number): void => { if (needed.has(si)) return; needed.add(si); deps[si]!.forEach(need); };
    need(last);
    const order = [...needed].sort((a, b) => a - b);
    const total = order.reduce((a, si) => a + stages[si]!.length, 0);
    const firstStep = new Map<number, number>();
    order.reduce((n, si) => (firstStep.set(si, n), n + stages[si]!.length), 0);
    const built: string[] = [];
    const usedArgs = new Set<string>();
    const printer = new StageOutput(order, out);
    const running = new Map<number, Promise<void>>();
    const buildStage = (si: number): Promise<void> => {
      let p = running.get(si);
      if (!p) {
        p = (async () => {
          await Promise.all(deps[si]!.map(buildStage));
          await this.stage(si, stages[si]!, { fromRef: fromOf(si), names, built, opts, escape, ignore, globalArgs, usedArgs, step: firstStep.get(si)!, total }, (t) => printer.write(si, t));
          printer.done(si);
        })();
        running.set(si, p);
      }
      return p;
    };
    try {
      await buildStage(last);
    } finally {
      // A failed stage may leave others running: wait for them, so nothing is left half-made.
      await Promise.allSettled(running.values());
      rmSync(`${opts.contextDir}.dl`, { recursive: true, force: true });
    }
    let final = built[last]!;
    if (Object.keys(opts.labels).length) {
      const cfg = await this.o.images.config(final);
      final = await this.o.images.amend(final, { ...cfg.config, Labels: { ...((cfg.config?.Labels as Record<string, string>) ?? {}), ...opts.labels } }, "LABEL (build --label)");
    }
    const unused = Object.keys(opts.buildArgs).filter((k) => !usedArgs.has(k) && !(k in globalArgs) && !PREDEFINED.includes(k));
    if (unused.length) out(`[Warning] One or more build-args [${unused.join(" ")}] were not consumed\n`);
    for (const t of opts.tags) await this.o.images.images.tag(final, t);
    return final;
  }

  /** One stage: its base, its base's ONBUILD triggers, its instructions; its image goes to built[si]. */
  private async stage(si: number, insts: Instruction[], c: { fromRef: string; names: string[]; built: string[]; opts: BuildOptions; escape: string; ignore: DockerIgnore; globalArgs: Record<string, string>; usedArgs: Set<string>; step: number; total: number }, out: (s: string) => void): Promise<void> {
    const from = insts[0]!;
    let step = c.step;
    out(`Step ${++step}/${c.total} : ${from.original}\n`);
    const stageIdx = c.names.indexOf(c.fromRef.toLowerCase());
    let image: string;
    if (stageIdx >= 0 && stageIdx < si) image = c.built[stageIdx]!;
    else if (c.fromRef === "scratch") {
      image = await this.o.images.scratch();
      // Held by the cache like an intermediate image, so it is hidden from `images` and kept.
      if (!this.cache.scratch) await this.remember("scratch", image);
    }
    else {
      // As docker's classic builder: a base that is not here (or not of the wanted platform) is
      // pulled; --pull pulls it anyway.
      const platform = from.flags.platform ? processWord(from.flags.platform, c.globalArgs, c.escape) : c.opts.platform;
      const local = await this.o.images.inspect(c.fromRef).catch(() => undefined);
      const fits = !platform || (local && platformMatches(parsePlatform(platform), inspectPlatform(local)));
      image = local && fits && !c.opts.pull ? local.Id : await this.pullBase(c.fromRef, from.line, local?.Id, out, platform);
    }
    const base = await this.o.images.config(image);
    // docker's classic builder gives a stage from scratch the default PATH.
    const baseConfig = c.fromRef === "scratch" ? { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] } : { ...(base.config ?? {}) };
    const st: Stage = { name: c.names[si]!, image, config: baseConfig, shell: (base.config?.Shell as string[] | undefined) ?? DEFAULT_SHELL, args: {}, cmdSet: false, noCache: !!c.opts.noCache };
    out(` ---> ${short(image)}\n`);
    const ctx = { opts: c.opts, escape: c.escape, ignore: c.ignore, names: c.names, built: c.built, globalArgs: c.globalArgs, usedArgs: c.usedArgs };
    // ONBUILD triggers of the base image run first.
    const triggers = ((st.config.OnBuild as string[] | null) ?? []).flatMap((t) => parseDockerfile(t).map((x) => ({ ...x, line: from.line })));
    st.config.OnBuild = null;
    if (triggers.length) out(`# Executing ${triggers.length} build trigger${triggers.length === 1 ? "" : "s"}\n`);
    for (const t of triggers) await this.step(st, t, ctx, out);
    for (const ins of insts.slice(1)) {
      out(`Step ${++step}/${c.total} : ${ins.original}\n`);
      await this.step(st, ins, ctx, out);
      out(` ---> ${short(st.image)}\n`);
    }
    // What the config says now becomes the stage's image (a history entry, no layer).
    st.image = await this.settle(st);
    c.built[si] = st.image;
  }

  private async pullBase(ref: string, line: number, localId: string | undefined, out: (s: string) => void, platform?: string): Promise<string> {
    out(`Pulling ${ref}${platform ? ` (${platform})` : ""}\n`);
    try {
      const { id } = await this.o.images.pull(ref, { platform });
      out(`Status: ${id === localId ? "Image is up to date" : "Downloaded newer image"} for ${ref}\n`);
      return id;
    } catch (e) {
      throw new NotFound(`Dockerfile line ${line}: pull access denied or image not found: ${ref}: ${(e as Error).message}`);
    }
  }

  /** The pending config written as an image when it differs from the current image's. */
  private async settle(st: Stage, createdBy?: string): Promise<string> {
    const cur = await this.o.images.config(st.image);
    const want = clean(st.config);
    if (canonical(clean(cur.config ?? {})) === canonical(want) && (st.author ?? cur.author) === cur.author && !createdBy) return st.image;
    return this.o.images.amend(st.image, want, createdBy ?? "#(nop) config", st.author);
  }

  private async step(st: Stage, ins: Instruction, ctx: { opts: BuildOptions; escape: string; ignore: DockerIgnore; names: string[]; built: string[]; globalArgs: Record<string, string>; usedArgs: Set<string> }, out: (s: string) => void): Promise<void> {
    const env = { ...st.args, ...envMap(st.config.Env) };
    const word = (s: string): string => processWord(s, env, ctx.escape);
    const words = (s: string): string[] => processWords(s, env, ctx.escape);
    const nop = (text: string): string => `/bin/sh -c #(nop) ${text}`;
    try {
      switch (ins.cmd) {
        case "ENV": {
          const e = envMap(st.config.Env);
          for (const [k, v] of keyValues(ins.args, env, "ENV", ins.line)) { delete e[k]; e[k] = v; }
          st.config.Env = Object.entries(e).map(([k, v]) => `${k}=${v}`);
          return this.nopStep(st, out, nop(`ENV ${ins.args}`));
        }
        case "LABEL": {
          st.config.Labels = { ...(st.config.Labels ?? {}), ...Object.fromEntries(keyValues(ins.args, env, "LABEL", ins.line)) };
          return this.nopStep(st, out, nop(`LABEL ${ins.args}`));
        }
        case "MAINTAINER": st.author = ins.args; return this.nopStep(st, out, nop(`MAINTAINER ${ins.args}`));
        case "ARG": {
          for (const [k, v] of argDecl(ins, env)) {
            st.args[k] = ctx.opts.buildArgs[k] ?? v ?? ctx.globalArgs[k] ?? "";
            ctx.usedArgs.add(k);
          }
          return;
        }
        case "CMD": st.cmdSet = true; st.config.Cmd = ins.json ?? [...st.shell, ins.args]; return this.nopStep(st, out, nop(`CMD ${JSON.stringify(st.config.Cmd)}`));
        case "ENTRYPOINT":
          st.config.Entrypoint = ins.json ?? [...st.shell, ins.args];
          if (!st.cmdSet) st.config.Cmd = null; // docker: a new ENTRYPOINT drops the base image's CMD
          return this.nopStep(st, out, nop(`ENTRYPOINT ${JSON.stringify(st.config.Entrypoint)}`));
        case "SHELL":
          if (!ins.json?.length) throw new InvalidArgument("SHELL requires the arguments to be in JSON form");
          st.shell = ins.json;
          st.config.Shell = ins.json;
          return this.nopStep(st, out, nop(`SHELL ${JSON.stringify(ins.json)}`));
        case "EXPOSE": {
          const ports = { ...(st.config.ExposedPorts ?? {}) };
          for (const p of words(ins.args)) {
            const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
            if (!m) throw new InvalidArgument(`invalid port: ${p}`);
            for (let n = Number(m[1]); n <= Number(m[2] ?? m[1]); n++) ports[`${n}/${(m[3] ?? "tcp").toLowerCase()}`] = {};
          }
          st.config.ExposedPorts = ports;
          return this.nopStep(st, out, nop(`EXPOSE ${Object.keys(ports).join(" ")}`));
        }
        case "VOLUME": {
          const vols = { ...(st.config.Volumes ?? {}) };
          for (const v of ins.json ?? words(ins.args)) {
            if (!v.trim()) throw new InvalidArgument("VOLUME specified can not be an empty string");
            vols[v] = {};
          }
          st.config.Volumes = vols;
          return this.nopStep(st, out, nop(`VOLUME ${JSON.stringify(ins.json ?? words(ins.args))}`));
        }
        case "USER": st.config.User = word(ins.args); return this.nopStep(st, out, nop(`USER ${st.config.User}`));
        case "STOPSIGNAL": st.config.StopSignal = word(ins.args); return this.nopStep(st, out, nop(`STOPSIGNAL ${st.config.StopSignal}`));
        case "ONBUILD": {
          const inner = /^\s*(\S+)/.exec(ins.args)?.[1]?.toUpperCase();
          if (!inner || ["ONBUILD", "FROM", "MAINTAINER"].includes(inner)) throw new InvalidArgument(`${inner ?? "an instruction"} isn't allowed as an ONBUILD trigger`);
          st.config.OnBuild = [...(st.config.OnBuild ?? []), ins.args];
          return this.nopStep(st, out, nop(`ONBUILD ${ins.args}`));
        }
        case "HEALTHCHECK": {
          st.config.Healthcheck = healthcheck(ins);
          return this.nopStep(st, out, nop(`HEALTHCHECK ${ins.args}`));
        }
        case "WORKDIR": {
          const dir = posix.resolve(st.config.WorkingDir || "/", word(ins.args));
          st.config.WorkingDir = dir;
          // The directory is made in a layer when the image does not have it (docker does the same).
          await this.layerStep(st, `WORKDIR ${dir}`, nop(`WORKDIR ${dir}`), ctx.opts.noCache, async (rootfs) => {
            const p = secureJoin(rootfs, dir);
            if (existsSync(p)) return false;
            await mkdir(p, { recursive: true, mode: 0o755 });
            return true;
          });
          return;
        }
        case "RUN": return await this.run(st, ins, ctx, out);
        case "COPY": case "ADD": return await this.copy(st, ins, ctx, env, out);
        default:
          throw new InvalidArgument(`${ins.cmd} is not allowed here`);
      }
    } catch (e) {
      if (e instanceof BuildError) throw e;
      throw new BuildError(`Dockerfile line ${ins.line} (${ins.original.split("\n")[0]}): ${(e as Error).message}`, { cause: e });
    }
  }

  /** A config-only step: the cache key is the parent and the instruction, the image gets a history entry. */
  private async nopStep(st: Stage, out: (s: string) => void, createdBy: string): Promise<void> {
    const key = this.key(st, createdBy);
    const hit = await this.cached(key, st.noCache);
    if (hit) { out(" ---> Using cache\n"); st.image = hit; return; }
    st.image = await this.settle(st, createdBy);
    await this.remember(key, st.image);
  }

  private key(st: Stage, what: string): string {
    return createHash("sha256").update(`${st.image}\n${canonical(clean(st.config))}\n${what}`).digest("hex");
  }

  private async cached(key: string, noCache: boolean | undefined): Promise<string | undefined> {
    if (noCache) return undefined;
    const id = this.cache[key];
    if (!id) return undefined;
    try { await this.o.images.inspect(id); return id; } catch { delete this.cache[key]; return undefined; }
  }

  private saving: Promise<void> = Promise.resolve();

  /** Records a step; writes are one after another, each with the whole cache (parallel stages add at once). */
  private remember(key: string, id: string): Promise<void> {
    this.cache[key] = id;
    this.saving = this.saving.catch(() => {}).then(() => writeFileAtomic(this.cacheFile, JSON.stringify(this.cache)));
    return this.saving;
  }

  /**
   * A step that changes the filesystem: a created (never started) container on the current image,
   * `fn` works on its mounted root, and its changes are committed. `fn` returning false: nothing
   * changed, no layer.
   */
  private async layerStep(st: Stage, what: string, createdBy: string, noCache: boolean | undefined, fn: (rootfs: string) => Promise<boolean>): Promise<void> {
    const key = this.key(st, what);
    const hit = await this.cached(key, noCache);
    if (hit) { st.image = hit; return; }
    const { Id } = await this.o.runner.create(undefined, { Image: st.image, Cmd: ["/bin/sh"], Entrypoint: [""], HostConfig: { NetworkMode: "none" } });
    try {
      const changed = await this.o.runner.withFilesystem(Id, (rootfs) => fn(rootfs));
      if (!changed) return;
      st.image = await this.o.runner.commit(Id, { config: clean(st.config), createdBy, author: st.author, exactConfig: true });
      await this.remember(key, st.image);
    } finally {
      await this.o.runner.remove(Id, { force: true, volumes: true }).catch(() => {});
    }
  }

  private async run(st: Stage, ins: Instruction, ctx: { opts: BuildOptions }, out: (s: string) => void): Promise<void> {
    const argv = ins.json ?? [...st.shell, runScript(ins)];
    // Build args are in RUN's environment (not in the image), as docker's classic builder does.
    const argEnv = Object.entries(st.args).filter(([k]) => !envMap(st.config.Env)[k] && k in st.args).map(([k, v]) => `${k}=${v}`);
    const key = this.key(st, `RUN ${JSON.stringify(argv)} ${JSON.stringify(argEnv)}`);
    const hit = await this.cached(key, ctx.opts.noCache);
    if (hit) { out(" ---> Using cache\n"); st.image = hit; return; }
    const { Id } = await this.o.runner.create(undefined, {
      Image: st.image, Cmd: argv, Entrypoint: [""], Env: [...(st.config.Env ?? []), ...argEnv], WorkingDir: st.config.WorkingDir ?? "",
      User: st.config.User ?? "", AttachStdout: true, AttachStderr: true,
      HostConfig: { NetworkMode: ctx.opts.networkMode || "default" },
    });
    try {
      out(` ---> Running in ${short(Id)}\n`);
      // Attached before start (parked by the runner until the shim exists), and read from the moment
      // the connection is handed over: no output is missed, and its end is never missed either.
      const relay = this.o.runner.attach(Id).then((s) => (s ? relayFrames(s, out) : undefined), () => undefined);
      await this.o.runner.start(Id);
      await relay;
      const { StatusCode } = await this.o.runner.wait(Id);
      if (StatusCode !== 0) throw new BuildError(`The command '${argv.join(" ")}' returned a non-zero code: ${StatusCode} (Dockerfile line ${ins.line})`);
      const createdBy = ins.json ? JSON.stringify(argv) : argv.join(" ");
      st.image = await this.o.runner.commit(Id, { config: clean(st.config), createdBy, author: st.author, exactConfig: true });
      await this.remember(key, st.image);
    } finally {
      out(`Removing intermediate container ${short(Id)}\n`);
      await this.o.runner.remove(Id, { force: true, volumes: true }).catch(() => {});
    }
  }

  private async copy(st: Stage, ins: Instruction, ctx: { opts: BuildOptions; ignore: DockerIgnore; names: string[]; built: string[]; escape: string }, env: Record<string, string>, out: (s: string) => void): Promise<void> {
    const parts = ins.json ?? processWords(ins.args, env, ctx.escape);
    if (parts.length < 2) throw new InvalidArgument(`${ins.cmd} requires at least two arguments, but got ${parts.length}`);
    const dest = parts.at(-1)!;
    const srcs = parts.slice(0, -1);
    const chown = ins.flags.chown ? processWord(ins.flags.chown, env) : undefined;
    const chmod = ins.flags.chmod ? parseInt(ins.flags.chmod, 8) : undefined;
    if (ins.flags.chmod && !/^[0-7]{3,4}$/.test(ins.flags.chmod)) throw new InvalidArgument(`invalid --chmod ${ins.flags.chmod}: expected an octal mode`);
    const fromRef = ins.flags.from;
    if (fromRef && ins.cmd === "ADD") throw new InvalidArgument("ADD does not take --from: use COPY --from");
    // Where sources come from: the context, or another stage's / image's filesystem.
    const withSource = async <T>(fn: (root: string, isContext: boolean) => Promise<T>): Promise<T> => {
      if (!fromRef) return fn(ctx.opts.contextDir, true);
      const si = ctx.names.indexOf(fromRef.toLowerCase());
      const image = si >= 0 && ctx.built[si] ? ctx.built[si]! : (await this.o.images.inspect(fromRef).catch(() => { throw new NotFound(`COPY --from: no stage or image named ${fromRef}`); })).Id;
      const { Id } = await this.o.runner.create(undefined, { Image: image, Cmd: ["/bin/sh"], Entrypoint: [""], HostConfig: { NetworkMode: "none" } });
      try { return await this.o.runner.withFilesystem(Id, (root) => fn(root, false)); } finally { await this.o.runner.remove(Id, { force: true, volumes: true }).catch(() => {}); }
    };
    await withSource(async (root, isContext) => {
      // Sources resolved inside their root (no ../, symlinks evaluated inside it), .dockerignore applied.
      const entries: { abs: string; name: string; isDir: boolean; tarball: boolean }[] = [];
      for (const s of srcs) {
        const doc = /^<<-?(["']?)([A-Za-z_][A-Za-z0-9_]*)\1$/.exec(s);
        if (doc && ins.heredocs?.some((h) => h.name === doc[2])) {
          // A here-document as a file named after its word (COPY <<EOF /etc/app.conf).
          const h = ins.heredocs.find((x) => x.name === doc[2])!;
          const sub = join(`${ctx.opts.contextDir}.dl`, `heredoc-${createHash("sha256").update(h.body).digest("hex").slice(0, 16)}`);
          await mkdir(sub, { recursive: true });
          const abs = join(sub, h.name);
          writeFileSync(abs, h.body, { mode: 0o644 });
          entries.push({ abs, name: `/${h.name}`, isDir: false, tarball: false });
          continue;
        }
        if (/^https?:\/\//.test(s)) {
          if (ins.cmd === "COPY") throw new InvalidArgument(`COPY does not take URLs (${s}): use ADD`);
          // Downloaded next to the context (mode 0600, as docker's; never extracted), keyed by content.
          const abs = await download(s, `${ctx.opts.contextDir}.dl`);
          entries.push({ abs, name: `/${posix.basename(abs)}`, isDir: false, tarball: false });
          continue;
        }
        const matches = await expandSource(root, s, isContext ? ctx.ignore : undefined);
        if (!matches.length) throw new NotFound(`${ins.cmd} failed: file not found in build context or excluded by .dockerignore: stat ${s}: file does not exist`);
        for (const m of matches) {
          const st2 = await stat(m.abs);
          entries.push({ ...m, isDir: st2.isDirectory(), tarball: ins.cmd === "ADD" && st2.isFile() && (await isTar(m.abs)) });
        }
      }
      const namedDir = dest.endsWith("/") || dest === "." || dest.endsWith("/.") || entries.length > 1 || entries.some((e) => e.isDir);
      const absDest = posix.resolve(st.config.WorkingDir || "/", dest);
      const sum = await checksum(entries.map((e) => e.abs), root, isContext ? ctx.ignore : undefined, isContext ? ctx.opts.contextDigests : undefined);
      const [uid, gid] = chown ? await this.owner(st, chown) : [0, 0];
      const what = `${ins.cmd} ${JSON.stringify({ srcs, dest: absDest, chown, chmod, from: fromRef ?? null })} ${sum}`;
      const key = this.key(st, what);
      const hit = await this.cached(key, ctx.opts.noCache);
      if (hit) { out(" ---> Using cache\n"); st.image = hit; return; }
      const createdBy = `/bin/sh -c #(nop) ${ins.cmd} ${entries.some((e) => e.isDir) ? "dir" : "file"}:${sum.slice(0, 64)} in ${absDest} `;
      await this.layerStep(st, what, createdBy, true, async (rootfs) => {
        // Into the destination when it names a directory or is one already; else it is the file's name.
        const destDir = namedDir || (await stat(secureJoin(rootfs, absDest)).then((x) => x.isDirectory(), () => false));
        for (const e of entries) {
          const target = destDir ? absDest : posix.dirname(absDest);
          const name = destDir ? (e.isDir ? "" : posix.basename(e.name)) : posix.basename(absDest);
          const into = secureJoin(rootfs, target);
          // Directories the copy creates belong to --chown's user, as docker's (MkdirAllAndChownNew).
          const made = await mkdir(into, { recursive: true });
          if (made && chown) for (let p = into; p.length >= made.length; p = posix.dirname(p)) await lchown(p, uid, gid);
          if (e.tarball) {
            const raw = createReadStream(e.abs);
            const gz = (await isGzip(e.abs)) ? raw.pipe(gunzip()) : raw;
            await applyLayer(into, gz as unknown as Parameters<typeof applyLayer>[1], { whiteouts: "delete" });
            continue;
          }
          const tarEntries = walkContext(e.abs, name || ".", isContext ? ctx.ignore : undefined, root, { uid: chown ? uid : undefined, gid: chown ? gid : undefined, chmod, ownerFromFile: !isContext });
          await applyLayer(into, Readable.from(writeTar(tarEntries)) as unknown as Parameters<typeof applyLayer>[1], { whiteouts: "delete" });
        }
        return true;
      });
      await this.remember(key, st.image);
    });
  }

  /** --chown's user and group: numbers, or names from the image's /etc/passwd and /etc/group. */
  private async owner(st: Stage, spec: string): Promise<[number, number]> {
    const [u, g] = spec.split(":") as [string, string | undefined];
    const need = !/^\d+$/.test(u) || (g !== undefined && !/^\d+$/.test(g));
    if (!need) return [Number(u), g !== undefined ? Number(g) : Number(u)];
    const { Id } = await this.o.runner.create(undefined, { Image: st.image, Cmd: ["/bin/sh"], Entrypoint: [""], HostConfig: { NetworkMode: "none" } });
    try {
      return await this.o.runner.withFilesystem(Id, async (rootfs) => {
        const read = (f: string): string[][] => { try { return readFileSync(secureJoin(rootfs, f), "utf8").split("\n").map((l) => l.split(":")); } catch { return []; } };
        const pw = read("/etc/passwd");
        const gr = read("/etc/group");
        const user = /^\d+$/.test(u) ? pw.find((x) => x[2] === u) ?? [u, "", u, u] : pw.find((x) => x[0] === u);
        if (!user) throw new InvalidArgument(`unable to convert uid/gid chown string to host mapping: no such user: ${u}`);
        let gidN = Number(user[3]);
        if (g !== undefined) {
          const grp = /^\d+$/.test(g) ? [g, "", g] : gr.find((x) => x[0] === g);
          if (!grp) throw new InvalidArgument(`unable to convert uid/gid chown string to host mapping: no such group: ${g}`);
          gidN = Number(grp[2]);
        }
        return [Number(user[2]), gidN] as [number, number];
      });
    } finally {
      await this.o.runner.remove(Id, { force: true }).catch(() => {});
    }
  }
}

const short = (id: string): string => id.replace(/^sha256:/, "").slice(0, 12);

function envMap(env: string[] | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env ?? []) { const i = e.indexOf("="); out[i < 0 ? e : e.slice(0, i)] = i < 0 ? "" : e.slice(i + 1); }
  return out;
}

/**
 * The output of stages built in parallel, in docker's order: the first unfinished stage streams
 * live; a later stage's lines wait until every stage before it is done.
 */
class StageOutput {
  private readonly pending = new Map<number, string[]>();
  private readonly finished = new Set<number>();
  private at = 0;

  constructor(private readonly order: number[], private readonly out: (s: string) => void) {}

  write(si: number, text: string): void {
    if (this.order[this.at] === si) this.out(text);
    else (this.pending.get(si) ?? this.pending.set(si, []).get(si)!).push(text);
  }

  done(si: number): void {
    this.finished.add(si);
    while (this.at < this.order.length && this.finished.has(this.order[this.at]!)) {
      this.at++;
      const next = this.order[this.at];
      if (next === undefined) break;
      for (const t of this.pending.get(next) ?? []) this.out(t);
      this.pending.delete(next);
    }
  }
}

/** JSON with object keys sorted: equal configs give equal text whatever order their keys were set in. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : x));
}

/** The config as stored: empty values dropped, so that equal configs compare equal. */
function clean(c: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = {};
  for (const [k, v] of Object.entries(c)) {
    if (v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0 && k !== "Cmd" && k !== "Entrypoint") || (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0)) continue;
    out[k] = v;
  }
  return out;
}

function argDecl(ins: Instruction, env: Record<string, string>): [string, string | undefined][] {
  return processWords(ins.args, env).map((w) => {
    const eq = w.indexOf("=");
    const k = eq < 0 ? w : w.slice(0, eq);
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) throw new InvalidArgument(`Dockerfile line ${ins.line}: invalid ARG name ${k}`);
    return [k, eq < 0 ? undefined : w.slice(eq + 1)];
  });
}

function healthcheck(ins: Instruction): Record<string, unknown> {
  const rest = ins.args.trim();
  if (/^NONE$/i.test(rest)) return { Test: ["NONE"] };
  const m = /^CMD\s+(.*)$/is.exec(rest);
  if (!m) throw new InvalidArgument("HEALTHCHECK: expected NONE or CMD");
  const cmd = m[1]!.trim();
  let test: string[];
  if (cmd.startsWith("[")) {
    try { test = ["CMD", ...(JSON.parse(cmd) as string[])]; } catch { throw new InvalidArgument("HEALTHCHECK CMD: invalid JSON array"); }
  } else test = ["CMD-SHELL", cmd];
  const dur = (name: string): number | undefined => {
    const v = ins.flags[name];
    if (v === undefined) return undefined;
    const ms = parseGoDuration(v);
    if (ms === undefined) throw new InvalidArgument(`HEALTHCHECK --${name}: invalid duration ${v}`);
    return Math.round(ms * 1e6);
  };
  const out: Record<string, unknown> = { Test: test };
  for (const [flag, field] of [["interval", "Interval"], ["timeout", "Timeout"], ["start-period", "StartPeriod"], ["start-interval", "StartInterval"]] as const) {
    const v = dur(flag);
    if (v !== undefined) out[field] = v;
  }
  if (ins.flags.retries !== undefined) out.Retries = Number(ins.flags.retries);
  return out;
}

/** A source pattern (with * ? [ ] wildcards in its last elements) → the paths it names inside root. */
async function expandSource(root: string, src: string, ignore: DockerIgnore | undefined): Promise<{ abs: string; name: string }[]> {
  const clean = posix.normalize(`/${src}`).replace(/\/+$/, "") || "/";
  if (!/[*?[]/.test(clean)) {
    const abs = secureJoin(root, clean);
    if (!existsSync(abs)) return [];
    if (ignore && clean !== "/" && ignore.ignored(clean.slice(1))) return [];
    return [{ abs, name: clean }];
  }
  // Wildcards: walk the directories element by element.
  let cur: { abs: string; name: string }[] = [{ abs: root, name: "" }];
  for (const part of clean.split("/").filter(Boolean)) {
    const re = globPart(part);
    const next: { abs: string; name: string }[] = [];
    for (const c of cur) {
      let kids: string[] = [];
      try { kids = await readdir(c.abs); } catch { continue; }
      for (const k of kids.sort()) if (re.test(k)) next.push({ abs: secureJoin(root, `${c.name}/${k}`), name: `${c.name}/${k}` });
    }
    cur = next;
  }
  return cur.filter((c) => !ignore || !ignore.ignored(c.name.slice(1)));
}

function globPart(p: string): RegExp {
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") { const end = p.indexOf("]", i); re += end > i ? p.slice(i, end + 1) : "\\["; i = end > i ? end : i; }
    else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/**
 * Tar entries for a source (a directory's contents go under `name`); files excluded by
 * .dockerignore are left out. Owners are root (or --chown) for context files, as docker's; from
 * another stage they are kept.
 */
async function* walkContext(abs: string, name: string, ignore: DockerIgnore | undefined, root: string, o: { uid?: number; gid?: number; chmod?: number; ownerFromFile: boolean }): AsyncGenerator<TarWriteEntry> {
  const st = await lstat(abs);
  const rel = abs.slice(root.length).replace(/^\/+/, "");
  if (ignore && rel && ignore.ignored(rel)) return;
  const mode = o.chmod ?? st.mode & 0o7777;
  const h = {
    name, mode, uid: o.uid ?? (o.ownerFromFile ? st.uid : 0), gid: o.gid ?? (o.ownerFromFile ? st.gid : 0),
    mtime: { sec: Math.floor(st.mtimeMs / 1000), nsec: 0 },
  };
  if (st.isDirectory()) {
    if (name !== ".") yield { header: { ...h, type: "dir" } };
    for (const child of (await readdir(abs)).sort()) yield* walkContext(`${abs}/${child}`, name === "." ? child : `${name}/${child}`, ignore, root, o);
  } else if (st.isSymbolicLink()) {
    yield { header: { ...h, mode: 0o777, type: "symlink", linkname: await readlink(abs) } };
  } else if (st.isFile()) {
    yield { header: { ...h, type: "file", size: st.size }, body: createReadStream(abs) as AsyncIterable<Buffer> };
  }
}

/**
 * What the cache keys a COPY on: names, types, modes and contents (not mtimes or owners of the
 * context). A file's contents count by their sha256, taken from `known` (recorded when the context
 * was extracted) while the path is still that inode, else read.
 */
export async function checksum(paths: string[], root: string, ignore?: DockerIgnore, known?: Map<string, FileDigest>): Promise<string> {
  const h = createHash("sha256");
  const visit = async (abs: string): Promise<void> => {
    const rel = abs.slice(root.length).replace(/^\/+/, "");
    if (ignore && rel && ignore.ignored(rel)) return;
    const st = await lstat(abs);
    h.update(`${rel}\0${st.mode}\0`);
    if (st.isDirectory()) for (const c of (await readdir(abs)).sort()) await visit(`${abs}/${c}`);
    else if (st.isSymbolicLink()) h.update(await readlink(abs));
    else if (st.isFile()) {
      const k = known?.get(rel);
      if (k && k.ino === st.ino) h.update(k.sha256);
      else {
        const f = createHash("sha256");
        for await (const chunk of createReadStream(abs, { highWaterMark: 1 << 20 })) f.update(chunk as Buffer);
        h.update(f.digest("hex"));
      }
    }
  };
  for (const p of paths) await visit(p);
  return h.digest("hex");
}

/**
 * A shell-form RUN's script. With here-documents: `RUN <<EOF` alone runs the document as the
 * script; otherwise the documents follow the command line, as the shell reads them (`RUN cat
 * <<EOF > /f`).
 */
function runScript(ins: Instruction): string {
  const docs = ins.heredocs ?? [];
  if (!docs.length) return ins.args;
  if (docs.length === 1 && /^<<-?(["']?)[A-Za-z_][A-Za-z0-9_]*\1\s*$/.test(ins.args.trim())) return docs[0]!.body;
  return `${ins.args}\n${docs.map((d) => `${d.body}${d.name}\n`).join("")}`;
}

/** ADD's URL source: fetched to dir/<hash of the URL>/<file name from the URL>, mtime from Last-Modified. */
async function download(url: string, dir: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: "follow" });
  } catch (e) {
    throw new InvalidArgument(`ADD failed: GET ${url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
  }
  if (!res.ok) throw new InvalidArgument(`ADD failed: GET ${url}: ${res.status} ${res.statusText}`);
  const name = posix.basename(new URL(url).pathname) || "index.html";
  const sub = join(dir, createHash("sha256").update(url).digest("hex").slice(0, 16));
  await mkdir(sub, { recursive: true });
  const abs = join(sub, name);
  const { writeFile, utimes, chmod } = await import("node:fs/promises");
  await writeFile(abs, Buffer.from(await res.arrayBuffer()), { mode: 0o600 });
  await chmod(abs, 0o600);
  const modified = Date.parse(res.headers.get("last-modified") ?? "");
  if (Number.isFinite(modified)) await utimes(abs, new Date(modified), new Date(modified));
  return abs;
}

async function head(abs: string, n: number): Promise<Buffer> {
  const { open } = await import("node:fs/promises");
  const f = await open(abs, "r");
  try {
    const b = Buffer.alloc(n);
    const { bytesRead } = await f.read(b, 0, n, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await f.close();
  }
}

const isGzip = async (abs: string): Promise<boolean> => (await head(abs, 2)).equals(Buffer.from([0x1f, 0x8b]));

/** ADD extracts local tar archives (plain or gzip), recognised by their content as docker does. */
async function isTar(abs: string): Promise<boolean> {
  if (await isGzip(abs)) return true;
  const b = await head(abs, 512);
  return b.length === 512 && b.subarray(257, 262).toString("latin1") === "ustar";
}

/** Relays docker's multiplexed frames from the attach socket as text lines. */
function relayFrames(sock: NodeJS.ReadableStream & { destroy?: () => void }, out: (s: string) => void): Promise<void> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 8) {
        const len = buf.readUInt32BE(4);
        if (buf.length < 8 + len) break;
        out(buf.subarray(8, 8 + len).toString("utf8"));
        buf = buf.subarray(8 + len);
      }
    });
    sock.on("end", () => resolve());
    sock.on("close", () => resolve());
    sock.on("error", () => resolve());
  });
}

