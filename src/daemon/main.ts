/**
 * berthd: the engine behind the Docker Engine API on a unix socket. Containers belong to their
 * shims, not to this process: stopping berthd (SIGTERM, or kill -9) leaves them running, and the
 * next berthd finds them again.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ContainerRunner } from "../engine/container-runner.js";
import { EventBus } from "../engine/events.js";
import { ExecManager } from "../engine/exec.js";
import { HealthMonitor } from "../engine/health.js";
import { EngineImages } from "../engine/images.js";
import { VolumeStore } from "../engine/volumes.js";
import { detectCgroupManager } from "../runtime/cgroups/index.js";
import { Runtime } from "../runtime/runtime.js";
import { NetworkManager } from "../network/manager.js";
import { NetworkStore } from "../network/networks.js";
import { Router } from "./http.js";
import { parseDaemonArgs } from "./options.js";
import { containerRoutes } from "./routes-containers.js";
import { systemRoutes } from "./routes-system.js";
import { networkRoutes } from "./routes-networks.js";
import { buildRoutes } from "./routes-build.js";
import { Builder } from "../build/builder.js";
import { startServer } from "./server.js";

const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;

export async function runDaemon(argv: string[]): Promise<void> {
  const o = parseDaemonArgs(argv);
  const log = (level: keyof typeof LEVELS, msg: string): void => {
    if (LEVELS[level] >= LEVELS[o.logLevel]) process.stderr.write(`${new Date().toISOString()} ${level} ${msg}\n`);
  };
  mkdirSync(o.dataRoot, { recursive: true, mode: 0o711 });
  mkdirSync(o.execRoot, { recursive: true, mode: 0o711 });
  const cgroups = detectCgroupManager({ parent: o.cgroupParent });
  const runtime = new Runtime({ root: join(o.execRoot, "runtime"), cgroups, warn: (m) => log("warn", m) });
  const events = new EventBus();
  const volumes = new VolumeStore(join(o.dataRoot, "volumes"));
  const images = await EngineImages.open(join(o.dataRoot, "image"), { insecureRegistries: o.insecureRegistries });
  const initPath = fileURLToPath(new URL("../../../native/build/berth-init", import.meta.url));
  const pool = o.defaultAddressPools[0] ? /^base=(.+),size=(\d+)$/.exec(o.defaultAddressPools[0]) : null;
  const store = new NetworkStore({ dataRoot: o.dataRoot, execRoot: o.execRoot, bip: o.bip, bridge: o.bridge, mtu: o.mtu, ...(pool ? { addressPool: { base: pool[1]!, size: Number(pool[2]) } } : {}) });
  const network = new NetworkManager({ store, execRoot: o.execRoot, cniPath: ["/usr/lib/cni", "/opt/cni/bin"], dnsForward: o.dnsForward, log });
  await network.init();
  const runner = new ContainerRunner({ dataRoot: o.dataRoot, execRoot: o.execRoot, runtime, images, volumes, events, initPath, network, log });
  const exec = new ExecManager(runner, runtime);
  const health = new HealthMonitor({ runner, exec, events, log });
  await runner.recover();
  health.resume();
  const router = new Router();
  const builder = new Builder({ runner, images, dataRoot: o.dataRoot });
  systemRoutes(router, { runner, images, volumes, events, cgroups, dataRoot: o.dataRoot, buildCache: () => builder.cachedImages() });
  buildRoutes(router, { builder, images, events, dataRoot: o.dataRoot });
  networkRoutes(router, { runner, network, events });
  containerRoutes(router, { runner, exec, runtime });
  const server = await startServer(router, o.socket, log);
  writeFileSync(o.pidfile, `${process.pid}\n`);
  log("info", `berthd listening on unix://${o.socket} (data ${o.dataRoot}, exec ${o.execRoot}, cgroups ${cgroups.mode})`);
  const stop = (): void => {
    log("info", "berthd stopping; containers keep running");
    health.close();
    server.close();
    server.closeAllConnections();
    rmSync(o.pidfile, { force: true });
    rmSync(o.socket, { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runDaemon(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`berthd: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
