/**
 * Test helpers for src/image (not part of the module's interface): a real
 * registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1 with a temp
 * config and storage, with or without htpasswd basic auth, and a small image
 * built locally (config + gzip tar layers made with tar(1)).
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, openSync, closeSync, readFileSync } from "node:fs";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { randomBytes } from "node:crypto";
import type { ContentStore } from "./content-store.js";
import { sha256Digest } from "./digest.js";
import { MediaType, type Descriptor, type ImageConfig, type ImageManifest } from "./media-types.js";

export const REGISTRY_BIN = "/usr/bin/docker-registry";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A bcrypt htpasswd line: htpasswd(1) from apache2-utils, else Python's crypt (libxcrypt). */
export function htpasswdLine(user: string, password: string): string {
  if (existsSync("/usr/bin/htpasswd")) return execFileSync("/usr/bin/htpasswd", ["-Bbn", user, password], { encoding: "utf8" }).trim();
  try {
    const hash = execFileSync("python3", ["-W", "ignore", "-c", "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))", password], { encoding: "utf8" }).trim();
    if (hash.startsWith("$2")) return `${user}:${hash}`;
  } catch { /* fall through to the clear error */ }
  throw new Error("no bcrypt available for the test registry's htpasswd: apt-get install -y apache2-utils");
}

export interface TestRegistry {
  host: string;
  port: number;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts docker-registry on 127.0.0.1:<free port>; with `auth`, htpasswd basic auth for that user. */
export async function startRegistry(auth?: { user: string; password: string }): Promise<TestRegistry> {
  if (!existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} is missing: apt-get install -y docker-registry`);
  const dir = await mkdtemp(join(tmpdir(), "berth-registry-"));
  const port = await freePort();
  await mkdir(join(dir, "data"));
  let authYaml = "";
  if (auth) {
    await writeFile(join(dir, "htpasswd"), `${htpasswdLine(auth.user, auth.password)}\n`);
    authYaml = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${join(dir, "htpasswd")}\n`;
  }
  await writeFile(join(dir, "config.yml"), [
    "version: 0.1", "log:", "  level: warn", "  accesslog:", "    disabled: true",
    "storage:", "  filesystem:", `    rootdirectory: ${join(dir, "data")}`, "  delete:", "    enabled: true",
    "http:", `  addr: 127.0.0.1:${port}`, "  secret: berth-test-secret", "",
  ].join("\n") + authYaml);
  const logFd = openSync(join(dir, "registry.log"), "w");
  const child: ChildProcess = spawn(REGISTRY_BIN, ["serve", join(dir, "config.yml")], { stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);
  const pid = child.pid!;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, "SIGTERM");
      const t = setTimeout(() => { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }, 3000);
      await exited;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      if (res.status === 200 || res.status === 401) break;
    } catch { /* not listening yet */ }
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = readFileSync(join(dir, "registry.log"), "utf8");
      await stop();
      throw new Error(`docker-registry on 127.0.0.1:${port} did not come up: ${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host: `127.0.0.1:${port}`, port, dir, pid, stop };
}

export interface BuiltImage {
  manifest: Descriptor;
  manifestBytes: Buffer;
  config: Descriptor;
  layers: Descriptor[];
  layerBytes: Buffer[];
  diffIds: string[];
}

/** Makes a gzip tar layer with tar(1) from a map of file name → content. */
export async function makeLayer(files: Record<string, string>): Promise<{ tar: Buffer; gz: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), "berth-layer-"));
  try {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(dir, name, ".."), { recursive: true });
      await writeFile(join(dir, name), content);
    }
    const tar = execFileSync("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", dir, "-cf", "-", "."]);
    return { tar, gz: gzipSync(tar) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Builds a 2-layer image (docker v2 schema 2 or OCI) into `content`. */
export async function buildImage(content: ContentStore, opts: { arch?: string; seed?: string; oci?: boolean; bigLayer?: number } = {}): Promise<BuiltImage> {
  const seed = opts.seed ?? "one";
  const l1 = await makeLayer({ "etc/hello.txt": `hello ${seed}\n`, "bin/tool": "#!/bin/sh\necho tool\n" });
  // Random text so gzip cannot shrink it much: a big layer stays big on the wire.
  const big = opts.bigLayer ? randomBytes(opts.bigLayer).toString("base64") : "data\n";
  const l2 = await makeLayer({ "srv/data.txt": `${seed}\n${big}` });
  const layerType = opts.oci ? MediaType.OciLayerGzip : MediaType.DockerLayerGzip;
  const layers: Descriptor[] = [];
  for (const l of [l1, l2]) {
    const info = await content.writeBlob(l.gz);
    layers.push({ mediaType: layerType, digest: info.digest, size: info.size });
  }
  const diffIds = [sha256Digest(l1.tar), sha256Digest(l2.tar)];
  const cfg: ImageConfig = {
    created: "2024-01-02T03:04:05Z", architecture: opts.arch ?? "amd64", os: "linux",
    config: { Env: ["PATH=/usr/bin:/bin"], Cmd: ["/bin/tool"], Labels: { seed } },
    rootfs: { type: "layers", diff_ids: diffIds },
    history: [
      { created: "2024-01-02T03:04:00Z", created_by: "/bin/sh -c #(nop) ADD file:tool in /" },
      { created: "2024-01-02T03:04:03Z", created_by: "/bin/sh -c #(nop)  ENV PATH=/usr/bin:/bin", empty_layer: true },
      { created: "2024-01-02T03:04:05Z", created_by: "/bin/sh -c echo data > /srv/data.txt", comment: "second" },
    ],
  };
  const cfgBytes = Buffer.from(JSON.stringify(cfg));
  const ci = await content.writeBlob(cfgBytes);
  const config: Descriptor = { mediaType: opts.oci ? MediaType.OciConfig : MediaType.DockerConfig, digest: ci.digest, size: ci.size };
  const m: ImageManifest = { schemaVersion: 2, mediaType: opts.oci ? MediaType.OciManifest : MediaType.DockerManifest, config, layers };
  const manifestBytes = Buffer.from(JSON.stringify(m, null, 3));
  const mi = await content.writeBlob(manifestBytes);
  return {
    manifest: { mediaType: m.mediaType!, digest: mi.digest, size: mi.size }, manifestBytes, config, layers,
    layerBytes: [l1.gz, l2.gz], diffIds,
  };
}
