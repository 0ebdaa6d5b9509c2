/**
 * The real Docker engine drives berth-runc through containerd-shim-runc-v2 — the runc command-line
 * contract: run with output and exit code, -it through a pty, -d + exec, stop (SIGTERM, then SIGKILL
 * after the timeout), pause/unpause, -m visible in the cgroup, rm -f.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { berthRunc } from "../helpers/bundle.js";
import { busyboxRootfs } from "../helpers/fixtures.js";
import { startDockerd, type PrivateDockerd } from "../helpers/dockerd.js";

let d: PrivateDockerd;
before(async () => {
  d = await startDockerd([`--add-runtime`, `berth=${berthRunc}`]);
  const tar = spawnSync("tar", ["-C", busyboxRootfs(), "-c", "."], { maxBuffer: 64 * 1024 * 1024 });
  const r = d.docker(["import", "-", "busybox:latest"], tar.stdout);
  assert.equal(r.status, 0, r.stderr);
});
after(() => d?.stop());

const run = (...args: string[]) => d.docker(["run", "--runtime", "berth", "--network", "none", ...args]);

test("docker run --runtime berth: output and exit code", () => {
  const r = run("--rm", "busybox", "sh", "-c", "echo hi; echo err >&2; exit 3");
  assert.equal(r.stdout, "hi\n");
  assert.equal(r.stderr, "err\n");
  assert.equal(r.status, 3);
});

test("docker run -it through a pty", async () => {
  const s = `berth-it-${process.pid}`;
  const tm = (...a: string[]) => spawnSync("tmux", a, { encoding: "utf8" });
  tm("new-session", "-d", "-s", s, "-x", "100", "-y", "30", `DOCKER_HOST=${d.host} docker run --rm -it --runtime berth --network none busybox sh`);
  try {
    let screen = "";
    for (let i = 0; i < 50 && !screen.includes("/ #"); i++) {
      await new Promise((r) => setTimeout(r, 200));
      screen = tm("capture-pane", "-t", s, "-p").stdout;
    }
    tm("send-keys", "-t", s, "tty; stty size; echo $((6*7))", "Enter");
    for (let i = 0; i < 50 && !/^42$/m.test(screen); i++) {
      await new Promise((r) => setTimeout(r, 100));
      screen = tm("capture-pane", "-t", s, "-p").stdout;
    }
    assert.match(screen, /^\/dev\/pts\/\d+$/m);
    assert.match(screen, /^30 100$/m);
    assert.match(screen, /^42$/m);
    tm("send-keys", "-t", s, "exit", "Enter");
  } finally {
    tm("kill-session", "-t", s);
  }
});

test("docker run -d, exec, pause/unpause, -m in the cgroup, stop after the timeout, rm -f", () => {
  const id = run("-d", "-m", "64m", "busybox", "sleep", "1000").stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const e = d.docker(["exec", id, "sh", "-c", "echo in $(hostname); cat /sys/fs/cgroup/memory/memory.limit_in_bytes"]);
  assert.equal(e.status, 0, e.stderr);
  assert.equal(e.stdout, `in ${id.slice(0, 12)}\n67108864\n`);
  const pid = Number(d.docker(["inspect", "-f", "{{.State.Pid}}", id]).stdout);
  const memLine = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => /:memory:/.test(l))!;
  assert.equal(readFileSync(`/sys/fs/cgroup/memory${memLine.split(":")[2]}/memory.limit_in_bytes`, "utf8").trim(), "67108864");
  assert.equal(d.docker(["pause", id]).status, 0);
  assert.equal(d.docker(["inspect", "-f", "{{.State.Status}}", id]).stdout.trim(), "paused");
  assert.equal(d.docker(["unpause", id]).status, 0);
  // sleep as PID 1 ignores SIGTERM: docker stop must fall back to SIGKILL after -t.
  const t0 = Date.now();
  assert.equal(d.docker(["stop", "-t", "2", id]).status, 0);
  const took = Date.now() - t0;
  assert.ok(took >= 1900, `stop waited for the timeout (${took} ms)`);
  assert.equal(d.docker(["inspect", "-f", "{{.State.ExitCode}}", id]).stdout.trim(), "137");
  const id2 = run("-d", "busybox", "sleep", "1000").stdout.trim();
  assert.equal(d.docker(["rm", "-f", id2]).status, 0);
  assert.equal(d.docker(["rm", id]).status, 0);
  assert.equal(d.docker(["ps", "-aq"]).stdout, "");
});
