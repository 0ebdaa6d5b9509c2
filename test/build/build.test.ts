/**
 * Dockerfile builds against one private berthd: the seeds' scenario on a Debian image made locally
 * (debootstrap, cached outside the repo; nginx installed by a RUN step through the package mirror),
 * a table of small Dockerfiles built by berth and by a private dockerd's classic builder with the
 * resulting configs and file listings compared, the step cache, and bad input.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBerthd, type CmdResult, type PrivateBerthd } from "../helpers/berthd.js";
import { startDockerd, type PrivateDockerd } from "../helpers/dockerd.js";
import { busyboxRootfs, debianRootfsTar } from "../helpers/fixtures.js";
import { startRegistry } from "../../src/image/test-fixtures.js";

let d: PrivateBerthd;
let work: string;
before(async () => {
  d = await startBerthd();
  work = mkdtempSync(join(tmpdir(), "berth-build-"));
});
after(() => {
  d?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const ok = (r: CmdResult, what: string): string => {
  assert.equal(r.status, 0, `${what}: ${r.stderr}\n${r.stdout}`);
  return r.stdout;
};
const berth = (...args: string[]): string => ok(d.berth(args), `berth ${args.join(" ")}`);

/** A context directory from a map of files (a trailing "/" makes a directory). */
function context(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [p, body] of Object.entries(files)) {
    const abs = join(dir, p);
    if (p.endsWith("/")) { mkdirSync(abs, { recursive: true }); continue; }
    mkdirSync(join(abs, ".."), { recursive: true });
    if (body.startsWith("symlink:")) symlinkSync(body.slice(8), abs);
    else writeFileSync(abs, body);
  }
  return dir;
}

const curl = (url: string): string => spawnSync("curl", ["-s", "-m", "5", url], { encoding: "utf8" }).stdout ?? "";

test("the seeds' scenario: FROM debian (made locally), apt-get install nginx, COPY test.html; run -p 8081:80 and curl it — berth and the docker CLI", () => {
  ok(d.berth(["import", debianRootfsTar(), "debian:bookworm"]), "import debian");
  const page = "<html><body><h1>berth built this page</h1></body></html>\n";
  // Debian's nginx serves /var/www/html; the seeds' page goes to /usr/share/nginx/html (the official
  // image's root), so the site's root is pointed there.
  const dir = context("seeds", {
    "test.html": page,
    Dockerfile: [
      "FROM debian:bookworm",
      "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx && rm -rf /var/lib/apt/lists/*",
      "RUN sed -i 's#root /var/www/html;#root /usr/share/nginx/html;#' /etc/nginx/sites-available/default",
      "COPY test.html /usr/share/nginx/html/test.html",
      'ENTRYPOINT nginx -g "daemon off;"',
    ].join("\n"),
  });
  const out = berth("build", "-f", join(dir, "Dockerfile"), "-t", "testnginx:1", dir);
  assert.match(out, /Step 5\/5 : ENTRYPOINT/);
  assert.match(out, /Successfully tagged testnginx:1/);
  berth("run", "-d", "--name", "seeds", "-p", "8081:80", "testnginx:1");
  try {
    let got = "";
    for (let i = 0; i < 50 && !got.includes("berth built"); i++) { got = curl("http://localhost:8081/test.html"); if (!got) spawnSync("sleep", ["0.2"]); }
    assert.equal(got, page);
  } finally {
    d.berth(["rm", "-f", "seeds"]);
  }
  // The docker CLI's classic builder protocol against berthd: the same Dockerfile (cached steps now).
  const r = d.docker(["build", "-t", "testnginx:2", dir], undefined);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Using cache/);
  assert.match(r.stdout, /Successfully tagged testnginx:2/);
  assert.equal(berth("inspect", "-f", "{{.Id}}", "testnginx:2"), berth("inspect", "-f", "{{.Id}}", "testnginx:1"));
});

test("the step cache: an unchanged context hits every step; a touched file still hits; a changed file rebuilds from its COPY on", () => {
  ok(d.berth(["import", "-", "busybox:latest"], spawnSync("tar", ["-C", busyboxRootfs(), "--exclude=./.complete", "-c", "."], { maxBuffer: 64 << 20 }).stdout), "import busybox");
  const dir = context("cache", {
    "a.txt": "one\n", "b.txt": "two\n",
    Dockerfile: "FROM busybox\nRUN echo first > /first\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy-of-a\nCOPY b.txt /b.txt\nCMD [\"cat\", \"/copy-of-a\"]\n",
  });
  const first = berth("build", "-t", "cached:1", dir);
  assert.doesNotMatch(first, /Using cache/);
  const again = berth("build", "-t", "cached:1", dir);
  assert.equal(again.match(/Using cache/g)?.length, 5, again);
  utimesSync(join(dir, "a.txt"), new Date(), new Date(Date.now() + 5000));
  assert.equal(berth("build", "-t", "cached:1", dir).match(/Using cache/g)?.length, 5, "a new mtime alone is not a change");
  writeFileSync(join(dir, "a.txt"), "changed\n");
  const changed = berth("build", "-t", "cached:2", dir);
  assert.equal(changed.match(/Using cache/g)?.length, 1, "only the RUN before the changed COPY hits");
  assert.match(changed, /Step 3\/6 : COPY a\.txt[\s\S]*Step 4\/6[\s\S]*Running in/);
  assert.equal(berth("run", "--rm", "cached:2"), "changed\n");
  assert.match(berth("build", "--no-cache", "-t", "cached:3", dir), /^(?![\s\S]*Using cache)/);
  // --chmod (BuildKit's flag; docker's classic builder refuses it, so it is not in the table).
  const ch = context("chmod", { f: "f\n", Dockerfile: "FROM busybox\nCOPY --chmod=0700 --chown=1:1 f /p\n" });
  berth("build", "-t", "chmod:1", ch);
  assert.equal(berth("run", "--rm", "chmod:1", "stat", "-c", "%a %u %g", "/p"), "700 1 1\n");
  // The cache in system df, and builder prune emptying it.
  const df = /^Build Cache\s+(\d+)\s+\d+\s+(\S+)/m.exec(berth("system", "df"));
  assert.ok(df && Number(df[1]) > 0, "system df counts the cached steps");
  // Filters: a cache older than 1h is none of it; without -f the question is asked, and no is no.
  assert.match(berth("builder", "prune", "-f", "--filter", "until=1h"), /^Total reclaimed space: 0B$/m);
  assert.equal(/^Build Cache\s+(\d+)/m.exec(berth("system", "df"))![1], df[1], "until=1h kept every cached step");
  berth("system", "prune", "-f", "--filter", "until=1h");
  assert.equal(/^Build Cache\s+(\d+)/m.exec(berth("system", "df"))![1], df[1], "system prune's until=1h kept it too");
  assert.match(d.berth(["system", "prune", "-f", "--volumes", "--filter", "until=1h"]).stderr, /"until" filter is not supported with "--volumes"/);
  const asked = d.berth(["builder", "prune"], "n\n");
  assert.match(asked.stderr, /WARNING! This will remove all dangling build cache\.\nAre you sure you want to continue\? \[y\/N\]/);
  assert.equal(/^Build Cache\s+(\d+)/m.exec(berth("system", "df"))![1], df[1], "answering no kept it");
  assert.match(berth("builder", "prune", "-f"), /Total reclaimed space: [\d.]+[kMG]?B/);
  assert.match(berth("system", "df"), /^Build Cache\s+0\s/m);
  assert.equal(berth("build", "-t", "cached:1", dir).match(/Using cache/g), null, "nothing is cached after the prune");
});

test("a base image that is not here is pulled (a registry on 127.0.0.1); --pull pulls one that is here; a failed pull is a clear error", async () => {
  const reg = await startRegistry();
  const base = `127.0.0.1:${reg.port}/base:1`;
  try {
    const push = (marker: string): string => {
      berth("build", "--network", "none", "-t", base, context("pull-base", { Dockerfile: `FROM busybox\nRUN echo ${marker} > /marker\n` }));
      berth("push", base);
      return berth("images", "-q", "--no-trunc", base).trim();
    };
    const one = push("one");
    const user = context("pull-user", { Dockerfile: `FROM ${base}\nRUN cat /marker > /seen\nCMD ["cat", "/seen"]\n` });
    berth("rmi", base);
    const pulled = berth("build", "--network", "none", "-t", "user:1", user);
    assert.match(pulled, /Pulling 127\.0\.0\.1:\d+\/base:1[\s\S]*Status: Downloaded newer image/);
    assert.equal(berth("run", "--rm", "user:1"), "one\n");
    // A newer base in the registry; the local tag goes back to the old one.
    push("two");
    berth("tag", one, base);
    assert.equal(berth("run", "--rm", berth("build", "-q", "--network", "none", user).trim()), "one\n", "without --pull the local base is used");
    const newer = berth("build", "--pull", "--network", "none", "-t", "user:2", user);
    assert.match(newer, /Status: Downloaded newer image/);
    assert.equal(berth("run", "--rm", "user:2"), "two\n");
    assert.match(berth("build", "--pull", "--network", "none", "-t", "user:2", user), /Status: Image is up to date[\s\S]*Using cache/);
    // The docker CLI sends the same flag.
    assert.match(ok(d.docker(["build", "--pull", "--network", "none", "-t", "user:3", user]), "docker build --pull"), /Image is up to date/);
  } finally {
    await reg.stop();
  }
  // The registry is gone: --pull fails even though the base is here (docker's classic builder too).
  const r = d.berth(["build", "--pull", "--network", "none", context("pull-gone", { Dockerfile: `FROM ${base}\n` })]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /line 1: pull access denied or image not found: 127\.0\.0\.1:\d+\/base:1/);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
});

test("multi-stage: independent stages run at the same time, output stays in docker's order, unused stages are skipped, --target", () => {
  const dir = context("stages", {
    Dockerfile: [
      "FROM busybox AS a",
      "RUN cut -d\" \" -f1 /proc/uptime > /start && sleep 1 && cut -d\" \" -f1 /proc/uptime > /end",
      "FROM busybox AS broken",
      "RUN exit 3",
      "FROM busybox AS b",
      "RUN cut -d\" \" -f1 /proc/uptime > /start && sleep 1 && cut -d\" \" -f1 /proc/uptime > /end",
      "FROM busybox",
      "COPY --from=a /start /a.start",
      "COPY --from=a /end /a.end",
      "COPY --from=b /start /b.start",
      "COPY --from=b /end /b.end",
    ].join("\n"),
  });
  const out = berth("build", "--network", "none", "-t", "stages:1", dir);
  const steps = [...out.matchAll(/^Step (\d+)\/(\d+) :/gm)].map((m) => Number(m[1]));
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8, 9], "the broken stage is not built, and steps print in order");
  assert.doesNotMatch(out, /exit 3/);
  const t = berth("run", "--rm", "stages:1", "cat", "/a.start", "/a.end", "/b.start", "/b.end").trim().split("\n").map(Number);
  assert.ok(t[0]! < t[3]! && t[2]! < t[1]!, `the two stages' RUN steps overlap in time: ${t.join(" ")}`);
  const target = d.berth(["build", "--network", "none", "--target", "broken", dir]);
  assert.equal(target.status, 1);
  assert.match(target.stderr, /returned a non-zero code: 3/);
  assert.match(d.berth(["build", "--target", "nosuch", dir]).stderr, /failed to reach build target nosuch/);
});

test("here-documents: RUN <<EOF runs the script, RUN cmd <<EOF feeds it, COPY <<EOF makes a file", () => {
  const dir = context("heredoc", {
    Dockerfile: "FROM busybox\nRUN <<EOF\necho one > /h1\necho two >> /h1\nEOF\nRUN cat <<A > /h2\nline a\nA\nCOPY <<CONF /etc/app.conf\nkey=value\nCONF\n",
  });
  berth("build", "--network", "none", "-t", "heredoc:1", dir);
  assert.equal(berth("run", "--rm", "heredoc:1", "cat", "/h1", "/h2", "/etc/app.conf"), "one\ntwo\nline a\nkey=value\n");
});

test("ADD from a URL (a server on 127.0.0.1): saved with mode 600 and not extracted; import from a URL", async () => {
  const www = join(work, "www");
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, "page.txt"), "served\n");
  spawnSync("tar", ["-C", busyboxRootfs(), "--exclude=./.complete", "-cf", join(www, "rootfs.tar"), "."]);
  const server = spawn("python3", ["-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", www, "0"], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let text = "";
      const onData = (b: Buffer): void => { text += b.toString(); const m = /port (\d+)/.exec(text); if (m) resolve(Number(m[1])); };
      server.stdout!.on("data", onData);
      server.stderr!.on("data", onData);
      server.once("exit", () => reject(new Error(`http.server exited: ${text}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const dir = context("url", { Dockerfile: `FROM busybox\nADD ${base}/page.txt /dl/\nADD ${base}/rootfs.tar /dl/kept.tar\n` });
    berth("build", "--network", "none", "-t", "url:1", dir);
    assert.equal(berth("run", "--rm", "url:1", "sh", "-c", "stat -c '%a %n' /dl/page.txt /dl/kept.tar; cat /dl/page.txt"), "600 /dl/page.txt\n600 /dl/kept.tar\nserved\n");
    const missing = d.berth(["build", "--network", "none", context("url404", { Dockerfile: `FROM busybox\nADD ${base}/nosuch /x\n` })]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /line 2.*404/);
    // docker import URL: berthd downloads the tar itself.
    const id = berth("import", `${base}/rootfs.tar`, "from-url:1").trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(berth("run", "--rm", "from-url:1", "echo", "imported"), "imported\n");
    const bad = d.berth(["import", `${base}/nosuch.tar`]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /404/);
  } finally {
    server.kill("SIGKILL");
  }
});

/**
 * The table: each Dockerfile, one concern, built by berth and by Debian's dockerd (classic builder)
 * with the same context; their configs and the listings of the paths they touch must be equal.
 */
const TABLE: { name: string; files?: Record<string, string>; dockerfile: string; list?: string }[] = [
  { name: "env both forms", dockerfile: 'FROM busybox\nENV A=1 B="two words" C=x\\ y\nENV D old form value\nENV E=$A-${B}-${Z:-dflt}-${A:+set}' },
  { name: "label and maintainer", dockerfile: 'FROM busybox\nLABEL a=1 "b c"="d e"\nLABEL f g\nMAINTAINER someone <s@example.com>' },
  { name: "cmd shell form", dockerfile: "FROM busybox\nCMD echo hello $HOME" },
  { name: "entrypoint resets the base cmd", dockerfile: 'FROM busybox\nENTRYPOINT ["/bin/echo"]' },
  { name: "entrypoint shell form then cmd", dockerfile: "FROM busybox\nENTRYPOINT echo a\nCMD [\"b\"]" },
  { name: "expose forms", dockerfile: "FROM busybox\nEXPOSE 80 443/tcp 53/udp 8000-8002" },
  { name: "volume forms", dockerfile: 'FROM busybox\nVOLUME /data\nVOLUME ["/a", "/b"]' },
  { name: "user and stopsignal", dockerfile: "FROM busybox\nUSER nobody:nogroup\nSTOPSIGNAL SIGINT" },
  { name: "workdir relative and created", dockerfile: "FROM busybox\nWORKDIR /w\nWORKDIR sub/dir\nRUN pwd > here", list: "/w" },
  { name: "arg default and substitution", dockerfile: "FROM busybox\nARG V=fromarg\nENV W=$V\nRUN echo $V > /v", list: "/v" },
  { name: "arg before from", dockerfile: "ARG BASE=busybox\nFROM $BASE\nARG BASE\nRUN echo ${BASE} > /base", list: "/base" },
  { name: "shell instruction", dockerfile: 'FROM busybox\nSHELL ["/bin/sh", "-ec"]\nRUN echo $0 > /shell\nCMD echo x', list: "/shell" },
  { name: "healthcheck", dockerfile: "FROM busybox\nHEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD true" },
  { name: "healthcheck none", dockerfile: "FROM busybox\nHEALTHCHECK NONE" },
  { name: "onbuild recorded", dockerfile: "FROM busybox\nONBUILD RUN echo triggered" },
  { name: "copy file and dir", files: { "f.txt": "file\n", "d/x": "x\n", "d/sub/y": "y\n" }, dockerfile: "FROM busybox\nCOPY f.txt /dst/\nCOPY d /dst/d2\nCOPY d/sub /flat", list: "/dst /flat" },
  { name: "copy wildcard", files: { "a1.txt": "1", "a2.txt": "2", "b.txt": "3" }, dockerfile: "FROM busybox\nCOPY a*.txt /w/", list: "/w" },
  { name: "copy chown by name", files: { "f": "f\n", "d/g": "g\n" }, dockerfile: "FROM busybox\nCOPY --chown=nobody:nogroup f d /o/", list: "/o" },
  { name: "copy chown numeric", files: { "f": "f\n" }, dockerfile: "FROM busybox\nCOPY --chown=1234:5678 f /n", list: "/n" },
  { name: "add a local tar", files: { "t/inner.txt": "inner\n" }, dockerfile: "FROM busybox\nADD arch.tar /x/", list: "/x" },
  { name: "dockerignore", files: { ".dockerignore": "*.log\n!keep.log\nsecret/\n**/tmp", "a.log": "no", "keep.log": "yes", "secret/s": "no", "z/tmp": "no", "z/ok": "ok" }, dockerfile: "FROM busybox\nCOPY . /ctx", list: "/ctx" },
  { name: "symlink in context copied as a link", files: { "target.txt": "t\n", "link": "symlink:target.txt" }, dockerfile: "FROM busybox\nCOPY link target.txt /l/", list: "/l" },
  { name: "multi-stage copy --from", dockerfile: "FROM busybox AS one\nRUN echo built > /artifact\nFROM busybox\nCOPY --from=one /artifact /got", list: "/got" },
  { name: "multi-stage numbered", dockerfile: "FROM busybox\nRUN echo zero > /z\nFROM busybox\nCOPY --from=0 /z /z0", list: "/z0" },
  { name: "run exec form and env", dockerfile: 'FROM busybox\nENV X=1\nRUN ["sh", "-c", "echo $X > /x"]', list: "/x" },
  { name: "escape directive", dockerfile: "# escape=`\nFROM busybox\nRUN echo a `\n  b > /e", list: "/e" },
  { name: "line continuation with comments", dockerfile: "FROM busybox\nRUN echo one \\\n# a comment\n  two > /c", list: "/c" },
  { name: "run deletes a file", dockerfile: "FROM busybox\nRUN rm /bin/vi && mkdir /made", list: "/made /bin/vi" },
  { name: "env refers to earlier env", dockerfile: "FROM busybox\nENV A=1\nENV B=$A-x" },
  { name: "env on one line sees the old value", dockerfile: "FROM busybox\nENV A=1\nENV A=2 B=$A" },
  { name: "workdir from env", dockerfile: "FROM busybox\nENV D=/data\nWORKDIR $D/x\nRUN touch f", list: "/data" },
  { name: "user numeric", dockerfile: "FROM busybox\nUSER 1000:1000" },
  { name: "label and expose from env", dockerfile: "FROM busybox\nENV V=3 P=8080\nLABEL version=$V\nEXPOSE $P/udp" },
  { name: "copy relative to workdir", files: { f: "f\n" }, dockerfile: "FROM busybox\nWORKDIR /app\nCOPY f .\nCOPY f ./g", list: "/app" },
  { name: "copy renames a file", files: { f: "f\n" }, dockerfile: "FROM busybox\nCOPY f /renamed", list: "/renamed" },
  { name: "copy a dir into an existing dir", files: { "d/x.conf": "x\n" }, dockerfile: "FROM busybox\nCOPY d /etc/", list: "/etc/x.conf" },
  { name: "add a gzip tar", files: { "t/inner.txt": "gz\n" }, dockerfile: "FROM busybox\nADD arch.tgz /z/", list: "/z" },
  { name: "cmd after entrypoint is kept", dockerfile: 'FROM busybox\nENTRYPOINT ["echo"]\nCMD ["x"]' },
  { name: "volume and stopsignal from env", dockerfile: "FROM busybox\nENV V=/vol S=9\nVOLUME $V\nSTOPSIGNAL $S" },
  { name: "several run layers", dockerfile: "FROM busybox\nRUN mkdir /a && touch /a/b /a/c\nRUN rm /a/b\nRUN echo d > /a/d", list: "/a" },
  { name: "copy the whole context", files: { "x/y": "y\n", z: "z\n", ".dockerignore": "Dockerfile" }, dockerfile: "FROM busybox\nCOPY . /all/", list: "/all" },
  { name: "from scratch", files: { f: "f\n" }, dockerfile: 'FROM scratch\nCOPY f /f\nENV A=1\nCMD ["/f"]' },
  { name: "copy from a scratch stage", files: { f: "f\n", "d/e": "e\n" }, dockerfile: "FROM scratch AS s\nCOPY f d /in/\nFROM busybox\nCOPY --from=s /in /g", list: "/g" },
  { name: "run with pipes and quotes", dockerfile: 'FROM busybox\nRUN echo "a  b" | tr a-z A-Z > /q && echo \'$HOME\' >> /q', list: "/q" },
];

test("a table of Dockerfiles: berth's images equal those of Debian's dockerd classic builder (config and files)", async (t) => {
  let dk: PrivateDockerd | undefined;
  try {
    dk = await startDockerd();
  } catch (e) {
    assert.fail(`a private dockerd is needed for the comparison: ${(e as Error).message}`);
  }
  try {
    const tar = spawnSync("tar", ["-C", busyboxRootfs(), "--exclude=./.complete", "-c", "."], { maxBuffer: 64 << 20 }).stdout;
    assert.equal(dk.docker(["import", "-", "busybox:latest"], tar).status, 0);
    const keys = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels", "StopSignal", "Healthcheck", "Shell", "OnBuild"];
    const norm = (json: string): Record<string, unknown> => {
      const c = JSON.parse(json) as Record<string, unknown>;
      return Object.fromEntries(keys.map((k) => [k, c[k] === undefined || (Array.isArray(c[k]) && (c[k] as unknown[]).length === 0 && k === "OnBuild") ? null : c[k]]));
    };
    for (const [i, row] of TABLE.entries()) {
      await t.test(row.name, () => {
        const dir = context(`t${i}`, { ...(row.files ?? {}), Dockerfile: row.dockerfile });
        if (row.name === "add a local tar") spawnSync("tar", ["-C", join(dir, "t"), "-cf", join(dir, "arch.tar"), "."]);
        if (row.name === "add a gzip tar") spawnSync("tar", ["-C", join(dir, "t"), "-czf", join(dir, "arch.tgz"), "."]);
        if (row.name === "copy chown by name") chmodSync(join(dir, "f"), 0o640);
        const tag = `table${i}:1`;
        const mine = d.berth(["build", "--network", "none", "-t", tag, dir]);
        assert.equal(mine.status, 0, `berth build: ${mine.stderr}\n${mine.stdout}`);
        const theirs = dk!.docker(["build", "--network", "none", "-t", tag, dir], undefined, { DOCKER_BUILDKIT: "0" });
        assert.equal(theirs.status, 0, `docker build: ${theirs.stderr}`);
        assert.deepEqual(norm(ok(d.berth(["image", "inspect", "-f", "{{json .Config}}", tag]), "inspect")), norm(dk!.docker(["image", "inspect", "-f", "{{json .Config}}", tag]).stdout), "config");
        if (row.list) {
          const cmd = `for p in ${row.list}; do [ -e "$p" ] || { echo "$p missing"; continue; }; find "$p" | sort | while read f; do stat -c '%n %F %a %u %g %s' "$f"; [ -f "$f" ] && [ ! -L "$f" ] && md5sum "$f" | cut -c1-32; [ -L "$f" ] && readlink "$f"; done; done`;
          const a = d.berth(["run", "--rm", "--network", "none", "--entrypoint", "sh", tag, "-c", cmd]);
          const b = dk!.docker(["run", "--rm", "--network", "none", "--entrypoint", "sh", tag, "-c", cmd]);
          assert.equal(a.stdout, b.stdout, `files under ${row.list}`);
          assert.ok(a.stdout.length > 0);
        }
      });
    }
  } finally {
    dk?.stop();
  }
});

test("bad input: a clear error naming the line, exit 1, and no container or image left behind", () => {
  const images = berth("images", "-aq");
  const cases: [Record<string, string>, RegExp, string[]?][] = [
    [{ Dockerfile: "FROM busybox\nFOO bar" }, /line 2: unknown instruction: FOO/],
    [{ Dockerfile: 'FROM busybox\nCMD ["a", "b"' }, /line 2: CMD: the JSON array is not valid/],
    [{ Dockerfile: "RUN true" }, /no build stage|starts with FROM/],
    [{ Dockerfile: "FROM busybox\nCOPY missing.txt /" }, /line 2.*missing\.txt.*file does not exist/],
    [{ Dockerfile: "FROM busybox\nCOPY ../outside /" }, /line 2.*file does not exist/],
    [{ Dockerfile: "FROM busybox\nRUN echo out; exit 7" }, /The command '\/bin\/sh -c echo out; exit 7' returned a non-zero code: 7 \(Dockerfile line 2\)/],
    [{ "x": "" }, /Cannot locate specified Dockerfile|no such file/],
    // Not here, so pulled: from a port on 127.0.0.1 where nothing listens (no test traffic leaves the host).
    [{ Dockerfile: "FROM 127.0.0.1:1/nosuchimage:1" }, /line 1: pull access denied or image not found: 127\.0\.0\.1:1\/nosuchimage:1/],
  ];
  for (const [files, re] of cases) {
    const dir = context("bad", files);
    const r = d.berth(["build", "--network", "none", dir]);
    assert.equal(r.status, 1, `${JSON.stringify(files)}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  // A context that is not a tar: a plain error answer before any stream.
  const garbage = d.berth(["build", "-"], Buffer.alloc(3000, 7));
  assert.equal(garbage.status, 1);
  assert.match(garbage.stderr, /^Error response from daemon: tar header/);
  assert.equal(garbage.stderr.trim().split("\n").length, 1, garbage.stderr);
  // A bad -t is refused before any step runs (it used to fail only after the whole build).
  const badTag = d.berth(["build", "-t", "Not Valid", context("bad", { Dockerfile: "FROM busybox\nRUN echo should-not-run" })]);
  assert.equal(badTag.status, 1);
  assert.equal(badTag.stdout, "");
  assert.match(badTag.stderr, /^Error response from daemon: invalid reference format: "Not Valid"[^\n]*\n$/);
  assert.equal(berth("ps", "-aq"), "");
  assert.equal(berth("images", "-aq"), images);
});
