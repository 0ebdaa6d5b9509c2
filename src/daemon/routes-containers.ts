/** Docker Engine API: /containers and /exec. */
import type { Socket } from "node:net";
import { Conflict, InvalidArgument } from "../errdefs.js";
import type { ContainerRunner } from "../engine/container-runner.js";
import { inspectView, summaryView } from "../engine/container-view.js";
import type { ExecManager } from "../engine/exec.js";
import { logDetails, readLogs } from "../engine/logs.js";
import { lookupUser } from "../engine/user-lookup.js";
import { archivePath, extractInto, resolveContainerPath, statPath, type PathStat } from "../engine/archive.js";
import { dockerStats, systemCpuNs, top, type StatsSample } from "../engine/stats.js";
import type { Runtime } from "../runtime/runtime.js";
import { DEFAULT_DETACH_KEYS, DetachFilter, parseDetachKeys } from "./detach-keys.js";
import { Status201 } from "./routes-system.js";
import { writeOrAbort } from "./http.js";
import { frame } from "../stream-frames.js";
import { flag, labelMatches, parseFilters, pruneFilter, Status, upgradeHeaders, type Ctx, type Router } from "./http.js";

export interface ContainerDeps { runner: ContainerRunner; exec: ExecManager; runtime: Runtime }

/**
 * Splices a client connection and a shim socket; either end closing closes the other. The
 * client's input passes a detach-key filter: the sequence ends the attachment only.
 */
function splice(client: NonNullable<Ctx["socket"]>, shim: Socket, stdin: boolean, detachKeys: Buffer): void {
  shim.pipe(client);
  if (stdin) {
    const filter = new DetachFilter(detachKeys);
    client.pipe(filter).pipe(shim, { end: false });
    // The client half-closes its side when its stdin ends: pass that on.
    filter.on("end", () => shim.end());
    filter.on("detach", () => { client.unpipe(filter); shim.destroy(); client.end(); });
  } else {
    client.resume();
  }
  shim.on("close", () => client.end());
  client.on("close", () => shim.destroy());
  client.on("error", () => shim.destroy());
  shim.on("error", () => client.destroy());
}

function matches(c: ReturnType<ContainerRunner["store"]["all"]>[number], f: Record<string, string[]>): boolean {
  for (const [k, vs] of Object.entries(f)) {
    // Several label filters must all match (docker's); several of any other kind, one of them.
    if (k === "label") {
      if (!vs.every((v) => labelMatches(v, c.Config.Labels as Record<string, string>))) return false;
      continue;
    }
    const ok = vs.some((v) => {
      switch (k) {
        case "status": return c.State.Status === v;
        case "name": return c.Name.slice(1).includes(v.replace(/^\//, ""));
        case "id": return c.Id.startsWith(v);
        case "ancestor": return c.ImageName === v || c.Image === v || c.Image.startsWith(`sha256:${v}`);
        case "exited": return c.State.Status === "exited" && String(c.State.ExitCode) === v;
        default: throw new InvalidArgument(`invalid filter '${k}'`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

export function containerRoutes(r: Router, d: ContainerDeps): void {
  const { runner, exec } = d;
  r.add("POST", "/containers/create", async (c) => runner.create(c.query.get("name") ?? undefined, await c.body(), { platform: c.query.get("platform") || undefined }));
  r.add("GET", "/containers/json", (c) => {
    const f = parseFilters(c.query);
    const all = flag(c.query, "all") || Object.keys(f).length > 0;
    let list = runner.store.all().filter((x) => (all || x.State.Running) && matches(x, f));
    list.sort((a, b) => b.Created.localeCompare(a.Created));
    const limit = Number(c.query.get("limit") ?? -1);
    if (limit > 0) list = list.slice(0, limit);
    // size=1 (ps -s): each container's SizeRw and SizeRootFs, which cost a walk of its layer.
    if (!flag(c.query, "size")) return list.map((c) => summaryView(c, runner.sandbox(c)));
    return Promise.all(list.map(async (c) => ({ ...summaryView(c, runner.sandbox(c)), ...(await runner.sizes(c.Id)) })));
  });
  r.add("GET", "/containers/{id}/json", async (c) => {
    const rec = runner.store.get(c.params.id!);
    const view = inspectView(rec, { execIds: exec.idsOf(rec.Id), rootfs: runner.rootfsDir(rec.Id), sandbox: runner.sandbox(rec) });
    return flag(c.query, "size") ? { ...view, ...(await runner.sizes(rec.Id)) } : view;
  });
  r.add("POST", "/containers/{id}/start", async (c) => {
    const rec = runner.store.get(c.params.id!);
    if (rec.State.Running) return new Status(304);
    await runner.start(rec.Id);
    return new Status(204);
  });
  r.add("POST", "/containers/{id}/stop", async (c) => {
    const t = c.query.get("t") ?? c.query.get("timeout");
    const stopped = await runner.stop(c.params.id!, { signal: c.query.get("signal") ?? undefined, timeout: t !== null ? Number(t) : undefined });
    return new Status(stopped ? 204 : 304);
  });
  r.add("POST", "/containers/{id}/restart", async (c) => {
    const t = c.query.get("t");
    await runner.restart(c.params.id!, { signal: c.query.get("signal") ?? undefined, timeout: t !== null ? Number(t) : undefined });
    return new Status(204);
  });
  r.add("POST", "/containers/{id}/kill", async (c) => { await runner.kill(c.params.id!, c.query.get("signal") ?? undefined); return new Status(204); });
  r.add("POST", "/containers/{id}/pause", async (c) => { await runner.pause(c.params.id!); return new Status(204); });
  r.add("POST", "/containers/{id}/unpause", async (c) => { await runner.unpause(c.params.id!); return new Status(204); });
  r.add("POST", "/containers/{id}/update", async (c) => runner.update(c.params.id!, await c.body()));
  r.add("POST", "/containers/{id}/rename", async (c) => { await runner.rename(c.params.id!, c.query.get("name") ?? ""); return new Status(204); });
  r.add("POST", "/containers/{id}/wait", async (c) => {
    const cond = (c.query.get("condition") ?? "not-running") as "not-running" | "next-exit" | "removed";
    if (!["not-running", "next-exit", "removed"].includes(cond)) throw new InvalidArgument(`invalid condition: "${cond}"`);
    const id = runner.store.get(c.params.id!).Id; // a missing container is a 404, before the 200 goes out
    const ac = new AbortController();
    c.req.socket.once("close", () => ac.abort());
    // Headers go out now, the body when the container stops (docker's clients expect that).
    c.res!.writeHead(200, { "Content-Type": "application/json" }).flushHeaders();
    const out = await runner.wait(id, cond, ac.signal).catch(() => undefined);
    if (out) c.res!.end(JSON.stringify({ StatusCode: out.StatusCode, Error: out.Error ?? null }));
    return new Status(0);
  });
  r.add("DELETE", "/containers/{id}", async (c) => {
    if (flag(c.query, "link")) throw new InvalidArgument("container links are not supported by berth: there is no link to remove");
    await runner.remove(c.params.id!, { force: flag(c.query, "force"), volumes: flag(c.query, "v") });
    return new Status(204);
  });
  r.add("POST", "/containers/{id}/resize", async (c) => {
    const rec = runner.store.get(c.params.id!);
    if (!rec.State.Running) throw new Conflict(`Container ${rec.Id} is not running`);
    await runner.control(rec.Id, `resize ${Number(c.query.get("h"))} ${Number(c.query.get("w"))}`);
    return new Status(200);
  });
  r.add("POST", "/containers/{id}/attach", async (c) => {
    const rec = runner.store.get(c.params.id!);
    if (!c.socket) throw new InvalidArgument("attach needs a hijackable connection (Upgrade: tcp)");
    if (c.head?.length) c.socket.unshift(c.head); // input the client sent with the request
    const keys = parseDetachKeys(c.query.get("detachKeys") || DEFAULT_DETACH_KEYS);
    const pending = runner.attach(rec.Id);
    // Answer the upgrade at once: docker's CLI starts the container only after this.
    upgradeHeaders(c.socket, !!rec.Config.Tty, c.req.headers.upgrade !== undefined);
    const shim = await pending;
    if (!shim) { c.socket.end(); return new Status(0); }
    splice(c.socket, shim, flag(c.query, "stdin"), keys);
    return new Status(0);
  });
  r.add("GET", "/containers/{id}/logs", async (c) => {
    const rec = runner.store.get(c.params.id!);
    const out = flag(c.query, "stdout"), err = flag(c.query, "stderr");
    if (!out && !err) throw new InvalidArgument("You must choose at least one stream");
    if (rec.HostConfig.LogConfig?.Type === "none") throw new InvalidArgument("configured logging driver does not support reading");
    const tty = !!rec.Config.Tty;
    const ts = flag(c.query, "timestamps");
    // --details: docker puts the line's attributes (or nothing) and a space before each line.
    const details = flag(c.query, "details") ? Buffer.from(`${logDetails((rec.HostConfig.LogConfig?.Config ?? {}) as Record<string, string>, (rec.Config.Labels ?? {}) as Record<string, string>, (rec.Config.Env ?? []) as string[])} `) : undefined;
    const tail = c.query.get("tail");
    const ac = new AbortController();
    c.req.socket.once("close", () => ac.abort());
    c.res!.writeHead(200, { "Content-Type": tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream" }).flushHeaders();
    for await (const e of readLogs(rec.LogPath, {
      tail: tail && tail !== "all" ? Number(tail) : undefined, since: Number(c.query.get("since") ?? 0) || undefined, until: Number(c.query.get("until") ?? 0) || undefined,
      follow: flag(c.query, "follow"), running: () => runner.store.has(rec.Id) && runner.store.get(rec.Id).State.Running, signal: ac.signal,
    })) {
      if ((e.stream === "stdout" && !out) || (e.stream === "stderr" && !err)) continue;
      const line = details ? Buffer.concat([details, e.data]) : e.data;
      const data = ts ? Buffer.concat([Buffer.from(`${e.time} `), line]) : line;
      c.res!.write(tty ? data : frame(e.stream, data));
    }
    c.res!.end();
    return new Status(0);
  });
  r.add("GET", "/containers/{id}/top", async (c) => {
    const rec = runner.store.get(c.params.id!);
    if (!rec.State.Running) throw new Conflict(`Container ${rec.Id} is not running`);
    return top(await d.runtime.cgroupOf(rec.Id).pids(), c.query.get("ps_args") ?? "-ef");
  });
  r.add("GET", "/containers/{id}/stats", async (c) => {
    const rec = runner.store.get(c.params.id!);
    const stream = c.query.get("stream") === null ? true : flag(c.query, "stream");
    const sample = async (): Promise<StatsSample | undefined> => {
      if (!runner.store.get(rec.Id).State.Running) return undefined;
      return { stats: await d.runtime.cgroupOf(rec.Id).stats(), system: systemCpuNs(), read: new Date().toISOString() };
    };
    c.res!.writeHead(200, { "Content-Type": "application/json" }).flushHeaders();
    let prev = flag(c.query, "one-shot") ? undefined : await sample().catch(() => undefined);
    if (prev && !flag(c.query, "one-shot")) await new Promise((res) => setTimeout(res, stream ? 1000 : 500));
    for (let closed = false; !closed;) {
      const cur = await sample().catch(() => undefined);
      const doc = cur ? dockerStats(rec.Id, rec.Name, rec.State.Pid, cur, prev) : { id: rec.Id, name: rec.Name, read: new Date().toISOString() };
      c.res!.write(JSON.stringify(doc) + "\n");
      if (!stream || !cur) break;
      prev = cur;
      await new Promise((res) => setTimeout(res, 1000));
      closed = c.req.socket.destroyed;
    }
    c.res!.end();
    return new Status(0);
  });
  // docker cp: HEAD (stat), GET (a tar of a path), PUT (a tar extracted into a directory).
  const pathStat = async (id: string, path: string) => runner.withFilesystem(id, async (rootfs, mounts) => {
    const host = resolveContainerPath(rootfs, mounts, path, { followLast: false });
    return { host, stat: await statPath(host, path) };
  });
  const statHeader = (s: PathStat): string => Buffer.from(JSON.stringify(s)).toString("base64");
  r.add("HEAD", "/containers/{id}/archive", async (c) => {
    const path = c.query.get("path");
    if (!path) throw new InvalidArgument("path is required");
    const { stat } = await pathStat(c.params.id!, path);
    c.res!.writeHead(200, { "X-Docker-Container-Path-Stat": statHeader(stat), "Content-Type": "application/x-tar" }).end();
    return new Status(0);
  });
  r.add("GET", "/containers/{id}/archive", async (c) => {
    const path = c.query.get("path");
    if (!path) throw new InvalidArgument("path is required");
    await runner.withFilesystem(c.params.id!, async (rootfs, mounts) => {
      const host = resolveContainerPath(rootfs, mounts, path, { followLast: false });
      const stat = await statPath(host, path);
      // A client gone half-way ends the stream (and frees the container); that is not an error.
      c.res!.writeHead(200, { "X-Docker-Container-Path-Stat": statHeader(stat), "Content-Type": "application/x-tar" });
      try {
        for await (const chunk of archivePath(host, path)) await writeOrAbort(c.res!, chunk);
      } catch (e) {
        if (!c.res!.destroyed) throw e;
      }
      c.res!.end();
    });
    return new Status(0);
  });
  r.add("PUT", "/containers/{id}/archive", async (c) => {
    const path = c.query.get("path");
    if (!path) throw new InvalidArgument("path is required");
    const rec = runner.store.get(c.params.id!);
    const paused = rec.State.Running && !rec.State.Paused;
    // Paused while we write, as docker: the container cannot swap a path for a symlink meanwhile.
    if (paused) await runner.pause(rec.Id);
    try {
      await runner.withFilesystem(rec.Id, async (rootfs, mounts) => {
        if (rec.HostConfig.ReadonlyRootfs && !mounts.some((m) => path.startsWith(m.destination))) throw new Conflict("container rootfs is marked read-only");
        // copyUIDGID (cp -a): the container's user owns what is copied in; otherwise root does.
        const user = flag(c.query, "copyUIDGID") && rec.Config.User ? lookupUser(rootfs, String(rec.Config.User)) : { uid: 0, gid: 0 };
        await extractInto(resolveContainerPath(rootfs, mounts, path), path, c.req, { uid: user.uid, gid: user.gid });
      });
    } finally {
      if (paused) await runner.unpause(rec.Id).catch(() => {});
    }
    return new Status(200);
  });
  r.add("POST", "/containers/prune", async (c) => {
    const wanted = pruneFilter(parseFilters(c.query));
    const deleted: string[] = [];
    for (const x of runner.store.all()) {
      if (x.State.Running || x.State.Paused || x.State.Restarting || x.State.Status === "removing") continue;
      if (wanted && !wanted({ created: Date.parse(x.Created) / 1000, labels: x.Config.Labels })) continue;
      await runner.remove(x.Id, {}).then(() => deleted.push(x.Id), () => {});
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: 0 };
  });
  r.add("GET", "/containers/{id}/changes", (c) => runner.changes(c.params.id!));
  r.add("GET", "/containers/{id}/export", async (c) => {
    runner.store.get(c.params.id!);
    c.res!.writeHead(200, { "Content-Type": "application/x-tar" });
    await runner.export(c.params.id!, (chunk) => writeOrAbort(c.res!, chunk)).catch(() => {});
    c.res!.end();
    return new Status(0);
  });
  r.add("POST", "/commit", async (c) => {
    const container = c.query.get("container");
    if (!container) throw new InvalidArgument("container is required");
    const repo = c.query.get("repo"), tag = c.query.get("tag");
    const body = await c.body();
    const id = await runner.commit(container, {
      reference: repo ? `${repo}${tag ? `:${tag}` : ""}` : undefined, comment: c.query.get("comment") ?? undefined,
      author: c.query.get("author") ?? undefined, pause: c.query.get("pause") === null ? true : flag(c.query, "pause"),
      changes: c.query.getAll("changes").flatMap((x) => x.split("\n")).filter((x) => x.trim()), config: Object.keys(body).length ? body : undefined,
    });
    return new Status201({ Id: id });
  });
  r.add("POST", "/containers/{id}/exec", async (c) => exec.create(c.params.id!, await c.body()));
  r.add("POST", "/exec/{id}/start", async (c) => {
    const body = await c.body();
    const e = exec.get(c.params.id!);
    if (body.Detach || !c.socket) {
      await exec.start(e.ID, { detach: true, tty: body.Tty });
      return new Status(200);
    }
    // As dockerd: the connection is hijacked first, and a failure to start is written into it
    // (the client then reads the exit code, 126 or 127, from the exec's inspect).
    const tty = !!(body.Tty ?? e.Config.Tty);
    const keys = parseDetachKeys(e.Config.DetachKeys || DEFAULT_DETACH_KEYS);
    upgradeHeaders(c.socket, tty, c.req.headers.upgrade !== undefined);
    let shim: Socket | undefined;
    try {
      shim = await exec.start(e.ID, { tty: body.Tty });
    } catch (err) {
      const msg = Buffer.from(`${(err as Error).message}\r\n`);
      c.socket.end(tty ? msg : frame("stdout", msg));
      return new Status(0);
    }
    if (shim) splice(c.socket, shim, !!e.Config.AttachStdin, keys);
    else c.socket.end();
    return new Status(0);
  });
  r.add("GET", "/exec/{id}/json", (c) => exec.inspect(c.params.id!));
  r.add("POST", "/exec/{id}/resize", async (c) => { await exec.resize(c.params.id!, Number(c.query.get("h")), Number(c.query.get("w"))); return new Status(200); });
}
