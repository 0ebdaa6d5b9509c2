import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { releaseFifo } from "./runtime.js";
import { procStartTime, type SavedState } from "./state.js";

const saved = (pid: number): SavedState => ({ version: 1, id: "t", pid, startTime: procStartTime(pid) ?? 0, bundle: "/", rootfs: "/", created: "", cgroupPath: "/", namespaces: [] });

test("start releases a process waiting on the exec fifo, and gives up at once when that process died without opening it", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "berth-fifo-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, "exec.fifo");
  assert.equal(spawnSync("mkfifo", ["-m", "0622", fifo]).status, 0);
  // A process that opens the fifo for writing (blocking until a reader comes) and writes a byte.
  const waiter = spawn("sh", ["-c", `printf 0 > ${fifo}; sleep 0.2`], { stdio: "ignore" });
  const waiterExit = new Promise((r) => waiter.once("exit", r));
  assert.equal(await releaseFifo(fifo, saved(waiter.pid!)), true);
  await waiterExit;
  // A process that ends without ever opening it: no reader blocks in open(2), start just fails.
  const quitter = spawn("sleep", ["0.3"], { stdio: "ignore" });
  const quitterExit = new Promise((r) => quitter.once("exit", r));
  const t0 = Date.now();
  assert.equal(await releaseFifo(fifo, saved(quitter.pid!)), false);
  assert.ok(Date.now() - t0 < 3000, "noticed soon after the process ended");
  await quitterExit;
});
