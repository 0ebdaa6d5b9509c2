/** Polls a condition every 100 ms until it holds; fails the test with what was awaited after `ms`. */
import assert from "node:assert/strict";

export async function until(what: string, cond: () => boolean, ms = 10000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}
