/**
 * berth: docker's commands and flags, as a thin client of berthd. `berth daemon` runs berthd in the
 * foreground. The daemon is found at -H/--host, $BERTH_HOST, or /run/berth/berth.sock, and that
 * default one is started when it is not running.
 */
import { fileURLToPath } from "node:url";
import { b, bool, filterFlags, l, list, needArgs, parseArgs, s, str, unixTime } from "./args.js";
import { Client, DEFAULT_SOCKET, jsonLines } from "./client.js";
import { CliError, ExitCode } from "./errors.js";
import { confirm } from "./stdio.js";
import { ago, humanSize, printRows, shortId, table } from "./format.js";

type Cmd = (c: Client, argv: string[]) => Promise<void>;

const USAGE = `Usage:  berth [OPTIONS] COMMAND

A container engine with docker's commands.

Options:
  -H, --host string   Daemon socket to connect to (unix://PATH; default $BERTH_HOST or unix://${DEFAULT_SOCKET})
  -v, --version       Print version information and quit

Containers:  run create start stop restart kill rm ps logs exec attach inspect top stats pause unpause wait rename update cp diff commit export
Images:      images pull push tag rmi import history save load login logout
Volumes:     volume create|ls|inspect|rm|prune
Networks:    network create|ls|inspect|rm|prune|connect|disconnect, port
Build:       build, builder prune
System:      version info events daemon, system df|prune
Forms:       berth container ls|rm|prune|..., berth image ls|rm|pull|prune|..., berth system info|df
`;

const version: Cmd = async (c, argv) => {
  const p = parseArgs("version", argv, [s("format", "f")]);
  const client = { Version: "0.1.0", ApiVersion: "1.45", Os: process.platform, Arch: process.arch === "x64" ? "amd64" : process.arch, NodeVersion: process.version };
  const server = await c.json("GET", "/version").catch((e) => { if (str(p, "format")) throw e; return { error: (e as Error).message }; });
  if (str(p, "format")) {
    const { template } = await import("./format.js");
    process.stdout.write(`${template(str(p, "format")!).render({ Client: client, Server: server })}\n`);
    return;
  }
  process.stdout.write(`Client:\n Version:     ${client.Version}\n API version: ${client.ApiVersion}\n Node:        ${client.NodeVersion}\n OS/Arch:     ${client.Os}/${client.Arch}\n\n`);
  if ((server as { error?: string }).error) throw new CliError((server as { error: string }).error, 1);
  process.stdout.write(`Server:\n Engine:\n  Version:     ${server.Version}\n  API version: ${server.ApiVersion} (minimum version ${server.MinAPIVersion})\n  Kernel:      ${server.KernelVersion}\n  OS/Arch:     ${server.Os}/${server.Arch}\n`);
};

const info: Cmd = async (c, argv) => {
  const p = parseArgs("info", argv, [s("format", "f")]);
  const i = await c.json("GET", "/info");
  if (str(p, "format")) {
    const { template } = await import("./format.js");
    process.stdout.write(`${template(str(p, "format")!).render(i)}\n`);
    return;
  }
  const lines = [
    "Server:",
    ` Containers: ${i.Containers}`, `  Running: ${i.ContainersRunning}`, `  Paused: ${i.ContainersPaused}`, `  Stopped: ${i.ContainersStopped}`,
    ` Images: ${i.Images}`, ` Server Version: ${i.ServerVersion}`, ` Storage Driver: ${i.Driver}`,
    ` Cgroup Driver: ${i.CgroupDriver}`, ` Cgroup Version: ${i.CgroupVersion}`, ` Kernel Version: ${i.KernelVersion}`,
    ` Operating System: ${i.OperatingSystem}`, ` CPUs: ${i.NCPU}`, ` Total Memory: ${(i.MemTotal / 1024 ** 3).toFixed(2)}GiB`,
    ` Docker Root Dir: ${i.DockerRootDir}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  for (const w of i.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
};

const volume: Cmd = async (c, argv) => {
  const [sub = "", ...rest] = argv;
  switch (sub) {
    case "create": {
      const p = parseArgs("volume create", rest, [s("driver", "d"), l("label"), l("opt", "o"), s("name")]);
      const name = p.args[0] ?? str(p, "name");
      const labels = Object.fromEntries(list(p, "label").map((x) => { const i = x.indexOf("="); return i < 0 ? [x, ""] : [x.slice(0, i), x.slice(i + 1)]; }));
      const opts = Object.fromEntries(list(p, "opt").map((x) => { const i = x.indexOf("="); return [x.slice(0, i), x.slice(i + 1)]; }));
      const v = await c.json("POST", "/volumes/create", { body: { Name: name, Driver: str(p, "driver") ?? "local", Labels: labels, DriverOpts: opts } });
      process.stdout.write(`${v.Name}\n`);
      return;
    }
    case "ls": case "list": {
      const p = parseArgs("volume ls", rest, [b("quiet", "q"), s("format"), l("filter", "f")]);
      const r = await c.json("GET", "/volumes", { query: { filters: filterFlags(p) } });
      const rows = (r.Volumes ?? []).map((v: any) => ({ Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, Labels: Object.entries(v.Labels ?? {}).map(([k, x]) => `${k}=${x}`).join(",") }));
      if (bool(p, "quiet")) { for (const v of rows) process.stdout.write(`${v.Name}\n`); return; }
      printRows(rows, str(p, "format"), { header: ["DRIVER", "VOLUME NAME"], cells: (v) => [String(v.Driver), String(v.Name)] });
      return;
    }
    case "inspect": {
      const p = parseArgs("volume inspect", rest, [s("format", "f")]);
      needArgs("volume inspect", p, 1);
      const out = [];
      for (const n of p.args) out.push(await c.json("GET", `/volumes/${n}`));
      if (str(p, "format")) { const { template } = await import("./format.js"); for (const v of out) process.stdout.write(`${template(str(p, "format")!).render(v)}\n`); return; }
      process.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
      return;
    }
    case "rm": case "remove": {
      const p = parseArgs("volume rm", rest, [b("force", "f")]);
      needArgs("volume rm", p, 1);
      let failed = false;
      for (const n of p.args) {
        try { await c.json("DELETE", `/volumes/${n}`, { query: { force: bool(p, "force") ? 1 : undefined } }); process.stdout.write(`${n}\n`); } catch (e) { if (!(e instanceof CliError)) throw e; failed = true; process.stderr.write(`${e.message}\n`); }
      }
      if (failed) throw new ExitCode(1);
      return;
    }
    case "prune": {
      const p = parseArgs("volume prune", rest, [b("force", "f"), b("all", "a"), l("filter")]);
      const q = bool(p, "all") ? "all local volumes not used by at least one container" : "anonymous local volumes not used by at least one container";
      if (!bool(p, "force") && !(await confirm(`WARNING! This will remove ${q}.\nAre you sure you want to continue?`))) return;
      const r = await c.json("POST", "/volumes/prune", { query: { filters: filtersWith(p, bool(p, "all") ? { all: ["true"] } : {}) } });
      const del: string[] = r.VolumesDeleted ?? [];
      if (del.length) process.stdout.write(`Deleted Volumes:\n${del.join("\n")}\n\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
      return;
    }
    default:
      throw new CliError(sub ? `berth volume: unknown command "${sub}"\nSee 'berth volume --help'.` : "Usage:  berth volume COMMAND (create, ls, inspect, rm, prune)");
  }
};

const CONTAINER_CMDS = ["run", "create", "start", "stop", "restart", "kill", "rm", "ps", "logs", "exec", "attach", "inspect", "top", "stats", "pause", "unpause", "wait", "rename", "update", "cp", "diff", "commit", "export"];
const IMAGE_CMDS = ["images", "pull", "push", "tag", "rmi", "import", "history", "save", "load", "login", "logout"];

/** Loads only the module a command lives in: the CLI's start is mostly module loading. */
async function command(name: string): Promise<Cmd | undefined> {
  if (CONTAINER_CMDS.includes(name)) return (await import("./containers.js")).containerCommands[name];
  if (IMAGE_CMDS.includes(name)) return (await import("./images.js")).imageCommands[name];
  if (name === "network" || name === "port") return (await import("./networks.js"))[name];
  if (name === "build" || name === "builder-prune") return (await import("./build.js"))[name === "build" ? "build" : "builderPrune"];
  return ({ version, info, volume, events, "container-prune": prune("container"), "image-prune": prune("image"), "system-df": df, "system-prune": systemPrune } as Record<string, Cmd>)[name];
}

/** --filter flags with `extra` added, as the API's `filters` JSON (undefined when there are none). */
function filtersWith(p: Parameters<typeof filterFlags>[0], extra: Record<string, string[]>): string | undefined {
  const f: Record<string, string[]> = JSON.parse(filterFlags(p) ?? "{}");
  for (const [k, v] of Object.entries(extra)) f[k] = [...(f[k] ?? []), ...v];
  return Object.keys(f).length ? JSON.stringify(f) : undefined;
}


const prune = (what: "container" | "image"): Cmd => async (c, argv) => {
  const p = parseArgs(`${what} prune`, argv, [b("force", "f"), b("all", "a"), l("filter")]);
  const q = what === "image" && bool(p, "all") ? "all images without at least one container associated to them" : what === "image" ? "all dangling images" : "all stopped containers";
  if (!bool(p, "force") && !(await confirm(`WARNING! This will remove ${q}.\nAre you sure you want to continue?`))) return;
  if (what === "container") {
    const r = await c.json("POST", "/containers/prune", { query: { filters: filterFlags(p) } });
    if (r.ContainersDeleted?.length) process.stdout.write(`Deleted Containers:\n${r.ContainersDeleted.join("\n")}\n\n`);
    process.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
    return;
  }
  const r = await c.json("POST", "/images/prune", { query: { filters: filtersWith(p, bool(p, "all") ? { dangling: ["false"] } : {}) } });
  const items = (r.ImagesDeleted ?? []) as { Untagged?: string; Deleted?: string }[];
  if (items.length) process.stdout.write(`Deleted Images:\n${items.map((x) => (x.Untagged ? `untagged: ${x.Untagged}` : `deleted: ${x.Deleted}`)).join("\n")}\n\n`);
  process.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
};

/** docker system prune: stopped containers, unused networks, dangling (-a: unused) images, build cache; --volumes too. */
const systemPrune: Cmd = async (c, argv) => {
  const p = parseArgs("system prune", argv, [b("force", "f"), b("all", "a"), b("volumes"), l("filter")]);
  const what = ["all stopped containers", "all networks not used by at least one container", ...(bool(p, "volumes") ? ["all anonymous volumes not used by at least one container"] : []),
    bool(p, "all") ? "all images without at least one container associated to them" : "all dangling images", "unused build cache"];
  if (bool(p, "volumes") && list(p, "filter").some((f) => f.startsWith("until="))) throw new CliError(`ERROR: The "until" filter is not supported with "--volumes"`);
  if (!bool(p, "force") && !(await confirm(`WARNING! This will remove:\n${what.map((w) => `  - ${w}`).join("\n")}\n\nAre you sure you want to continue?`))) return;
  let space = 0;
  const section = (title: string, items: string[]): void => { if (items.length) process.stdout.write(`${title}:\n${items.join("\n")}\n\n`); };
  const containers = await c.json("POST", "/containers/prune", { query: { filters: filterFlags(p) } });
  section("Deleted Containers", containers.ContainersDeleted ?? []);
  space += containers.SpaceReclaimed ?? 0;
  section("Deleted Networks", (await c.json("POST", "/networks/prune", { query: { filters: filterFlags(p) } })).NetworksDeleted ?? []);
  if (bool(p, "volumes")) {
    const v = await c.json("POST", "/volumes/prune", { query: { filters: filterFlags(p) } });
    section("Deleted Volumes", v.VolumesDeleted ?? []);
    space += v.SpaceReclaimed ?? 0;
  }
  const images = await c.json("POST", "/images/prune", { query: { filters: filtersWith(p, bool(p, "all") ? { dangling: ["false"] } : {}) } });
  section("Deleted Images", ((images.ImagesDeleted ?? []) as { Untagged?: string; Deleted?: string }[]).map((x) => (x.Untagged ? `untagged: ${x.Untagged}` : `deleted: ${x.Deleted}`)));
  space += images.SpaceReclaimed ?? 0;
  const cache = await c.json("POST", "/build/prune", { query: { filters: filterFlags(p) } });
  section("Deleted build cache objects", cache.CachesDeleted ?? []);
  space += cache.SpaceReclaimed ?? 0;
  process.stdout.write(`Total reclaimed space: ${humanSize(space)}\n`);
};

const df: Cmd = async (c, argv) => {
  const p = parseArgs("system df", argv, [b("verbose", "v"), s("format")]);
  const r = await c.json("GET", "/system/df");
  const imgSize = r.Images.reduce((a: number, i: any) => a + i.Size, 0);
  const activeImgs = r.Images.filter((i: any) => i.Containers > 0);
  const cacheSize = (r.BuildCache ?? []).reduce((a: number, x: any) => a + (x.Size ?? 0), 0);
  const size = (n: number): string => humanSize(n, 4);
  const sum = (xs: number[]): number => xs.reduce((a, x) => a + Math.max(0, x), 0);
  // docker's RECLAIMABLE: the size, and its share of the total when there is one.
  const reclaim = (part: number, total: number): string => total > 0 ? `${size(part)} (${Math.floor((part * 100) / total)}%)` : size(part);
  const ctrSize = sum(r.Containers.map((x: any) => x.SizeRw ?? 0));
  const live = (x: any): boolean => x.State === "running" || x.State === "paused";
  const volSize = sum(r.Volumes.map((v: any) => v.UsageData?.Size ?? 0));
  const rows = [
    { Type: "Images", TotalCount: String(r.Images.length), Active: String(activeImgs.length), Size: size(imgSize), Reclaimable: reclaim(imgSize - sum(activeImgs.map((i: any) => i.Size)), imgSize) },
    { Type: "Containers", TotalCount: String(r.Containers.length), Active: String(r.Containers.filter(live).length), Size: size(ctrSize), Reclaimable: reclaim(sum(r.Containers.filter((x: any) => !live(x)).map((x: any) => x.SizeRw ?? 0)), ctrSize) },
    { Type: "Local Volumes", TotalCount: String(r.Volumes.length), Active: String(r.Volumes.filter((v: any) => v.UsageData.RefCount > 0).length), Size: size(volSize), Reclaimable: reclaim(sum(r.Volumes.filter((v: any) => v.UsageData.RefCount === 0).map((v: any) => v.UsageData.Size)), volSize) },
    { Type: "Build Cache", TotalCount: String((r.BuildCache ?? []).length), Active: "0", Size: size(cacheSize), Reclaimable: size(cacheSize) },
  ];
  if (!bool(p, "verbose")) {
    printRows(rows, str(p, "format"), { header: ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], cells: (x) => [x.Type, x.TotalCount, x.Active, x.Size, x.Reclaimable].map(String) });
    return;
  }
  if (str(p, "format")) throw new CliError("--format and --verbose cannot be used together");
  // -v: docker's four tables, one row per image tag, container, volume and cache record.
  const sz = (n: number): string => humanSize(n, 3);
  const imgRows = r.Images.flatMap((i: any) => {
    const tags: string[] = i.RepoTags?.length ? i.RepoTags : ["<none>:<none>"];
    return tags.map((t) => {
      const at = t.lastIndexOf(":");
      return [t.slice(0, at), t.slice(at + 1), shortId(i.Id), ago(i.Created), sz(i.Size), sz(i.SharedSize ?? 0), sz(i.Size - Math.max(0, i.SharedSize ?? 0)), String(i.Containers)];
    });
  });
  const ctrRows = r.Containers.map((x: any) => [shortId(x.Id), x.Image, `"${x.Command.length > 20 ? `${x.Command.slice(0, 19)}…` : x.Command}"`,
    String((x.Mounts ?? []).filter((m: any) => m.Type === "volume").length), sz(x.SizeRw ?? 0), ago(x.Created), x.Status, (x.Names?.[0] ?? "").replace(/^\//, "")]);
  const volRows = r.Volumes.map((v: any) => [v.Name, String(v.UsageData.RefCount), sz(v.UsageData.Size)]);
  const cacheRows = (r.BuildCache ?? []).map((x: any) => [x.ID, x.Type, sz(x.Size ?? 0), x.CreatedAt ? ago(x.CreatedAt) : "", x.LastUsedAt ? ago(x.LastUsedAt) : "", String(x.UsageCount ?? 0), String(!!x.Shared)]);
  process.stdout.write([
    "Images space usage:\n\n" + table([["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"], ...imgRows]),
    "Containers space usage:\n\n" + table([["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"], ...ctrRows]),
    "Local Volumes space usage:\n\n" + table([["VOLUME NAME", "LINKS", "SIZE"], ...volRows]),
    `Build cache usage: ${size(cacheSize)}\n\n` + table([["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"], ...cacheRows]),
  ].join("\n"));
};

/** docker events: the daemon's stream, as lines or through --format; --since/--until bound it. */
const events: Cmd = async (c, argv) => {
  const p = parseArgs("events", argv, [s("since"), s("until"), l("filter", "f"), s("format")]);
  const res = await c.open("GET", "/events", { query: { since: unixTime("since", str(p, "since")), until: unixTime("until", str(p, "until")), filters: filterFlags(p) } });
  const fmt = str(p, "format");
  const t = fmt ? (await import("./format.js")).template(fmt) : undefined;
  for await (const e of jsonLines(res)) {
    if (t) { process.stdout.write(`${t.render(e)}\n`); continue; }
    const when = new Date(e.timeNano / 1e6).toISOString().replace("Z", "000000Z");
    const attrs = Object.entries(e.Actor?.Attributes ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(", ");
    process.stdout.write(`${when} ${e.Type} ${e.Action} ${e.Actor?.ID ?? ""}${attrs ? ` (${attrs})` : ""}\n`);
  }
};

/** `berth container ls`, `berth image rm`, `berth system info` → the top-level command. */
const FORMS: Record<string, Record<string, string>> = {
  container: { ls: "ps", list: "ps", rm: "rm", remove: "rm", inspect: "inspect", prune: "container-prune" },
  image: { ls: "images", list: "images", rm: "rmi", remove: "rmi", inspect: "inspect", pull: "pull", push: "push", tag: "tag", import: "import", history: "history", prune: "image-prune", save: "save", load: "load" },
  system: { info: "info", df: "system-df", events: "events", prune: "system-prune" },
  builder: { prune: "builder-prune", build: "build" },
};

export async function main(argv: string[]): Promise<number> {
  let host = process.env.BERTH_HOST;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-H" || a === "--host") host = argv[++i];
    else if (a.startsWith("--host=")) host = a.slice(7);
    else if (a === "-v" || a === "--version") { argv = ["version", ...argv.slice(i + 1)]; i = 0; break; }
    else break;
  }
  let [cmd, ...rest] = argv.slice(i);
  if (!cmd || cmd === "help" || cmd === "--help" || cmd === "-h") { process.stdout.write(USAGE); return cmd ? 0 : 1; }
  if (cmd === "daemon") {
    const { runDaemon } = await import("../daemon/main.js");
    await runDaemon(rest);
    return -1; // keeps running
  }
  if (FORMS[cmd]) {
    const sub = rest[0] ?? "";
    const target = FORMS[cmd]![sub] ?? (cmd === "container" || cmd === "image" ? sub : undefined);
    if (!target) throw new CliError(`berth ${cmd}: unknown command "${sub}"\nSee 'berth --help'.`);
    // `image inspect` looks only at images, `container inspect` only at containers.
    rest = target === "inspect" && cmd !== "system" ? ["--type", cmd, ...rest.slice(1)] : rest.slice(1);
    cmd = target;
  }
  const fn = await command(cmd);
  if (!fn) throw new CliError(`berth: '${cmd}' is not a berth command.\nSee 'berth --help'`, 1);
  if (rest.includes("--help")) { process.stdout.write(`Usage:  berth ${cmd} [OPTIONS] ... (docker's flags: see \`docker ${cmd} --help\`)\n`); return 0; }
  if (host !== undefined && !host.startsWith("unix://")) throw new CliError(`invalid host ${host}: berth talks to berthd on a unix socket (unix://PATH)`);
  const socket = host ? host.slice(7) : DEFAULT_SOCKET;
  const client = new Client(socket, !host || socket === DEFAULT_SOCKET);
  await client.ensureDaemon();
  await fn(client, rest);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // Exit once stdout has drained: a relayed stdin may still hold the event loop open.
  const exit = (code: number): void => { process.stdout.write("", () => process.exit(code)); };
  // A reader that went away (`berth logs web | head`) ends berth quietly, as SIGPIPE ends docker
  // (status 141 = 128 + SIGPIPE); Node ignores SIGPIPE and would report EPIPE with a stack trace.
  for (const out of [process.stdout, process.stderr]) {
    out.on("error", (e: NodeJS.ErrnoException) => { if (e.code === "EPIPE") process.exit(141); throw e; });
  }
  main(process.argv.slice(2)).then((code) => {
    if (code >= 0) exit(code);
  }, (e: unknown) => {
    if (e instanceof ExitCode) return exit(e.code);
    if (e instanceof CliError) {
      process.stderr.write(`${e.message}\n`);
      return exit(e.exitCode);
    }
    process.stderr.write(`berth: ${(e as Error).message}\n`);
    exit(125);
  });
}
