import { test } from "node:test";
import assert from "node:assert/strict";
import { bytesSize, humanDuration, humanSize, table, template } from "./format.js";

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
