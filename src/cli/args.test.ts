import { test } from "node:test";
import assert from "node:assert/strict";
import { b, bool, l, list, parseArgs, s, str, unixTime } from "./args.js";
import { parseGoDuration as goDuration } from "../go-duration.js";
import { CliError } from "./errors.js";
import { createBody, mountFlag, RUN_FLAGS, sizeFlag } from "./run-config.js";

const specs = [b("interactive", "i"), b("tty", "t"), b("detach", "d"), l("env", "e"), s("name"), s("memory", "m"), s("network", undefined, ["net"])];

test("combined short flags, attached and separate values, repeatable flags", () => {
  const p = parseArgs("run", ["-dit", "-eA=1", "-e", "B=2", "--name=x", "-m64m", "--net", "none", "img", "cmd", "-e", "notaflag"], specs, { stopAtPositional: true });
  assert.ok(bool(p, "detach") && bool(p, "interactive") && bool(p, "tty"));
  assert.deepEqual(list(p, "env"), ["A=1", "B=2"]);
  assert.equal(str(p, "name"), "x");
  assert.equal(str(p, "memory"), "64m");
  assert.equal(str(p, "network"), "none");
  assert.deepEqual(p.args, ["img", "cmd", "-e", "notaflag"], "flags after the image belong to the command");
});

test("-- ends the flags; --flag=false; unknown and value-less flags are errors", () => {
  assert.deepEqual(parseArgs("rm", ["--", "-x"], specs).args, ["-x"]);
  assert.equal(bool(parseArgs("run", ["--tty=false", "i"], specs), "tty"), false);
  assert.throws(() => parseArgs("ps", ["--bogus"], specs), (e: unknown) => e instanceof CliError && /unknown flag: --bogus/.test(e.message) && e.exitCode === 125);
  assert.throws(() => parseArgs("ps", ["-x"], specs), /unknown shorthand flag: 'x' in -x/);
  assert.throws(() => parseArgs("run", ["--name"], specs), /flag needs an argument: --name/);
});

test("run flags become docker's create body", () => {
  const p = parseArgs("run", ["-m", "64m", "--memory-swap", "-1", "--cpus", "1.5", "-c", "512", "--pids-limit", "10", "-v", "/h:/c:ro", "-v", "/anon", "--restart", "on-failure:3", "--ulimit", "nofile=10:20", "-l", "a=b", "--health-cmd", "curl -f localhost", "--health-interval", "1m30s", "--health-retries", "2", "busybox", "echo", "hi"], RUN_FLAGS, { stopAtPositional: true });
  const { image, body } = createBody(p);
  const hc = body.HostConfig as Record<string, any>;
  assert.equal(image, "busybox");
  assert.deepEqual(body.Cmd, ["echo", "hi"]);
  assert.equal(hc.Memory, 64 * 1024 * 1024);
  assert.equal(hc.MemorySwap, -1);
  assert.equal(hc.NanoCpus, 1.5e9);
  assert.equal(hc.CpuShares, 512);
  assert.equal(hc.PidsLimit, 10);
  assert.deepEqual(hc.Binds, ["/h:/c:ro"]);
  assert.deepEqual(body.Volumes, { "/anon": {} });
  assert.deepEqual(hc.RestartPolicy, { Name: "on-failure", MaximumRetryCount: 3 });
  assert.deepEqual(hc.Ulimits, [{ Name: "nofile", Soft: 10, Hard: 20 }]);
  assert.deepEqual(body.Labels, { a: "b" });
  assert.deepEqual(body.Healthcheck, { Test: ["CMD-SHELL", "curl -f localhost"], Interval: 90e9, Timeout: undefined, StartPeriod: undefined, StartInterval: undefined, Retries: 2 });
  const rm = createBody(parseArgs("run", ["--rm", "--no-healthcheck", "busybox"], RUN_FLAGS, { stopAtPositional: true })).body;
  assert.equal((rm.HostConfig as Record<string, unknown>).AutoRemove, true);
  assert.deepEqual(rm.Healthcheck, { Test: ["NONE"] });
});

test("bad values are refused before anything reaches the daemon", () => {
  assert.equal(sizeFlag("-m", "1.5g"), 1.5 * 1024 ** 3);
  assert.throws(() => sizeFlag("--memory", "lots"), /invalid argument "lots" for "--memory" flag/);
  const bad = (...a: string[]) => () => createBody(parseArgs("run", [...a, "busybox"], RUN_FLAGS, { stopAtPositional: true }));
  assert.throws(bad("--cpus", "x"), /failed to parse x as a rational number/);
  assert.throws(bad("--pids-limit", "ten"), /invalid argument "ten" for "--pids-limit"/);
  assert.throws(bad("--restart", "sometimes"), /invalid restart policy/);
  assert.throws(bad("--ulimit", "nofile"), /invalid ulimit argument/);
  assert.throws(bad("--health-interval", "often"), /invalid argument "often" for "--health-interval" flag: time: invalid duration "often"/);
  assert.throws(bad("--health-retries", "x"), /invalid argument "x" for "--health-retries"/);
  assert.throws(bad("--no-healthcheck", "--health-cmd", "true"), /--no-healthcheck conflicts with --health-\* options/);
  assert.throws(bad("--rm", "--restart", "always"), /Conflicting options: --restart and --rm/);
  assert.throws(bad("-e", "=x"), /invalid environment variable: =x/);
});

test("--since/--until: Go durations are that long ago; unix seconds and dates pass; other text is refused", () => {
  assert.equal(goDuration("10m"), 600_000);
  assert.equal(goDuration("1h30m"), 5_400_000);
  assert.equal(goDuration("0.5s"), 500);
  assert.equal(goDuration("300ms"), 300);
  assert.equal(goDuration("1.5"), undefined);
  assert.equal(goDuration("10x"), undefined);
  const ago = Number(unixTime("since", "0.5s"));
  assert.ok(Math.abs(Date.now() / 1000 - 0.5 - ago) < 2, `0.5s ago: ${ago}`);
  assert.equal(unixTime("since", "1700000000.25"), "1700000000.25");
  assert.equal(unixTime("since", "2023-11-14T22:13:20Z"), "1700000000");
  assert.throws(() => unixTime("since", "yesterday-ish"), /invalid value for "since": yesterday-ish/);
});

test("--mount: docker's key=value list as the API's Mount, and its errors", () => {
  assert.deepEqual(mountFlag("type=bind,src=/h,dst=/c,readonly,bind-propagation=rshared"), { Type: "bind", Source: "/h", Target: "/c", ReadOnly: true, BindOptions: { Propagation: "rshared" } });
  assert.deepEqual(mountFlag("source=v,target=/data,volume-nocopy,volume-label=a=b"), { Type: "volume", Source: "v", Target: "/data", VolumeOptions: { NoCopy: true, Labels: { a: "b" } } });
  assert.deepEqual(mountFlag("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770"), { Type: "tmpfs", Target: "/t", TmpfsOptions: { SizeBytes: 1 << 20, Mode: 0o1770 } });
  assert.deepEqual(mountFlag("dst=/anon,ro=false"), { Type: "volume", Target: "/anon", ReadOnly: false });
  assert.throws(() => mountFlag("type=bind,dst=/x"), /source is required when specifying bind mounts/);
  assert.throws(() => mountFlag("src=/x"), /target is required/);
  assert.throws(() => mountFlag("type=nfs,dst=/x"), /invalid mount type: nfs/);
  assert.throws(() => mountFlag("dst=/x,color=red"), /unexpected key 'color'/);
});
