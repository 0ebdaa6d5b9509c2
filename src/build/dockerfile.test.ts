/** The Dockerfile parser, docker's word processing and .dockerignore matching. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { keyValues, parseDockerfile, processWord, processWords } from "./dockerfile.js";
import { DockerIgnore } from "./dockerignore.js";

test("parse: instructions, flags, JSON forms, continuations, comments and line numbers", () => {
  const ins = parseDockerfile([
    "# syntax=docker/dockerfile:1",
    "FROM --platform=linux/amd64 busybox AS base",
    "",
    "# a comment",
    "RUN echo one \\",
    "# inside a continuation",
    "    two",
    'CMD ["sh", "-c", "echo hi"]',
    "copy --chown=1:2 --from=base /a /b",
    "ENTRYPOINT echo",
  ].join("\n"));
  assert.deepEqual(ins.map((i) => [i.cmd, i.line]), [["FROM", 2], ["RUN", 5], ["CMD", 8], ["COPY", 9], ["ENTRYPOINT", 10]]);
  assert.deepEqual(ins[0]!.flags, { platform: "linux/amd64" });
  assert.equal(ins[0]!.args, "busybox AS base");
  assert.equal(ins[1]!.args, "echo one     two");
  assert.deepEqual(ins[2]!.json, ["sh", "-c", "echo hi"]);
  assert.deepEqual(ins[3]!.flags, { chown: "1:2", from: "base" });
  assert.equal(ins[4]!.json, undefined);
});

test("parse: the escape directive, and errors with line numbers", () => {
  const ins = parseDockerfile("# escape=`\nFROM busybox\nRUN echo a `\n  b\nCOPY c:\\path\\x /");
  assert.equal(ins[1]!.args, "echo a   b");
  assert.equal(ins[2]!.args, "c:\\path\\x /");
  assert.throws(() => parseDockerfile("FROM busybox\nBOGUS x"), /line 2: unknown instruction: BOGUS/);
  assert.throws(() => parseDockerfile('FROM busybox\n\nCMD ["a",'), /line 3: CMD: the JSON array is not valid/);
  assert.throws(() => parseDockerfile("FROM busybox\nCMD [1, 2]"), /array of strings/);
  assert.throws(() => parseDockerfile("# escape=x\nFROM busybox"), /invalid escape token/);
});

test("words: quotes, escapes and substitution as docker's shell lexer", () => {
  const env = { A: "1", B: "two words", E: "" };
  assert.deepEqual(processWords(`$A "$B" '$B' \\$A \${A}x`, env), ["1", "two words", "$B", "$A", "1x"]);
  assert.equal(processWord("${Z:-dflt}-${E:-e}-${E-f}-${A:+set}-${Z:+no}-${E+set2}", env), "dflt-e--set--set2");
  assert.equal(processWord('a" b "c', env), "a b c");
  assert.equal(processWord("$", env), "$");
  assert.throws(() => processWord("${A", env), /missing '}'/);
  assert.throws(() => processWord("'open", env), /single-quote/);
  assert.deepEqual(keyValues('A=1 B="x y" C=a\\ b', env, "ENV", 1), [["A", "1"], ["B", "x y"], ["C", "a b"]]);
  assert.deepEqual(keyValues("OLD the rest of the line", env, "ENV", 1), [["OLD", "the rest of the line"]]);
  assert.throws(() => keyValues("ALONE", env, "ENV", 4), /line 4: ENV names must have a value/);
});

test(".dockerignore: wildcards, ** across directories, ! exceptions in order, parents excluding children", () => {
  const ig = DockerIgnore.parse("# comment\n*.log\n!keep.log\nsecret/\n**/tmp\n/build\ndocs/*.md\n!docs/README.md\n");
  const cases: [string, boolean][] = [
    ["a.log", true], ["keep.log", false], ["sub/a.log", false], ["secret", true], ["secret/key", true],
    ["tmp", true], ["x/y/tmp", true], ["x/y/tmp/z", true], ["build/out", true], ["docs/a.md", true],
    ["docs/README.md", false], ["docs/sub/a.md", false], ["src/main.c", false],
  ];
  for (const [path, want] of cases) assert.equal(ig.ignored(path), want, path);
});

test("parse: here-documents for RUN and COPY, <<- strips tabs, an unterminated one is an error", () => {
  const ins = parseDockerfile("FROM busybox\nRUN <<EOF\necho a\necho b\nEOF\nRUN cat <<-'X' > /f\n\tindented\n\tX\nCOPY <<C /c\nk=v\nC\nCMD x");
  assert.deepEqual(ins.map((i) => [i.cmd, i.line]), [["FROM", 1], ["RUN", 2], ["RUN", 6], ["COPY", 9], ["CMD", 12]]);
  assert.deepEqual(ins[1]!.heredocs, [{ name: "EOF", body: "echo a\necho b\n" }]);
  assert.deepEqual(ins[2]!.heredocs, [{ name: "X", body: "indented\n" }]);
  assert.deepEqual(ins[3]!.heredocs, [{ name: "C", body: "k=v\n" }]);
  assert.throws(() => parseDockerfile("FROM busybox\nRUN <<EOF\necho a"), /line 2: unterminated heredoc EOF/);
  assert.equal(parseDockerfile("FROM busybox\nRUN echo $((1<<2))")[1]!.heredocs, undefined);
});
