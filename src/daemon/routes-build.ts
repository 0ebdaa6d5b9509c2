/**
 * Docker Engine API: POST /build (the classic builder's protocol: the context as a tar body, plain
 * or gzip; options in the query; docker's JSON progress stream) and POST /build/prune.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import type { Builder } from "../build/builder.js";
import type { EngineImages } from "../engine/images.js";
import type { EventBus } from "../engine/events.js";
import { InvalidArgument } from "../errdefs.js";
import { parsePlatform, parseReference } from "../image/index.js";
import { applyLayer, type FileDigest } from "../snapshot/index.js";
import { flag, parseFilters, pruneFilter, Status, type Router } from "./http.js";
import { gunzip } from "../gunzip.js";

export interface BuildDeps {
  builder: Builder;
  images: EngineImages;
  events: EventBus;
  dataRoot: string;
}

function jsonParam(q: URLSearchParams, name: string): Record<string, string> {
  const raw = q.get(name);
  if (!raw) return {};
  try {
    const o = JSON.parse(raw) as Record<string, string | null>;
    return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null)) as Record<string, string>;
  } catch {
    throw new InvalidArgument(`${name}: not a JSON object`);
  }
}

/** The body as a tar stream: gzip is recognised by its magic bytes, as docker does. */
async function tarStream(body: Readable): Promise<Readable> {
  const out = new PassThrough();
  let first = true;
  const pipeTo = (s: Readable): void => { s.pipe(out); s.on("error", (e) => out.destroy(e)); };
  return new Promise((resolve, reject) => {
    body.once("error", reject);
    body.once("readable", () => {
      if (!first) return;
      first = false;
      const head = body.read(2) as Buffer | null;
      if (head) body.unshift(head);
      if (head && head[0] === 0x1f && head[1] === 0x8b) { const gz = gunzip(); body.pipe(gz); pipeTo(gz); } else pipeTo(body);
      resolve(out);
    });
    body.once("end", () => { if (first) { first = false; out.end(); resolve(out); } });
  });
}

export function buildRoutes(r: Router, d: BuildDeps): void {
  r.add("POST", "/build", async (c) => {
    const q = c.query;
    const opts = {
      dockerfile: q.get("dockerfile") ?? "Dockerfile", tags: q.getAll("t"), buildArgs: jsonParam(q, "buildargs"),
      labels: jsonParam(q, "labels"), target: q.get("target") || undefined, noCache: flag(q, "nocache"), pull: flag(q, "pull"),
      networkMode: q.get("networkmode") || undefined, quiet: flag(q, "q"), platform: q.get("platform") || undefined,
    };
    if (opts.platform) parsePlatform(opts.platform); // refused before the build, with the platform named
    if (q.get("remote")) throw new InvalidArgument("building from a remote context is not supported: send the context as the request body");
    for (const t of opts.tags) parseReference(t); // a bad -t is refused before the build, not after it
    const dir = await mkdtemp(join(d.dataRoot, "build", "context-"));
    const res = c.res!;
    const send = (o: unknown): void => { if (!res.writableEnded) res.write(`${JSON.stringify(o)}\n`); };
    try {
      const contextDigests = new Map<string, FileDigest>();
      await applyLayer(dir, (await tarStream(c.req)) as unknown as Parameters<typeof applyLayer>[1], { whiteouts: "delete", diffId: false, fileDigests: contextDigests });
      res.writeHead(200, { "Content-Type": "application/json" }).flushHeaders();
      const id = await d.builder.build({ ...opts, contextDir: dir, contextDigests }, (s) => { if (!opts.quiet) send({ stream: s }); });
      send({ aux: { ID: id } });
      if (!opts.quiet) send({ stream: `Successfully built ${id.replace(/^sha256:/, "").slice(0, 12)}\n` });
      for (const t of opts.tags) send({ stream: `Successfully tagged ${t.includes(":") ? t : `${t}:latest`}\n` });
      if (opts.quiet) send({ stream: `${id}\n` });
      d.events.emit("image", "build", id, {});
    } catch (e) {
      // Before the stream started (the context could not be read) the error is a plain answer.
      if (!res.headersSent) {
        await rm(dir, { recursive: true, force: true }).catch(() => {});
        throw e;
      }
      const m = (e as Error).message;
      send({ errorDetail: { message: m }, error: m });
    }
    res.end();
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    return new Status(0);
  });
  r.add("POST", "/build/prune", async (c) => {
    // docker's filters on the cache: until (the step's image creation) and label; all/keep-storage
    // ask nothing more of berth's cache, whose entries are all unused intermediate images.
    const match = pruneFilter(parseFilters(c.query));
    const ids = await d.builder.prune(match && (async (id) => {
      const img = await d.images.inspect(id).catch(() => undefined);
      return !!img && match({ created: Date.parse(String(img.Created ?? "")) / 1000, labels: (img.Config?.Labels ?? null) as Record<string, string> | null });
    }));
    const deleted: string[] = [];
    for (const id of ids) {
      try {
        const img = await d.images.inspect(id);
        if (img.RepoTags?.length) continue;
        await d.images.images.remove(id);
        deleted.push(id);
      } catch { /* gone, or in use */ }
    }
    const { bytesFreed } = await d.images.collect();
    return { CachesDeleted: deleted, SpaceReclaimed: bytesFreed };
  });
}
