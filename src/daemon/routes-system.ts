/** Docker Engine API: system (ping, version, info, events), images and volumes. */
import { release, totalmem, availableParallelism, hostname } from "node:os";
import { InvalidArgument, NotFound, Unauthenticated } from "../errdefs.js";
import type { ContainerRunner } from "../engine/container-runner.js";
import type { EventBus } from "../engine/events.js";
import type { EngineImages } from "../engine/images.js";
import type { VolumeStore } from "../engine/volumes.js";
import type { CgroupManager } from "../runtime/cgroups/types.js";
import { familiarString, formatPlatform, inspectPlatform, parsePlatform, parseReference, platformMatches, type ProgressEvent } from "../image/index.js";
import { API_VERSION, MIN_API_VERSION, flag, labelMatches, parseFilters, pruneFilter, Status, writeOrAbort, type Ctx, type Router } from "./http.js";
import { loadImages, saveImages } from "../engine/image-archive.js";
import { treeSize } from "../fsutil.js";
import { applyChanges } from "../engine/container-changes.js";
import { summaryView } from "../engine/container-view.js";
import { Readable } from "node:stream";

export interface SystemDeps {
  runner: ContainerRunner;
  images: EngineImages;
  volumes: VolumeStore;
  events: EventBus;
  cgroups: CgroupManager;
  dataRoot: string;
  /** Images a build's cache holds: hidden from the list unless all=1, kept by a dangling prune (docker's intermediate images). */
  buildCache: () => Set<string>;
}

const VERSION = "0.1.0";

/** One line of docker's JSON progress stream (pull, push). */
function progressLine(e: ProgressEvent): string {
  return JSON.stringify({ status: e.status, id: e.id, ...(e.total ? { progressDetail: { current: e.current ?? 0, total: e.total } } : {}) }) + "\n";
}

/** docker's X-Registry-Auth: base64url JSON {username, password, serveraddress}, or absent. */
function registryAuth(c: Ctx): { username: string; password: string } | undefined {
  const h = c.req.headers["x-registry-auth"];
  if (typeof h !== "string" || !h) return undefined;
  try {
    const j = JSON.parse(Buffer.from(h.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8")) as { username?: string; password?: string };
    return j.username && j.password ? { username: j.username, password: j.password } : undefined;
  } catch {
    throw new InvalidArgument("X-Registry-Auth: not base64-encoded JSON");
  }
}

export function systemRoutes(r: Router, d: SystemDeps): void {
  r.add("GET", "/_ping", () => "OK");
  r.add("GET", "/version", () => ({
    Platform: { Name: "berth" }, Version: VERSION, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION,
    GitCommit: "", GoVersion: `node ${process.version}`, Os: "linux", Arch: "amd64", KernelVersion: release(), BuildTime: "",
    Components: [{ Name: "Engine", Version: VERSION, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: "linux", Arch: "amd64", KernelVersion: release() } }],
  }));
  r.add("GET", "/info", async () => {
    const all = d.runner.store.all();
    const imgs = await d.images.images.list();
    return {
      ID: "berth", Containers: all.length, ContainersRunning: all.filter((c) => c.State.Running && !c.State.Paused).length,
      ContainersPaused: all.filter((c) => c.State.Paused).length, ContainersStopped: all.filter((c) => !c.State.Running).length,
      Images: imgs.length, Driver: d.images.snapshots.name === "overlay" ? "overlay2" : d.images.snapshots.name, DriverStatus: [["Backing Filesystem", "extfs"]],
      MemoryLimit: true, SwapLimit: true, CpuCfsPeriod: true, CpuCfsQuota: true, CPUShares: true, CPUSet: true, PidsLimit: true, OomKillDisable: true,
      IPv4Forwarding: false, Debug: false, NFd: 0, NGoroutines: 0, SystemTime: new Date().toISOString(), LoggingDriver: "json-file",
      CgroupDriver: "cgroupfs", CgroupVersion: d.cgroups.mode === "v2" ? "2" : "1", NEventsListener: 0, KernelVersion: release(),
      OperatingSystem: "berth on Linux", OSType: "linux", Architecture: "x86_64", NCPU: availableParallelism(), MemTotal: totalmem(),
      DockerRootDir: d.dataRoot, Name: hostname(), Labels: [], ExperimentalBuild: false, ServerVersion: VERSION,
      Runtimes: { berth: { path: "berth-shim" } }, DefaultRuntime: "berth", Swarm: { LocalNodeState: "inactive" },
      SecurityOptions: ["name=seccomp,profile=builtin"], Warnings: d.cgroups.mode === "hybrid" ? ["cgroups: hybrid hierarchy (v1 controllers + cgroup2); berth uses both"] : [],
      Plugins: { Volume: ["local"], Network: ["host", "null"], Log: ["json-file"] },
    };
  });
  r.add("GET", "/events", async (c) => {
    const f = parseFilters(c.query);
    const ac = new AbortController();
    c.req.socket.once("close", () => ac.abort());
    const num = (k: string): number | undefined => (c.query.get(k) ? Number(c.query.get(k)) : undefined);
    c.res!.writeHead(200, { "Content-Type": "application/json" }).flushHeaders();
    for await (const e of d.events.subscribe({ since: num("since"), until: num("until"), signal: ac.signal })) {
      if (f.type && !f.type.includes(e.Type)) continue;
      if (f.event && !f.event.includes(e.Action)) continue;
      if (f.container && !f.container.some((x) => e.Actor.ID.startsWith(x) || e.Actor.Attributes.name === x)) continue;
      c.res!.write(JSON.stringify(e) + "\n");
    }
    c.res!.end();
    return new Status(0);
  });

  // ---- images ----
  r.add("GET", "/images/json", async (c) => {
    const out = [];
    const hidden = flag(c.query, "all") ? new Set<string>() : d.buildCache();
    const f = parseFilters(c.query);
    // The pre-1.25 `filter` parameter is a reference pattern too.
    if (c.query.get("filter")) (f.reference ??= []).push(c.query.get("filter")!);
    for (const k of Object.keys(f)) if (!["dangling", "label", "reference", "before", "since"].includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
    const createdOf = async (ref: string): Promise<number> => Date.parse((await d.images.inspect(ref)).Created ?? "");
    const before = f.before?.length ? await createdOf(f.before[0]!) : undefined;
    const since = f.since?.length ? await createdOf(f.since[0]!) : undefined;
    for (const img of await d.images.images.list()) {
      const i = await d.images.images.inspect(img.id);
      if (hidden.has(i.Id) && !(i.RepoTags ?? []).length) continue;
      const tags = i.RepoTags ?? [];
      if (f.dangling?.length && (tags.length === 0) !== f.dangling.includes("true")) continue;
      const labels = ((i.Config as any)?.Labels ?? {}) as Record<string, string>;
      if (f.label && !f.label.every((l) => labelMatches(l, labels))) continue;
      // With a reference filter docker lists the image with the tags that matched.
      const shown = f.reference ? tags.filter((t) => f.reference!.some((p) => referenceMatches(p, t))) : tags;
      if (f.reference && shown.length === 0) continue;
      const created = Date.parse(i.Created ?? "");
      if (before !== undefined && !(created < before)) continue;
      if (since !== undefined && !(created > since)) continue;
      out.push({
        Id: i.Id, ParentId: "", RepoTags: shown, RepoDigests: i.RepoDigests ?? [], Created: Math.floor(Date.parse(i.Created ?? "") / 1000) || 0,
        Size: i.Size ?? 0, SharedSize: -1, VirtualSize: i.Size ?? 0, Labels: (i.Config as any)?.Labels ?? {}, Containers: -1,
      });
    }
    return out;
  });
  r.add("GET", "/images/{name*}/json", (c) => d.images.inspect(c.params.name!));
  r.add("GET", "/images/{name*}/history", (c) => d.images.images.history(c.params.name!));
  r.add("POST", "/images/{name*}/tag", async (c) => {
    const repo = c.query.get("repo");
    if (!repo) throw new InvalidArgument("repository name must have at least one component");
    await d.images.images.tag(c.params.name!, c.query.get("tag") ? `${repo}:${c.query.get("tag")}` : repo);
    d.events.emit("image", "tag", c.params.name!, { name: repo });
    return new Status(201);
  });
  r.add("DELETE", "/images/{name*}", async (c) => {
    const items = await d.images.images.remove(c.params.name!, {
      force: flag(c.query, "force"), inUse: (id) => d.runner.store.all().some((x) => x.Image === id),
    });
    if (items.some((x) => "Deleted" in x)) await d.images.collect();
    for (const x of items) d.events.emit("image", "Deleted" in x ? "delete" : "untag", String(Object.values(x)[0]), {});
    return items;
  });
  const save = async (c: Ctx, names: string[]): Promise<Status> => {
    if (!names.length) throw new InvalidArgument("no images given");
    // 404 before the stream starts; with `platform`, an image of another platform is refused
    // (berth's images hold one platform each, so there is nothing else to pick).
    const want = c.query.get("platform") ? parsePlatform(c.query.get("platform")!) : undefined;
    for (const n of names) {
      const img = await d.images.inspect(n);
      const have = inspectPlatform(img);
      if (want && !platformMatches(want, have)) throw new NotFound(`image ${n} is ${formatPlatform(have)}, not ${formatPlatform(want)}: nothing to save for that platform`);
    }
    c.res!.writeHead(200, { "Content-Type": "application/x-tar" });
    try {
      for await (const chunk of saveImages(d.images, names)) await writeOrAbort(c.res!, chunk);
    } catch (e) {
      if (!c.res!.destroyed) throw e;
    }
    c.res!.end();
    return new Status(0);
  };
  r.add("GET", "/images/get", (c) => save(c, c.query.getAll("names")));
  r.add("GET", "/images/{name*}/get", (c) => save(c, [c.params.name!]));
  r.add("POST", "/images/load", async (c) => {
    const lines = await loadImages(d.images, c.req);
    for (const l of lines) d.events.emit("image", "load", l.replace(/^Loaded image( ID)?: /, ""), {});
    c.res!.writeHead(200, { "Content-Type": "application/json" });
    c.res!.end(lines.map((l) => JSON.stringify({ stream: `${l}\n` })).join("\n") + "\n");
    return new Status(0);
  });
  r.add("POST", "/images/prune", async (c) => {
    const f = parseFilters(c.query);
    const all = (f.dangling ?? []).includes("false");
    // Images the filters (until, label) leave out are kept like the ones in use.
    const wanted = pruneFilter(f, ["dangling"]);
    const spared = new Set<string>();
    if (wanted) for (const img of await d.images.images.list()) {
      const i = await d.images.images.inspect(img.id);
      if (!wanted({ created: Date.parse(i.Created ?? "") / 1000 || 0, labels: (i.Config as { Labels?: Record<string, string> } | null)?.Labels })) spared.add(img.id);
    }
    const inUse = (id: string): boolean => spared.has(id) || d.runner.store.all().some((x) => x.Image === id);
    let items;
    if (all) {
      items = [];
      for (const img of await d.images.images.list()) if (!inUse(img.id)) items.push(...await d.images.images.remove(img.id, { force: true, inUse }));
    } else {
      const cache = d.buildCache();
      items = await d.images.images.prune({ inUse: (id) => inUse(id) || cache.has(id) });
    }
    const { bytesFreed } = await d.images.collect();
    return { ImagesDeleted: items, SpaceReclaimed: bytesFreed };
  });
  r.add("GET", "/system/df", async () => {
    const images = [];
    const cache = d.buildCache();
    const buildCache = [];
    for (const img of await d.images.images.list()) {
      const i = await d.images.images.inspect(img.id);
      if (cache.has(i.Id) && !(i.RepoTags ?? []).length) {
        // A build's intermediate image: counted as build cache, as docker's df does.
        const own = await d.images.ownSize(i.Id);
        buildCache.push({ ID: i.Id.replace(/^sha256:/, "").slice(0, 25), Parent: "", Type: "regular", Description: own.createdBy, InUse: false, Shared: false, Size: own.size, CreatedAt: own.created, LastUsedAt: null, UsageCount: 0 });
        continue;
      }
      images.push({ Id: i.Id, ParentId: "", RepoTags: i.RepoTags ?? [], RepoDigests: i.RepoDigests ?? [], Created: Math.floor(Date.parse(i.Created ?? "") / 1000) || 0,
        Size: i.Size ?? 0, SharedSize: 0, VirtualSize: i.Size ?? 0, Labels: {}, Containers: d.runner.store.all().filter((x) => x.Image === i.Id).length });
    }
    // docker's container summary (ps's), with the sizes df is about.
    const containers = await Promise.all(d.runner.store.all().map(async (x) => ({ ...summaryView(x), Image: x.ImageName ?? x.Image, ...(await d.runner.sizes(x.Id)) })));
    const volumes = await Promise.all(d.volumes.list().map(async (v) => ({ ...v, UsageData: { Size: await treeSize(v.Mountpoint), RefCount: d.runner.store.all().filter((x) => x.MountPoints.some((m) => m.Name === v.Name)).length } })));
    return { LayersSize: images.reduce((a, i) => a + i.Size, 0), Images: images, Containers: containers, Volumes: volumes, BuildCache: buildCache };
  });
  r.add("POST", "/images/create", async (c) => {
    const src = c.query.get("fromSrc");
    const res = c.res!;
    res.writeHead(200, { "Content-Type": "application/json" }).flushHeaders();
    try {
      if (src) {
        // fromSrc=- : the tar is the body; otherwise a URL berthd downloads (docker import URL).
        let body: Readable = c.req;
        if (src !== "-") {
          if (!/^https?:\/\//.test(src)) throw new InvalidArgument(`fromSrc ${src}: expected - or an http(s) URL`);
          const r = await fetch(src, { redirect: "follow" }).catch((e: Error & { cause?: Error }) => { throw new InvalidArgument(`import ${src}: ${e.cause?.message ?? e.message}`); });
          if (!r.ok || !r.body) throw new InvalidArgument(`import ${src}: ${r.status} ${r.statusText}`);
          body = Readable.fromWeb(r.body as import("node:stream/web").ReadableStream);
        }
        const ref = c.query.get("repo") ? `${c.query.get("repo")}${c.query.get("tag") ? `:${c.query.get("tag")}` : ""}` : undefined;
        const changes = c.query.getAll("changes").flatMap((x) => x.split("\n")).filter((x) => x.trim());
        const config = applyChanges({ Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] }, changes);
        const id = await d.images.importRootfs(body, { reference: ref, message: c.query.get("message") ?? undefined, config, source: src, platform: c.query.get("platform") || undefined });
        d.events.emit("image", "import", id, {});
        res.end(JSON.stringify({ status: id }) + "\n");
        return new Status(0);
      }
      // docker pull -a sends the bare name (maybe with a trailing ':') and no tag.
      const image = c.query.get("fromImage")?.replace(/:$/, "");
      if (!image) throw new InvalidArgument("fromImage or fromSrc is required");
      const tag = c.query.get("tag");
      const named = parseReference(image, { defaultTag: false });
      // As dockerd: a name with no tag and no digest, given no tag, is every tag of the repository.
      const refs = tag ? [tag.startsWith("sha256:") ? `${image}@${tag}` : `${image}:${tag}`]
        : named.tag || named.digest ? [image]
        : (await d.images.remoteTags(image, registryAuth(c))).map((t) => `${image}:${t}`);
      if (refs.length === 0) throw new NotFound(`${familiarString(named)}: the repository has no tags`);
      let changed = false;
      for (const ref of refs) {
        const r = parseReference(ref);
        res.write(JSON.stringify({ status: `Pulling from ${familiarString(r).replace(/[:@][^:/]+$/, "")}`, id: r.digest ?? r.tag ?? "latest" }) + "\n");
        const before = await d.images.inspect(ref).then((i) => i.Id, () => undefined);
        const { id, digest } = await d.images.pull(ref, {
          auth: registryAuth(c), platform: c.query.get("platform") || undefined,
          onProgress: (e) => res.write(progressLine(e)),
        });
        changed ||= id !== before;
        res.write(JSON.stringify({ status: `Digest: ${digest}` }) + "\n");
        d.events.emit("image", "pull", ref, {});
      }
      const name = refs.length > 1 ? familiarString(named) : familiarString(parseReference(refs[0]!));
      res.end(JSON.stringify({ status: changed ? `Status: Downloaded newer image for ${name}` : `Status: Image is up to date for ${name}` }) + "\n");
    } catch (e) {
      res.end(JSON.stringify({ errorDetail: { message: (e as Error).message }, error: (e as Error).message }) + "\n");
    }
    return new Status(0);
  });

  r.add("POST", "/images/{name*}/push", async (c) => {
    const tag = c.query.get("tag");
    const ref = tag ? `${c.params.name}:${tag}` : c.params.name!;
    await d.images.inspect(ref); // a missing image is a 404 before the stream starts
    const res = c.res!;
    res.writeHead(200, { "Content-Type": "application/json" }).flushHeaders();
    try {
      res.write(JSON.stringify({ status: `The push refers to repository [${familiarString(parseReference(ref)).replace(/:[^:/]+$/, "")}]` }) + "\n");
      const r = await d.images.push(ref, {
        auth: registryAuth(c),
        // The final "<tag>: digest: …" line is written once, below, as docker does.
        onProgress: (e) => e.status.includes(": digest: ") || res.write(progressLine(e)),
      });
      res.write(JSON.stringify({ status: `${tag ?? "latest"}: digest: ${r.digest} size: ${r.size}` }) + "\n");
      res.end(JSON.stringify({ progressDetail: {}, aux: { Tag: tag ?? "latest", Digest: r.digest, Size: r.size } }) + "\n");
      d.events.emit("image", "push", ref, {});
    } catch (e) {
      res.end(JSON.stringify({ errorDetail: { message: (e as Error).message }, error: (e as Error).message }) + "\n");
    }
    return new Status(0);
  });

  r.add("POST", "/auth", async (c) => {
    const body = await c.body() as { username?: string; password?: string; serveraddress?: string };
    if (!body.username || !body.password) throw new InvalidArgument("username and password are required");
    await d.images.checkLogin(body.serveraddress || "docker.io", { username: body.username, password: body.password }).catch((e) => {
      throw new Unauthenticated(`login attempt to ${body.serveraddress} failed: ${(e as Error).message}`);
    });
    return { Status: "Login Succeeded", IdentityToken: "" };
  });

  // ---- volumes ----
  r.add("GET", "/volumes", (c) => {
    const f = parseFilters(c.query);
    for (const k of Object.keys(f)) if (!["name", "label", "dangling", "driver"].includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
    const Volumes = d.volumes.list().filter((v) =>
      (!f.name || f.name.some((n) => v.Name.includes(n))) &&
      (!f.label || f.label.every((l) => labelMatches(l, v.Labels))) &&
      (!f.driver || f.driver.includes(v.Driver)) &&
      (!f.dangling || (d.runner.volumeUsers(v.Name).length === 0) === (f.dangling.includes("true") || f.dangling.includes("1"))));
    return { Volumes, Warnings: [] };
  });
  r.add("POST", "/volumes/create", async (c) => {
    const b = await c.body();
    const v = await d.volumes.create(b.Name || undefined, { labels: b.Labels, driver: b.Driver, options: b.DriverOpts });
    d.events.emit("volume", "create", v.Name, { driver: "local" });
    return new Status201(v);
  });
  r.add("GET", "/volumes/{name}", (c) => d.volumes.inspect(c.params.name!));
  r.add("DELETE", "/volumes/{name}", async (c) => {
    await d.volumes.remove(c.params.name!, { force: flag(c.query, "force"), inUse: (n) => d.runner.volumeUsers(n) });
    d.events.emit("volume", "destroy", c.params.name!, { driver: "local" });
    return new Status(204);
  });
  r.add("POST", "/volumes/prune", async (c) => {
    const f = parseFilters(c.query);
    const wanted = pruneFilter(f, ["all"]);
    return d.volumes.prune({
      inUse: (n) => d.runner.volumeUsers(n), all: (f.all ?? []).includes("true") || (f.all ?? []).includes("1"),
      wanted: wanted && ((v) => wanted({ created: Date.parse(v.CreatedAt) / 1000, labels: v.Labels })),
    });
  });
}

/** A JSON body answered with 201 Created. */
export class Status201 {
  constructor(readonly body: unknown) {}
}

/**
 * docker's `reference` image filter: a glob (`*` and `?` not crossing "/") matched against an
 * image's familiar name with its tag ("busybox:latest") and without it ("busybox").
 */
export function referenceMatches(pattern: string, repoTag: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")}$`);
  const name = repoTag.replace(/:[^:/]+$/, "");
  return re.test(repoTag) || re.test(name);
}
