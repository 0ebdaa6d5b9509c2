/**
 * berth and Debian's dockerd exchange images both ways: `save` archives loaded by the other, and
 * pushes to a registry on 127.0.0.1 pulled by the other (docker's gzip schema 2 layers into berth,
 * berth's OCI manifests into docker). Private daemons on private paths; nothing touches the host's
 * network settings.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/image/test-fixtures.js";
import { busyboxRootfs } from "../helpers/fixtures.js";
import { repo } from "../helpers/bundle.js";
import { startBerthd, type PrivateBerthd } from "../helpers/berthd.js";
import { startDockerd, type PrivateDockerd } from "../helpers/dockerd.js";

let b: PrivateBerthd;
let d: PrivateDockerd;
let reg: ChildProcess | undefined;
let regDir = "";
let port = 0;

before(async () => {
  b = await startBerthd();
  d = await startDockerd();
  const tar = spawnSync("tar", ["-C", busyboxRootfs(), "--exclude=./.complete", "-c", "."], { maxBuffer: 64 * 1024 * 1024 });
  assert.equal(d.docker(["import", "-", "docker-made:1"], tar.stdout).status, 0);
  regDir = mkdtempSync(join(tmpdir(), "berth-interop-registry-"));
  port = await freePort();
  writeFileSync(join(regDir, "config.yml"), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${regDir}/data\nhttp:\n  addr: 127.0.0.1:${port}\nlog:\n  level: error\n`);
  reg = spawn("/usr/bin/docker-registry", ["serve", join(regDir, "config.yml")], { stdio: "ignore" });
  for (let i = 0; i < 100 && spawnSync("curl", ["-fs", `http://127.0.0.1:${port}/v2/`]).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
});
after(() => {
  reg?.kill("SIGKILL");
  if (regDir) rmSync(regDir, { recursive: true, force: true });
  d?.stop();
  b?.stop();
});

const berth = (args: string[], input?: Buffer) => spawnSync(join(repo, "bin/berth"), ["-H", b.host, ...args], { input, encoding: input ? "buffer" : "utf8", maxBuffer: 64 * 1024 * 1024 }) as unknown as { status: number; stdout: string & Buffer; stderr: string & Buffer };

test("berth save → docker load → docker run", () => {
  assert.equal(berth(["tag", "busybox", "berth-made:1"]).status, 0);
  const saved = spawnSync(join(repo, "bin/berth"), ["-H", b.host, "save", "berth-made:1"], { maxBuffer: 64 * 1024 * 1024 });
  assert.equal(saved.status, 0, saved.stderr.toString());
  const load = d.docker(["load"], saved.stdout);
  assert.equal(load.status, 0, load.stderr);
  assert.match(load.stdout, /Loaded image: berth-made:1/);
  assert.equal(d.docker(["inspect", "-f", "{{.Id}}", "berth-made:1"]).stdout.trim(), berth(["inspect", "-f", "{{.Id}}", "berth-made:1"]).stdout.trim(), "the image ID is kept");
  const run = d.docker(["run", "--rm", "--network", "none", "berth-made:1", "echo", "made by berth, run by docker"]);
  assert.equal(run.stdout, "made by berth, run by docker\n", run.stderr);
});

test("docker save → berth load → berth run, image ID kept", () => {
  const saved = spawnSync("docker", ["save", "docker-made:1"], { env: { ...process.env, DOCKER_HOST: d.host }, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(saved.status, 0, saved.stderr.toString());
  const load = berth(["load"], saved.stdout);
  assert.equal(load.status, 0, load.stderr.toString());
  assert.match(load.stdout.toString(), /Loaded image: docker-made:1/);
  const idDocker = d.docker(["inspect", "-f", "{{.Id}}", "docker-made:1"]).stdout.trim();
  assert.equal(berth(["inspect", "-f", "{{.Id}}", "docker-made:1"]).stdout.toString().trim(), idDocker);
  assert.equal(berth(["run", "--rm", "docker-made:1", "echo", "made by docker, run by berth"]).stdout.toString(), "made by docker, run by berth\n");
});

test("docker push → berth pull (gzip schema 2 layers); berth push → docker pull", () => {
  const fromDocker = `127.0.0.1:${port}/interop/docker-made:1`;
  assert.equal(d.docker(["tag", "docker-made:1", fromDocker]).status, 0);
  const push = d.docker(["push", fromDocker]);
  assert.equal(push.status, 0, push.stderr);
  const pull = berth(["pull", fromDocker]);
  assert.equal(pull.status, 0, pull.stderr.toString());
  assert.equal(berth(["run", "--rm", fromDocker, "echo", "pulled by berth"]).stdout.toString(), "pulled by berth\n");

  const fromBerth = `127.0.0.1:${port}/interop/berth-made:1`;
  assert.equal(berth(["tag", "busybox", fromBerth]).status, 0);
  const bpush = berth(["push", fromBerth]);
  assert.equal(bpush.status, 0, bpush.stderr.toString());
  const dpull = d.docker(["pull", fromBerth]);
  assert.equal(dpull.status, 0, dpull.stderr);
  assert.equal(d.docker(["run", "--rm", "--network", "none", fromBerth, "echo", "pulled by docker"]).stdout, "pulled by docker\n");
});
