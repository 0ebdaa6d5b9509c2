/**
 * Command-line parsing with runc's (urfave/cli) grammar: `--flag value`, `--flag=value`, short
 * aliases, repeatable string flags, booleans, and flags only before positional arguments (so
 * `exec c1 sh -c x` passes `-c` to sh).
 */
import { InvalidArgument } from "../../errdefs.js";

export interface FlagSpec {
  name: string;
  alias?: string;
  kind: "bool" | "string" | "list";
}

export interface Parsed {
  flags: Record<string, string | boolean | string[]>;
  args: string[];
}

export function parseArgs(argv: string[], specs: FlagSpec[], stopAtFirstPositional = true): Parsed {
  const flags: Parsed["flags"] = {};
  const args: string[] = [];
  const find = (n: string): FlagSpec | undefined => specs.find((s) => s.name === n || s.alias === n);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") { args.push(...argv.slice(i + 1)); break; }
    if (!a.startsWith("-") || a === "-") {
      args.push(a);
      if (stopAtFirstPositional) {
        // After the first positional argument everything else is positional too, except that
        // runc still accepts flags between the id and the command of `exec`; we do not.
        args.push(...argv.slice(i + 1));
        break;
      }
      continue;
    }
    const body = a.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = find(name);
    if (!spec) throw new InvalidArgument(`flag provided but not defined: -${name}`);
    if (spec.kind === "bool") {
      flags[spec.name] = eq >= 0 ? body.slice(eq + 1) !== "false" : true;
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = body.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new InvalidArgument(`flag needs an argument: -${name}`);
    if (spec.kind === "list") ((flags[spec.name] ??= []) as string[]).push(value);
    else flags[spec.name] = value;
  }
  return { flags, args };
}

export const str = (p: Parsed, n: string): string | undefined => p.flags[n] as string | undefined;
export const bool = (p: Parsed, n: string): boolean => p.flags[n] === true;
export const list = (p: Parsed, n: string): string[] => (p.flags[n] as string[] | undefined) ?? [];
