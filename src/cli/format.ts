/**
 * What docker prints: aligned tables, "2 minutes ago", sizes in SI units, and `--format` with Go
 * template semantics for the common cases — `{{.A.B}}`, `{{json .A}}`, `{{range .A}}…{{end}}`
 * (maps in key order), `{{range $k, $v := .M}}`, `{{$x := .A}}`, `{{$.A}}`, `{{with .A}}`,
 * `{{if .A}}…{{else}}…{{end}}`, `{{index .M "k"}}`, `{{join .L ","}}`, `{{upper .A}}`,
 * `{{lower .A}}`, `{{.A | json}}`, the `table` prefix, and `json` alone for `{{json .}}`.
 */
import { CliError } from "./errors.js";

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** docker's 12-character short ID (image IDs lose their sha256: first). */
export const shortId = (id: string): string => id.replace(/^sha256:/, "").slice(0, 12);

export function ago(dateOrSeconds: string | number): string {
  const t = typeof dateOrSeconds === "number" ? dateOrSeconds * 1000 : Date.parse(dateOrSeconds);
  return `${humanDuration(Date.now() - t)} ago`;
}

/** A time as Go's time.Time String() prints it, in local time ("2026-12-02 10:53:58 +0000 UTC"): docker's CreatedAt. */
export function goTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number): string => String(n).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const zone = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(d).find((x) => x.type === "timeZoneName")?.value ?? "";
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${off < 0 ? "-" : "+"}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)} ${zone}`;
}

/**
 * go-units HumanSizeWithPrecision: SI units, `digits` significant digits — 3 where docker's
 * images and ps print sizes ("2.14MB"), 4 (go-units' HumanSize) in system df ("307.2kB").
 */
export function humanSize(n: number, digits = 3): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${Number(v.toPrecision(digits))}${units[i]}`;
}

/** go-units BytesSize: binary units ("64MiB"), as docker stats prints. */
export function bytesSize(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${Number(v.toFixed(i === 0 ? 0 : 2)).toString()}${units[i]}`;
}

/** Columns padded to the widest cell plus three spaces, as docker's tabwriter. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, [...c].length); });
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("").trimEnd()).join("\n") + (rows.length ? "\n" : "");
}

// ---- Go templates (the subset docker users write) ----

type Node =
  | { t: "text"; v: string }
  | { t: "expr"; v: string }
  | { t: "range"; v: string; body: Node[]; alt: Node[] }
  | { t: "if" | "with"; v: string; body: Node[]; alt: Node[] };

/** Template variables: `$` (the data given to the template) and those the template declares. */
type Vars = Map<string, unknown>;

function parseTemplate(src: string): Node[] {
  const tokens: { text?: string; action?: string }[] = [];
  const re = /\{\{-?\s*(.*?)\s*-?\}\}/gs;
  let last = 0;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    if (m.index > last) tokens.push({ text: src.slice(last, m.index) });
    tokens.push({ action: m[1]! });
    last = re.lastIndex;
  }
  if (last < src.length) tokens.push({ text: src.slice(last) });
  let pos = 0;
  const block = (inside: boolean): { nodes: Node[]; ended: "end" | "else" | "eof" } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const tok = tokens[pos++]!;
      if (tok.text !== undefined) { nodes.push({ t: "text", v: tok.text }); continue; }
      const a = tok.action!;
      if (a === "end") return { nodes, ended: "end" };
      if (a === "else") return { nodes, ended: "else" };
      const kw = /^(range|if|with)\s+(.*)$/.exec(a);
      if (kw) {
        const body = block(true);
        let alt: Node[] = [];
        if (body.ended === "else") alt = block(true).nodes;
        else if (body.ended === "eof") throw new CliError(`template: unexpected EOF: missing {{end}} for {{${a}}}`);
        nodes.push({ t: kw[1] as "range" | "if" | "with", v: kw[2]!, body: body.nodes, alt });
        continue;
      }
      nodes.push({ t: "expr", v: a });
    }
    if (inside) return { nodes, ended: "eof" };
    return { nodes, ended: "eof" };
  };
  const out = block(false);
  if (out.ended !== "eof") throw new CliError(`template: unexpected {{${out.ended}}}`);
  return out.nodes;
}

function field(ctx: unknown, path: string): unknown {
  if (path === ".") return ctx;
  let cur: unknown = ctx;
  for (const k of path.replace(/^\./, "").split(".")) {
    if (cur === null || cur === undefined) return undefined;
    if (typeof cur !== "object") throw new CliError(`template: can't evaluate field ${k} in type ${typeof cur}`);
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function goString(v: unknown): string {
  if (v === null || v === undefined) return "<no value>";
  if (Array.isArray(v)) return `[${v.map(goString).join(" ")}]`;
  if (typeof v === "object") return `map[${Object.entries(v as object).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => `${k}:${goString(x)}`).join(" ")}]`;
  return String(v);
}

function arg(ctx: unknown, a: string, vars: Vars): unknown {
  if (a.startsWith(".")) return field(ctx, a);
  const v = /^\$(\w*)((?:\.\w+)*)$/.exec(a);
  if (v) {
    if (!vars.has(v[1]!)) throw new CliError(`template: undefined variable "$${v[1]}"`);
    return v[2] ? field(vars.get(v[1]!), v[2]) : vars.get(v[1]!);
  }
  if (/^".*"$/.test(a)) return JSON.parse(a);
  if (/^-?\d+(\.\d+)?$/.test(a)) return Number(a);
  throw new CliError(`template: function "${a}" not defined`);
}

function splitArgs(s: string): string[] {
  return s.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
}

function call(ctx: unknown, expr: string, vars: Vars): unknown {
  const stages = expr.split("|").map((x) => x.trim());
  let val: unknown;
  stages.forEach((stage, i) => {
    const parts = splitArgs(stage);
    const [fn, ...rest] = parts;
    const args = rest.map((a) => arg(ctx, a, vars));
    if (i > 0) args.push(val);
    switch (fn) {
      case "json": val = JSON.stringify(args[0] ?? null); break;
      case "upper": val = String(args[0] ?? "").toUpperCase(); break;
      case "lower": val = String(args[0] ?? "").toLowerCase(); break;
      case "title": val = String(args[0] ?? "").replace(/\b\w/g, (c) => c.toUpperCase()); break;
      case "len": val = Array.isArray(args[0]) ? args[0].length : typeof args[0] === "object" && args[0] ? Object.keys(args[0]).length : String(args[0] ?? "").length; break;
      case "index": val = (args[0] as Record<string, unknown> | undefined)?.[String(args[1])]; break;
      case "join": val = ((args[0] as unknown[] | undefined) ?? []).join(String(args[1] ?? "")); break;
      case "println": val = `${args.map(goString).join(" ")}\n`; break;
      default:
        if (fn === undefined) throw new CliError("template: empty command");
        if (parts.length !== 1 || i > 0) throw new CliError(`template: function "${fn}" not defined`);
        val = arg(ctx, fn, vars);
    }
  });
  return val;
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === "object") return Object.keys(v).length > 0;
  return !!v;
}

/** `$k, $v := EXPR`, `$v := EXPR` or EXPR: the declared names and the expression. */
function declaration(v: string): { names: string[]; expr: string } {
  const m = /^(\$\w+)\s*(?:,\s*(\$\w+)\s*)?:?=\s*(.*)$/s.exec(v);
  return m ? { names: [m[1]!, m[2]].filter((x): x is string => !!x).map((x) => x.slice(1)), expr: m[3]! } : { names: [], expr: v };
}

function render(nodes: Node[], ctx: unknown, vars: Vars): string {
  let out = "";
  for (const n of nodes) {
    if (n.t === "text") out += n.v;
    else if (n.t === "expr") {
      const d = declaration(n.v);
      const v = call(ctx, d.expr, vars);
      if (d.names.length) vars.set(d.names[0]!, v); // {{$x := …}} prints nothing
      else out += typeof v === "string" ? v : goString(v);
    } else if (n.t === "if") out += render(truthy(call(ctx, n.v, vars)) ? n.body : n.alt, ctx, new Map(vars));
    else if (n.t === "with") {
      const v = call(ctx, n.v, vars);
      out += truthy(v) ? render(n.body, v, new Map(vars)) : render(n.alt, ctx, new Map(vars));
    } else {
      const d = declaration(n.v);
      const v = call(ctx, d.expr, vars);
      // Go ranges over a map in key order; $k, $v name the key (or index) and the element.
      const items: [unknown, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x])
        : v && typeof v === "object" ? Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]) : [];
      out += items.length ? items.map(([k, x]) => {
        const scope = new Map(vars);
        if (d.names.length === 1) scope.set(d.names[0]!, x);
        if (d.names.length === 2) { scope.set(d.names[0]!, k); scope.set(d.names[1]!, x); }
        return render(n.body, x, scope);
      }).join("") : render(n.alt, ctx, new Map(vars));
    }
  }
  return out;
}

/** Compiles a --format; `table …` prints a header row made from the field names. */
export function template(fmt: string): { table: boolean; header: string[]; render: (ctx: unknown) => string } {
  if (fmt.trim() === "json") fmt = "{{json .}}"; // docker's --format json: each item as one JSON line
  const isTable = fmt.startsWith("table");
  const body = (isTable ? fmt.slice(5).trim() : fmt).replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  const nodes = parseTemplate(body);
  const header = isTable ? body.split("\t").map((col) => {
    const m = /\{\{\s*\.(\w+)\s*\}\}/.exec(col);
    return m ? m[1]!.replace(/([a-z])([A-Z])/g, "$1 $2").toUpperCase().replace(/^ID$/, "ID") : col.trim();
  }) : [];
  return { table: isTable, header, render: (ctx) => render(nodes, ctx, new Map([["", ctx]])) };
}

/** Prints rows through --format (a table when it says so) or as the default table. */
export function printRows(rows: Record<string, unknown>[], format: string | undefined, defaultTable: { header: string[]; cells: (r: Record<string, unknown>) => string[] }): void {
  if (format && format !== "table") {
    const t = template(format);
    if (t.table) {
      const lines = rows.map((r) => t.render(r).split("\t"));
      process.stdout.write(table([t.header, ...lines]));
    } else {
      for (const r of rows) process.stdout.write(`${t.render(r)}\n`);
    }
    return;
  }
  process.stdout.write(table([defaultTable.header, ...rows.map(defaultTable.cells)]));
}
