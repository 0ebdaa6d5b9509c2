/**
 * The Dockerfile: parser directives (`# escape=`, `# syntax=`), line continuations, comments,
 * instructions with their flags, JSON (exec) forms, and docker's word processing — quotes,
 * escapes and variable substitution ($v, ${v}, ${v:-w}, ${v:+w}, ${v-w}, ${v+w}).
 */
import { InvalidArgument } from "../errdefs.js";

export interface Instruction {
  /** Upper-case keyword: RUN, COPY, … */
  cmd: string;
  /** The arguments as written (continuations joined), flags removed. */
  args: string;
  /** --name=value flags given before the arguments. */
  flags: Record<string, string>;
  /** The exec form, when the arguments are a JSON array of strings. */
  json?: string[];
  /** 1-based line where the instruction starts. */
  line: number;
  /** The instruction as written, for history and errors. */
  original: string;
  /** Here-documents (RUN, COPY, ADD): `<<EOF` … `EOF` lines that follow the instruction. */
  heredocs?: Heredoc[];
}

export interface Heredoc {
  name: string;
  /** The lines between the marker and the terminator, each ending in a newline. */
  body: string;
}

const HEREDOC_FORMS = new Set(["RUN", "COPY", "ADD"]);

export const KNOWN = new Set(["FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"]);
const JSON_FORMS = new Set(["RUN", "CMD", "ENTRYPOINT", "SHELL", "VOLUME", "COPY", "ADD"]);
const FLAGGED = new Set(["FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"]);

export class DockerfileError extends InvalidArgument {
  constructor(line: number, msg: string) {
    super(`Dockerfile parse error line ${line}: ${msg}`);
  }
}

export function parseDockerfile(text: string): Instruction[] {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  let escape = "\\";
  let i = 0;
  // Parser directives: only at the very top, before any instruction, comment or blank line.
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$/.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (key === "escape") {
      if (m[2] !== "\\" && m[2] !== "`") throw new DockerfileError(i + 1, `invalid escape token '${m[2]}': must be \` or \\`);
      escape = m[2]!;
    } else if (key !== "syntax" && key !== "check") break;
  }
  const out: Instruction[] = [];
  while (i < lines.length) {
    const start = i;
    let raw = lines[i++]!;
    if (/^\s*(#|$)/.test(raw)) continue;
    // Continuations: an escape at the end of the line joins the next; comment lines inside are dropped.
    let text = raw.replace(/\s+$/, "");
    while (text.endsWith(escape) && i <= lines.length) {
      text = text.slice(0, -1);
      let next: string | undefined;
      while (i < lines.length && /^\s*#/.test(next = lines[i]!)) i++;
      if (i >= lines.length) break;
      next = lines[i++]!;
      raw += `\n${next}`;
      text += next.replace(/\s+$/, "");
    }
    const m = /^\s*(\S+)\s*(.*)$/s.exec(text);
    if (!m) continue;
    const cmd = m[1]!.toUpperCase();
    if (!KNOWN.has(cmd)) throw new DockerfileError(start + 1, `unknown instruction: ${m[1]}`);
    let rest = m[2]!.trim();
    const flags: Record<string, string> = {};
    if (FLAGGED.has(cmd)) {
      for (;;) {
        const f = /^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?\s*/.exec(rest);
        if (!f) break;
        flags[f[1]!] = f[2] ?? "true";
        rest = rest.slice(f[0].length);
      }
    }
    const ins: Instruction = { cmd, args: rest, flags, line: start + 1, original: text.trim() };
    // Here-documents: each `<<[-]WORD` (WORD may be quoted) takes the lines up to a line that is WORD.
    if (HEREDOC_FORMS.has(cmd) && !rest.startsWith("[")) {
      for (const m of rest.matchAll(/<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g)) {
        const body: string[] = [];
        for (;;) {
          if (i >= lines.length) throw new DockerfileError(start + 1, `unterminated heredoc ${m[3]}`);
          const l = m[1] ? lines[i++]!.replace(/^\t+/, "") : lines[i++]!;
          if (l === m[3]) break;
          body.push(`${l}\n`);
        }
        (ins.heredocs ??= []).push({ name: m[3]!, body: body.join("") });
      }
    }
    if (JSON_FORMS.has(cmd) && rest.startsWith("[")) {
      let parsed: unknown;
      try { parsed = JSON.parse(rest); } catch { throw new DockerfileError(start + 1, `${cmd}: the JSON array is not valid (${rest.length > 40 ? `${rest.slice(0, 40)}…` : rest})`); }
      if (!Array.isArray(parsed) || parsed.some((x) => typeof x !== "string")) throw new DockerfileError(start + 1, `${cmd}: the JSON form must be an array of strings`);
      ins.json = parsed as string[];
    }
    out.push(ins);
  }
  return out;
}

/**
 * docker's word processing: splits on unquoted whitespace (when `split`), removes quotes, applies
 * escapes and expands variables from `env`. Single quotes keep everything literal.
 */
export function processWords(s: string, env: Record<string, string>, escape = "\\", split = true): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let i = 0;
  const expand = (): string => {
    // At a '$'.
    i++;
    if (s[i] === "{") {
      const end = s.indexOf("}", i);
      if (end < 0) throw new InvalidArgument(`missing '}' in "${s}"`);
      const body = s.slice(i + 1, end);
      i = end + 1;
      const m = /^([a-zA-Z_][a-zA-Z0-9_]*)(?:(:?[-+])(.*))?$/s.exec(body);
      if (!m) throw new InvalidArgument(`bad substitution: \${${body}} in "${s}"`);
      const v = env[m[1]!];
      const op = m[2];
      if (!op) return v ?? "";
      const word = processWords(m[3] ?? "", env, escape, false).join("");
      const set = op.startsWith(":") ? v !== undefined && v !== "" : v !== undefined;
      return op.endsWith("-") ? (set ? v! : word) : set ? word : "";
    }
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i));
    if (!m) return "$";
    i += m[0].length;
    return env[m[0]] ?? "";
  };
  while (i < s.length) {
    const c = s[i]!;
    if (split && /\s/.test(c)) {
      if (inWord) { words.push(cur); cur = ""; inWord = false; }
      i++;
      continue;
    }
    inWord = true;
    if (c === escape && i + 1 < s.length) { cur += s[i + 1]; i += 2; continue; }
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new InvalidArgument(`unexpected end of statement while looking for matching single-quote in "${s}"`);
      cur += s.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === escape && i + 1 < s.length && ['"', escape, "$"].includes(s[i + 1]!)) { cur += s[i + 1]; i += 2; }
        else if (s[i] === "$") cur += expand();
        else cur += s[i++];
      }
      if (i >= s.length) throw new InvalidArgument(`unexpected end of statement while looking for matching double-quote in "${s}"`);
      i++;
      continue;
    }
    if (c === "$") { cur += expand(); continue; }
    cur += c;
    i++;
  }
  if (inWord || (!split && words.length === 0)) words.push(cur);
  return words;
}

/** One word (quotes removed, variables expanded), without splitting: WORKDIR, USER, STOPSIGNAL… */
export const processWord = (s: string, env: Record<string, string>, escape = "\\"): string => processWords(s, env, escape, false).join("");

/**
 * ENV and LABEL arguments: `key=value …` pairs (quoted values), or the old `key value` form where
 * the rest of the line is the value.
 */
export function keyValues(args: string, env: Record<string, string>, what: string, line: number): [string, string][] {
  const first = /^(\S+?)(=|\s|$)/.exec(args);
  if (!first) throw new DockerfileError(line, `${what} requires at least one argument`);
  if (first[2] !== "=") {
    const rest = args.slice(first[1]!.length).trim();
    if (!rest) throw new DockerfileError(line, `${what} names must have a value: ${first[1]}`);
    return [[processWord(first[1]!, env), processWord(rest, env)]];
  }
  return processWords(args, env).map((w) => {
    const eq = w.indexOf("=");
    if (eq <= 0) throw new DockerfileError(line, `${what}: "${w}" is not of the form key=value`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}
