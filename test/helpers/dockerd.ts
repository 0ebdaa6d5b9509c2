/**
 * A private Debian dockerd for side-by-side tests: its own data-root, exec-root, pidfile, socket
 * and containerd namespace, and no changes to the host's network (no bridge, no iptables, no
 * ip_forward). Stopped by its pid; its mounts are removed.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PrivateDockerd {
  dir: string;
  host: string;
  docker: (args: string[], input?: string | Buffer, env?: Record<string, string>) => { status: number; stdout: string; stderr: string };
  stop: () => void;
}

/**
 * extraArgs go after the defaults (a later flag wins): a bench that wants docker's bridge passes
 * `--bridge=<an existing bridge it made>`, never docker0, and forwarding and iptables stay off.
 */
export async function startDockerd(extraArgs: string[] = []): Promise<PrivateDockerd> {
  if (!existsSync("/usr/sbin/dockerd")) throw new Error("dockerd is missing: apt-get install docker.io");
  const dir = mkdtempSync(join(tmpdir(), "berth-dockerd-"));
  const sock = join(dir, "docker.sock");
  const ns = `berthtest${process.pid}`;
  const log = openSync(join(dir, "dockerd.log"), "a");
  const child = spawn("/usr/sbin/dockerd", [
    "--data-root", join(dir, "data"), "--exec-root", join(dir, "exec"), "--pidfile", join(dir, "dockerd.pid"),
    "-H", `unix://${sock}`, "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
    "--containerd-namespace", ns, "--containerd-plugins-namespace", `${ns}p`, ...extraArgs,
  ], { stdio: ["ignore", log, log], detached: true });
  child.unref();
  const host = `unix://${sock}`;
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, "client") } as Record<string, string>;
  const docker: PrivateDockerd["docker"] = (args, input, extra) => {
    const r = spawnSync("docker", args, { input, env: { ...env, ...extra }, encoding: "utf8", timeout: 120000, maxBuffer: 256 * 1024 * 1024 });
    return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const stop = (): void => {
    try { process.kill(child.pid!, "SIGTERM"); } catch { /* gone */ }
    for (let i = 0; i < 100; i++) {
      try { process.kill(child.pid!, 0); } catch { break; }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
    try { process.kill(child.pid!, "SIGKILL"); } catch { /* gone */ }
    const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4]).filter((m): m is string => !!m && m.startsWith(dir));
    for (const m of mounts.sort().reverse()) spawnSync("umount", ["-l", m]);
    spawnSync("rm", ["-rf", dir]);
  };
  for (let i = 0; i < 150; i++) {
    if (docker(["version", "--format", "{{.Server.Version}}"]).status === 0) return { dir, host, docker, stop };
    await new Promise((r) => setTimeout(r, 200));
  }
  const text = readFileSync(join(dir, "dockerd.log"), "utf8").split("\n").slice(-5).join("\n");
  stop();
  throw new Error(`private dockerd did not start:\n${text}`);
}
