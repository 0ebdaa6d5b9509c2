/**
 * Reads docker's json-file logs written by berth-shim (one JSON object per line; rotated files
 * path.1 … path.N are older). Supports docker's `tail`, `since`, `until` and `follow`; following
 * survives rotation by noticing that the file at `path` was replaced.
 */
import { existsSync, statSync } from "node:fs";
import { open, readFile } from "node:fs/promises";

export interface LogEntry {
  stream: "stdout" | "stderr";
  data: Buffer;
  /** RFC 3339 with nanoseconds, as written. */
  time: string;
}

export interface LogOptions {
  tail?: number;
  /** Unix seconds (fractional allowed). */
  since?: number;
  until?: number;
  follow?: boolean;
  /** Following stops once this says false and everything written was read. */
  running?: () => boolean;
  signal?: AbortSignal;
}

function parse(line: string): LogEntry | undefined {
  try {
    const o = JSON.parse(line) as { log: string; stream: "stdout" | "stderr"; time: string };
    return { stream: o.stream, data: Buffer.from(o.log, "utf8"), time: o.time };
  } catch {
    return undefined;
  }
}

function seconds(time: string): number {
  // Date parses milliseconds only; keep the nanoseconds for since/until comparisons.
  const m = /\.(\d+)Z$/.exec(time);
  const base = Date.parse(time.replace(/\.\d+Z$/, "Z")) / 1000;
  return m ? base + Number(`0.${m[1]}`) : base;
}

function files(path: string): string[] {
  const out: string[] = [];
  for (let i = 1; existsSync(`${path}.${i}`); i++) out.unshift(`${path}.${i}`);
  if (existsSync(path)) out.push(path);
  return out;
}

const inRange = (e: LogEntry, o: LogOptions): boolean => {
  const t = seconds(e.time);
  return (o.since === undefined || o.since <= 0 || t >= o.since) && (o.until === undefined || o.until <= 0 || t <= o.until);
};

export async function* readLogs(path: string, o: LogOptions = {}): AsyncGenerator<LogEntry> {
  let entries: LogEntry[] = [];
  for (const f of files(path)) {
    const text = await readFile(f, "utf8").catch(() => "");
    for (const line of text.split("\n")) {
      if (!line) continue;
      const e = parse(line);
      if (e && inRange(e, o)) entries.push(e);
    }
  }
  if (o.tail !== undefined && o.tail >= 0) entries = o.tail === 0 ? [] : entries.slice(-o.tail);
  yield* entries;
  if (!o.follow) return;

  // Follow: read what is appended to `path` from its current end.
  let ino = existsSync(path) ? statSync(path).ino : 0;
  let pos = existsSync(path) ? statSync(path).size : 0;
  let rest = "";
  for (;;) {
    if (o.signal?.aborted) return;
    let st: ReturnType<typeof statSync> | undefined;
    try { st = statSync(path); } catch { st = undefined; }
    if (st && st.ino !== ino) { ino = st.ino; pos = 0; rest = ""; }
    if (st && st.size > pos) {
      const fh = await open(path, "r");
      try {
        const buf = Buffer.alloc(Number(st.size) - pos);
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        pos += bytesRead;
        rest += buf.subarray(0, bytesRead).toString("utf8");
      } finally {
        await fh.close();
      }
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        const e = line ? parse(line) : undefined;
        if (e && inRange(e, o)) yield e;
      }
      continue;
    }
    if (o.until !== undefined && o.until > 0 && Date.now() / 1000 > o.until) return;
    if (o.running && !o.running()) {
      // One more look: the shim writes the last lines before it reports the exit.
      const again = existsSync(path) ? statSync(path).size : 0;
      if (again <= pos) return;
      continue;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The json-file driver's log options (docker's list); any other is refused at create. */
export const JSON_FILE_OPTS = ["max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"];

/**
 * docker's "details" of a log line (`logs --details`): the labels and environment variables the
 * log options name (labels, labels-regex, env, env-regex), as k=v sorted by key and joined by
 * commas — empty without such options, so each line then starts with a single space.
 */
export function logDetails(opts: Record<string, string>, labels: Record<string, string>, env: string[]): string {
  const out = new Map<string, string>();
  const names = (k: string): string[] => (opts[k] ?? "").split(",").map((x) => x.trim()).filter(Boolean);
  const rx = (k: string): RegExp | undefined => (opts[k] ? new RegExp(opts[k]!) : undefined);
  const lre = rx("labels-regex"), ere = rx("env-regex");
  for (const [k, v] of Object.entries(labels)) if (names("labels").includes(k) || lre?.test(k)) out.set(k, v);
  for (const e of env) {
    const i = e.indexOf("=");
    const k = i < 0 ? e : e.slice(0, i);
    if (names("env").includes(k) || ere?.test(k)) out.set(k, i < 0 ? "" : e.slice(i + 1));
  }
  return [...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join(",");
}
