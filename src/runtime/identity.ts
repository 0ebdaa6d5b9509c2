/** The `identity` plan line: uid, gid, groups and the five capability sets. */
import type { Process } from "./spec.js";
import { readFileSync } from "node:fs";
import { capMask } from "./capabilities.js";

/** The caller's own capability sets (hex), kept when the spec has no capabilities object. */
function ownCaps(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of readFileSync("/proc/self/status", "utf8").matchAll(/^Cap(Inh|Prm|Eff|Bnd|Amb):\s+([0-9a-f]+)$/gm)) out[m[1]!] = m[2]!;
  return out;
}
const OWN_KEY: Record<string, string> = { bounding: "Bnd", effective: "Eff", permitted: "Prm", inheritable: "Inh", ambient: "Amb" };

export function identityLine(process: Process, userns: boolean, field: string): { fields: string[]; warnings: string[] } {
  const warnings: string[] = [];
  const u = process.user ?? { uid: 0, gid: 0 };
  const groups = u.additionalGids?.length ? u.additionalGids.join(",") : "-";
  const caps = process.capabilities;
  const set = (name: keyof NonNullable<Process["capabilities"]>): string => {
    // No capabilities object at all keeps what the runtime holds, as runc does.
    if (!caps) return ownCaps()[OWN_KEY[name]!] ?? "0";
    const r = capMask(caps[name] ?? [], `${field}.capabilities.${name}`);
    warnings.push(...r.warnings);
    // A capability outside our own bounding set cannot be granted (this host's root lacks
    // CAP_SYS_RESOURCE): leave it out with a warning instead of failing capset.
    const bnd = BigInt(`0x${ownCaps().Bnd ?? "0"}`);
    const lost = r.mask & ~bnd;
    if (lost !== 0n && name === "bounding") warnings.push(`${field}.capabilities: not held by the runtime and left out: mask 0x${lost.toString(16)}`);
    return (r.mask & bnd).toString(16);
  };
  const fields = [
    "identity", String(u.uid), String(u.gid), groups,
    set("bounding"), set("effective"), set("permitted"), set("inheritable"), set("ambient"),
  ];
  void userns;
  return { fields, warnings };
}
