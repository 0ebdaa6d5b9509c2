import { test } from "node:test";
import assert from "node:assert/strict";
import { bytesSize, goTime, humanDuration, humanSize, table, template } from "./format.js";

test("Go templates: fields, json, range, if/else, index, join, pipes", () => {
  const ctx = { State: { Pid: 42, Running: true }, Config: { Env: ["A=1", "B=2"], Labels: { k: "v" } }, Mounts: [{ Source: "/a" }, { Source: "/b" }] };
  assert.equal(template("{{.State.Pid}}").render(ctx), "42");
  assert.equal(template("{{json .Config.Env}}").render(ctx), '["A=1","B=2"]');
  assert.equal(template("{{.Config.Labels | json}}").render(ctx), '{"k":"v"}');
  assert.equal(template("{{range .Mounts}}{{.Source}} {{end}}").render(ctx), "/a /b ");
  assert.equal(template("{{if .State.Running}}up{{else}}down{{end}}").render(ctx), "up");
  assert.equal(template('{{index .Config.Labels "k"}}').render(ctx), "v");
  assert.equal(template('{{join .Config.Env ","}}').render(ctx), "A=1,B=2");
  assert.equal(template("{{.Missing}}").render(ctx), "<no value>");
  assert.throws(() => template("{{range .Mounts}}x").render(ctx), /missing \{\{end\}\}/);
  assert.throws(() => template("{{frobnicate .X}}").render(ctx), /function "frobnicate" not defined/);
});

test("table formats name their columns as docker does", () => {
  const t = template("table {{.ID}}\\t{{.Names}}\\t{{.RunningFor}}");
  assert.ok(t.table);
  assert.deepEqual(t.header, ["ID", "NAMES", "RUNNING FOR"]);
  assert.equal(table([["A", "BB"], ["ccc", "d"]]), "A     BB\nccc   d\n");
});

test("docker's human units", () => {
  assert.equal(humanDuration(500), "Less than a second");
  assert.equal(humanDuration(5000), "5 seconds");
  assert.equal(humanDuration(61_000), "About a minute");
  assert.equal(humanDuration(3 * 3600_000), "3 hours");
  assert.equal(humanSize(2_140_000), "2.14MB");
  assert.equal(bytesSize(64 * 1024 * 1024), "64MiB");
  assert.equal(bytesSize(512), "512B");
});

test("Go templates: variables in range, assignments, $ for the root, with, maps in key order", () => {
  const data = { Name: "/web", NetworkSettings: { Networks: { zeta: { IPAddress: "10.0.0.2" }, alpha: { IPAddress: "10.1.0.2" } } }, State: { Status: "running" }, Empty: {}, Ports: ["80/tcp", "443/tcp"] };
  const r = (f: string): string => template(f).render(data);
  assert.equal(r("{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}"), "alpha=10.1.0.2 zeta=10.0.0.2 ");
  assert.equal(r("{{range $v := .NetworkSettings.Networks}}{{$v.IPAddress}},{{end}}"), "10.1.0.2,10.0.0.2,");
  assert.equal(r("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{$.Name}};{{end}}"), "10.1.0.2 /web;10.0.0.2 /web;");
  assert.equal(r("{{$n := .Name}}{{with .State}}{{.Status}} {{$n}}{{end}}"), "running /web");
  assert.equal(r("{{with .Empty}}x{{else}}none{{end}}"), "none");
  assert.equal(r("{{range $i, $p := .Ports}}{{$i}}:{{$p}} {{end}}"), "0:80/tcp 1:443/tcp ");
  assert.throws(() => r("{{$nope}}"), /undefined variable "\$nope"/);
  assert.equal(template("json").render({ A: 1, B: [2] }), '{"A":1,"B":[2]}', "--format json is {{json .}}");
});

test("CreatedAt as Go prints a time", () => {
  const t = goTime(1_700_000_000);
  assert.match(t, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+$/);
  if (new Date(0).getTimezoneOffset() === 0 && Intl.DateTimeFormat().resolvedOptions().timeZone === "UTC") assert.equal(t, "2023-11-14 22:13:20 +0000 UTC");
});
