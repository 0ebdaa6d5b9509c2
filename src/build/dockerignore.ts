/**
 * .dockerignore with docker's semantics: one pattern per line, `#` comments, paths cleaned and
 * relative to the context root, `*` and `?` within one path element, `**` across elements, `!`
 * re-includes; the last matching pattern decides. A directory that is excluded excludes what is
 * under it unless a later `!` pattern names something inside.
 */
import { readFile } from "node:fs/promises";
import { join, posix } from "node:path";

interface Rule { re: RegExp; negate: boolean }

export class DockerIgnore {
  private constructor(private readonly rules: Rule[]) {}

  static parse(text: string): DockerIgnore {
    const rules: Rule[] = [];
    for (let line of text.split("\n")) {
      line = line.trim();
      if (!line || line.startsWith("#")) continue;
      const negate = line.startsWith("!");
      if (negate) line = line.slice(1).trim();
      const clean = posix.normalize(line).replace(/^\/+/, "").replace(/\/+$/, "");
      if (!clean || clean === ".") continue;
      rules.push({ re: toRegExp(clean), negate });
    }
    return new DockerIgnore(rules);
  }

  static async load(contextDir: string): Promise<DockerIgnore> {
    try {
      return DockerIgnore.parse(await readFile(join(contextDir, ".dockerignore"), "utf8"));
    } catch {
      return new DockerIgnore([]);
    }
  }

  /** Is this context-relative path excluded (itself, or through an excluded parent directory)? */
  ignored(rel: string): boolean {
    const path = posix.normalize(rel).replace(/^\/+/, "");
    let out = false;
    for (const r of this.rules) {
      // A pattern matches the path or one of its parent directories.
      const parts = path.split("/");
      let hit = false;
      for (let i = parts.length; i >= 1 && !hit; i--) hit = r.re.test(parts.slice(0, i).join("/"));
      if (hit) out = !r.negate;
    }
    return out;
  }
}

function toRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      // "**/" matches zero or more directories; a trailing "**" matches everything below.
      if (pattern[i + 2] === "/") { re += "(?:.*/)?"; i += 2; } else { re += ".*"; i += 1; }
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") { const end = pattern.indexOf("]", i); if (end > i) { re += pattern.slice(i, end + 1).replace(/^\[!/, "[^"); i = end; } else re += "\\["; }
    else if (c === "\\" && i + 1 < pattern.length) { re += `\\${pattern[++i]}`; }
    else re += c.replace(/[.+^${}()|]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
