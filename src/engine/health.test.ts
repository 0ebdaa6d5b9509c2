import { test } from "node:test";
import assert from "node:assert/strict";
import { formatGoDuration, parseGoDuration } from "../go-duration.js";
import { healthSuffix, mergeHealthcheck, probeCommand } from "./health.js";

test("health: the probe's command, the container's check over the image's, the ps suffix", () => {
  assert.deepEqual(probeCommand(["CMD-SHELL", "curl -f x || exit 1"]), ["/bin/sh", "-c", "curl -f x || exit 1"]);
  assert.deepEqual(probeCommand(["CMD", "true"]), ["true"]);
  assert.equal(probeCommand(["NONE"]), undefined);
  assert.equal(probeCommand([]), undefined);
  assert.equal(probeCommand(undefined), undefined);
  const image = { Test: ["CMD", "true"], Interval: 5e9, Retries: 4 };
  assert.deepEqual(mergeHealthcheck({ Interval: 1e9 }, image), { Test: ["CMD", "true"], Interval: 1e9, Retries: 4 });
  assert.deepEqual(mergeHealthcheck({ Test: ["NONE"] }, image), { Test: ["NONE"], Interval: 5e9, Retries: 4 });
  assert.equal(mergeHealthcheck(undefined, null), undefined);
  assert.equal(healthSuffix(undefined), "");
  assert.equal(healthSuffix({ Status: "starting", FailingStreak: 0, Log: [] }), " (health: starting)");
  assert.equal(healthSuffix({ Status: "unhealthy", FailingStreak: 3, Log: [] }), " (unhealthy)");
});

test("Go durations: parsed to milliseconds, printed as Go does", () => {
  assert.equal(parseGoDuration("1h30m"), 5_400_000);
  assert.equal(parseGoDuration("1.5s"), 1500);
  assert.equal(parseGoDuration("250us"), 0.25);
  assert.equal(parseGoDuration("5"), undefined);
  assert.equal(parseGoDuration(""), undefined);
  assert.equal(formatGoDuration(150e6), "150ms");
  assert.equal(formatGoDuration(30e9), "30s");
  assert.equal(formatGoDuration(90e9), "1m30s");
  assert.equal(formatGoDuration(7200e9), "2h0m0s");
});
