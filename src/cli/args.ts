/**
 * docker's flag grammar: `-it` (combined short booleans), `-e A=1` and `-eA=1`, `--flag=value` and
 * `--flag value`, repeatable flags, `--` ends the flags, and for commands that run a command
 * (run, create, exec) the first positional argument ends the flags too.
 */
import { CliError } from "./errors.js";
import { parseGoDuration } from "../go-duration.js";

export type FlagKind = "bool" | "string" | "list";

export interface FlagSpec {
  /** Long name without dashes; the key the value is stored under. */
  name: string;
  short?: string;
  kind: FlagKind;
  /** Other long names (`--net` for `--network`). */
  aliases?: string[];
}

export interface Parsed {
  flags: Map<string, string | boolean | string[]>;
  args: string[];
}

export function b(name: string, short?: string, aliases?: string[]): FlagSpec { return { name, short, kind: "bool", aliases }; }
export function s(name: string, short?: string, aliases?: string[]): FlagSpec { return { name, short, kind: "string", aliases }; }
export function l(name: string, short?: string, aliases?: string[]): FlagSpec { return { name, short, kind: "list", aliases }; }

export function parseArgs(cmd: string, argv: string[], specs: FlagSpec[], opts: { stopAtPositional?: boolean } = {}): Parsed {
  const long = new Map<string, FlagSpec>();
  const short = new Map<string, FlagSpec>();
  for (const f of [...specs, b("help")]) {
    long.set(f.name, f);
    for (const a of f.aliases ?? []) long.set(a, f);
    if (f.short) short.set(f.short, f);
  }
  const flags = new Map<string, string | boolean | string[]>();
  const args: string[] = [];
  const set = (f: FlagSpec, v: string | boolean): void => {
    if (f.kind === "list") flags.set(f.name, [...((flags.get(f.name) as string[] | undefined) ?? []), String(v)]);
    else flags.set(f.name, v);
  };
  const boolValue = (f: string, v: string): boolean => {
    if (v === "true" || v === "1") return true;
    if (v === "false" || v === "0") return false;
    throw new CliError(`invalid argument "${v}" for "${f}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") { i++; break; }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const f = long.get(name);
      if (!f) throw new CliError(`unknown flag: --${name}\nSee 'berth ${cmd} --help'.`);
      if (f.kind === "bool") { set(f, eq < 0 ? true : boolValue(`--${name}`, a.slice(eq + 1))); continue; }
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new CliError(`flag needs an argument: --${name}\nSee 'berth ${cmd} --help'.`);
      set(f, v);
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const f = short.get(a[k]!);
        if (!f) throw new CliError(`unknown shorthand flag: '${a[k]}' in ${a}\nSee 'berth ${cmd} --help'.`);
        if (f.kind === "bool") { set(f, true); continue; }
        let v = a.slice(k + 1);
        if (v.startsWith("=")) v = v.slice(1);
        if (v === "") {
          const next = argv[++i];
          if (next === undefined) throw new CliError(`flag needs an argument: '${a[k]}' in -${a[k]}\nSee 'berth ${cmd} --help'.`);
          v = next;
        }
        set(f, v);
        break;
      }
      continue;
    }
    args.push(a);
    if (opts.stopAtPositional) { i++; break; }
  }
  args.push(...argv.slice(i));
  return { flags, args };
}

export const str = (p: Parsed, name: string): string | undefined => p.flags.get(name) as string | undefined;
export const bool = (p: Parsed, name: string): boolean => p.flags.get(name) === true;
export const list = (p: Parsed, name: string): string[] => (p.flags.get(name) as string[] | undefined) ?? [];

/** Exactly `n` (or at least `min`) positional arguments, with docker's message otherwise. */
export function needArgs(cmd: string, p: Parsed, min: number, max = Infinity): void {
  if (p.args.length >= min && p.args.length <= max) return;
  const what = max === min ? `exactly ${min} argument${min === 1 ? "" : "s"}` : max === Infinity ? `at least ${min} argument${min === 1 ? "" : "s"}` : `at most ${max} argument${max === 1 ? "" : "s"}`;
  throw new CliError(`"berth ${cmd}" requires ${what}.\nSee 'berth ${cmd} --help'.`);
}

/** docker's time flags (--since, --until): a Go duration ago ("10m", "1h30m", "0.5s"), unix seconds, or a date. */
export function unixTime(flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const d = parseGoDuration(v);
  if (d !== undefined) return ((Date.now() - d) / 1000).toFixed(3); // relative: that long ago
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new CliError(`invalid value for "${flag}": ${v}`);
  return String(Math.floor(t / 1000));
}

/** Repeated --filter name=value flags as the API's `filters` JSON (undefined when none). */
export function filterFlags(p: Parsed): string | undefined {
  const filters: Record<string, string[]> = {};
  for (const f of list(p, "filter")) {
    const i = f.indexOf("=");
    if (i <= 0) throw new CliError("bad format of filter (expected name=value)");
    (filters[f.slice(0, i)] ??= []).push(f.slice(i + 1));
  }
  return Object.keys(filters).length ? JSON.stringify(filters) : undefined;
}
