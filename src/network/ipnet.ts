/** IPv4 addresses and subnets as numbers: parse, contain, overlap, and the host's routes. */
import { readFileSync } from "node:fs";
import { InvalidArgument } from "../errdefs.js";

export interface Subnet {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  bits: number;
}

export function parseIp(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m || m.slice(1).some((x) => Number(x) > 255)) throw new InvalidArgument(`invalid IPv4 address: ${s}`);
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

const mask = (bits: number): number => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);

/** "10.1.0.0/16"; with `strict`, host bits must be zero (docker refuses 10.1.0.1/16 as a subnet). */
export function parseSubnet(s: string, strict = true): Subnet & { ip: number } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s.trim());
  if (!m || Number(m[2]) > 32) throw new InvalidArgument(`invalid subnet ${s}: expected an IPv4 CIDR like 10.1.0.0/24`);
  const ip = parseIp(m[1]!);
  const bits = Number(m[2]);
  const base = (ip & mask(bits)) >>> 0;
  if (strict && base !== ip) throw new InvalidArgument(`invalid subnet ${s}: host bits are set (did you mean ${formatIp(base)}/${bits}?)`);
  return { base, bits, ip };
}

export const formatSubnet = (s: Subnet): string => `${formatIp(s.base)}/${s.bits}`;

export function contains(s: Subnet, ip: number): boolean {
  return ((ip & mask(s.bits)) >>> 0) === s.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const bits = Math.min(a.bits, b.bits);
  return ((a.base & mask(bits)) >>> 0) === ((b.base & mask(bits)) >>> 0);
}

/** The host's IPv4 routes (not the default route), except those through the given interfaces. */
export function hostRoutes(exceptInterfaces: (name: string) => boolean = () => false): Subnet[] {
  let text = "";
  try { text = readFileSync("/proc/net/route", "utf8"); } catch { return []; }
  const out: Subnet[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || exceptInterfaces(f[0]!)) continue;
    // Little-endian hex of the address bytes: reading them as LE gives the address as a number.
    const le = (h: string): number => Buffer.from(h.padStart(8, "0"), "hex").readUInt32LE(0);
    const m = le(f[7]!);
    if (m === 0) continue;
    const bits = Math.clz32(~m >>> 0);
    out.push({ base: (le(f[1]!) & mask(bits)) >>> 0, bits });
  }
  return out;
}
