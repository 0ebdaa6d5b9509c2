import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseChallenges } from "./auth.js";
import { DockerConfigCredentials, DOCKER_HUB_AUTH_KEY, defaultDockerConfigPath } from "./docker-config.js";

test("WWW-Authenticate challenges are parsed with quoted and bare values", () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/busybox:pull" } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="berth \\"test\\""'), [{ scheme: "basic", params: { realm: 'berth "test"' } }]);
  assert.deepEqual(parseChallenges('Basic realm=x, Bearer realm="r",service=s').map((c) => c.scheme), ["basic", "bearer"]);
  assert.deepEqual(parseChallenges(""), []);
});

test("config.json credentials: auth or username/password, docker hub key, keys with scheme; store and erase keep other fields", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "berth-dockercfg-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, "config.json");
  await writeFile(path, JSON.stringify({
    auths: {
      [DOCKER_HUB_AUTH_KEY]: { auth: Buffer.from("hub:pw:with:colons").toString("base64") },
      "https://reg.example.com:5000/v1/": { username: "u", password: "p" },
    },
    psFormat: "table {{.ID}}",
  }));
  const c = new DockerConfigCredentials(path);
  assert.deepEqual(await c.get("docker.io"), { username: "hub", password: "pw:with:colons" });
  assert.deepEqual(await c.get("reg.example.com:5000"), { username: "u", password: "p" });
  assert.equal(await c.get("reg.example.com"), undefined);
  await c.store("reg.example.com:5000", { username: "v", password: "q" });
  const saved = JSON.parse(await readFile(path, "utf8")) as { auths: Record<string, unknown>; psFormat: string };
  assert.equal(saved.psFormat, "table {{.ID}}");
  assert.deepEqual(Object.keys(saved.auths).sort(), [DOCKER_HUB_AUTH_KEY, "reg.example.com:5000"].sort());
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal(await c.erase("docker.io"), true);
  assert.equal(await c.get("docker.io"), undefined);
  assert.equal(defaultDockerConfigPath({ DOCKER_CONFIG: "/x/y" }), "/x/y/config.json");
  assert.equal(defaultDockerConfigPath({ HOME: "/home/z" }), "/home/z/.docker/config.json");
});
