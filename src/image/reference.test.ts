import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgument } from "../errdefs.js";
import { familiarName, familiarString, formatReference, parseReference } from "./reference.js";

const D = `sha256:${"a".repeat(64)}`;

const valid: [string, string, string][] = [
  // input, fully qualified, familiar
  ["busybox", "docker.io/library/busybox:latest", "busybox:latest"],
  ["busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"],
  ["library/busybox", "docker.io/library/busybox:latest", "busybox:latest"],
  ["docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"],
  ["index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"],
  ["user/x", "docker.io/user/x:latest", "user/x:latest"],
  ["user/x:v1.0-rc_1", "docker.io/user/x:v1.0-rc_1", "user/x:v1.0-rc_1"],
  [`busybox@${D}`, `docker.io/library/busybox@${D}`, `busybox@${D}`],
  [`busybox:1.36@${D}`, `docker.io/library/busybox:1.36@${D}`, `busybox:1.36@${D}`],
  ["localhost/x", "localhost/x:latest", "localhost/x:latest"],
  ["localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"],
  ["localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t"],
  ["127.0.0.1:5000/x:tag", "127.0.0.1:5000/x:tag", "127.0.0.1:5000/x:tag"],
  ["[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest"],
  ["registry.example.com/team/app", "registry.example.com/team/app:latest", "registry.example.com/team/app:latest"],
  ["Registry.Example.com/app", "Registry.Example.com/app:latest", "Registry.Example.com/app:latest"],
  ["user/a__b.c-d---e_f", "docker.io/user/a__b.c-d---e_f:latest", "user/a__b.c-d---e_f:latest"],
  ["localhost:5000", "docker.io/library/localhost:5000", "localhost:5000"],
];

for (const [input, full, fam] of valid) {
  test(`parses ${input}`, () => {
    const r = parseReference(input);
    assert.equal(formatReference(r), full);
    assert.equal(familiarString(r), fam);
  });
}

const invalid: [string, RegExp][] = [
  ["", /reference is empty/],
  ["Busybox", /repository name \(library\/Busybox\) must be lowercase/],
  ["user/Repo", /repository name \(user\/Repo\) must be lowercase/],
  ["localhost:5000/X", /must be lowercase/],
  ["busybox:", /tag "" must match/],
  ["busybox:-bad", /tag "-bad" must match/],
  [`busybox:${"t".repeat(129)}`, /tag .* must match/],
  ["busybox@sha256:abc", /sha256 digest must be 64 lowercase hex/],
  [`busybox@md5:${"a".repeat(32)}`, /algorithm "md5" is not supported/],
  ["busybox@@x", /more than one '@'/],
  ["busybox@x", /digest "x" is not algorithm:hex/],
  [`busybox@${D}@${D}`, /more than one '@'/],
  ["/busybox", /empty path component/],
  ["a//b", /empty path component/],
  ["busybox/", /empty path component/],
  ["bad_-/x", /path component "bad_-"/],
  ["-x", /path component "-x"/],
  ["has space", /whitespace/],
  ["ex-.com:5000/x", /registry "ex-.com:5000"/],
  ["a".repeat(64), /image ID, not a repository name/],
  [`x/${"a".repeat(250)}`, /more than 255/],
  [":tag", /repository name is empty/],
  ["a__b.c/f", /registry "a__b.c" is not a valid host/],
];

for (const [input, re] of invalid) {
  test(`refuses ${JSON.stringify(input.length > 40 ? input.slice(0, 40) + "…" : input)}`, () => {
    assert.throws(() => parseReference(input), (e: unknown) => {
      assert.ok(e instanceof InvalidArgument, `expected InvalidArgument, got ${String(e)}`);
      assert.match(e.message, /^invalid reference format: /);
      assert.match(e.message, re);
      return true;
    });
  });
}

test("defaultTag:false keeps a bare name without tag", () => {
  const r = parseReference("busybox", { defaultTag: false });
  assert.equal(r.tag, undefined);
  assert.equal(formatReference(r), "docker.io/library/busybox");
});

test("familiarName drops docker.io and library/ only where docker does", () => {
  assert.equal(familiarName("docker.io/library/busybox"), "busybox");
  assert.equal(familiarName("docker.io/user/x"), "user/x");
  assert.equal(familiarName("docker.io/library/a/b"), "library/a/b");
  assert.equal(familiarName("localhost:5000/library/x"), "localhost:5000/library/x");
});
