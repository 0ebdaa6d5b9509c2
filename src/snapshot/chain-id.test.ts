import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chainId } from "./chain-id.js";

const d1 = `sha256:${"1".repeat(64)}`, d2 = `sha256:${"2".repeat(64)}`, d3 = `sha256:${"3".repeat(64)}`;
const sha = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

test("chainId follows the OCI definition", () => {
  assert.equal(chainId([d1]), d1);
  assert.equal(chainId([d1, d2]), sha(`${d1} ${d2}`));
  assert.equal(chainId([d1, d2, d3]), sha(`${sha(`${d1} ${d2}`)} ${d3}`));
  assert.throws(() => chainId([]), /no layers/);
  assert.throws(() => chainId(["md5:x"]), /not a sha256 digest/);
});
