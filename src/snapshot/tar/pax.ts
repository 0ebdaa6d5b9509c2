/**
 * PAX extended header records (POSIX pax(1) "pax Extended Header"):
 * "<length> <key>=<value>\n", where length counts the whole record in bytes.
 * Values stay Buffers because SCHILY.xattr.* values are binary.
 */
import { InvalidArgument } from "../../errdefs.js";
import type { Timespec } from "./header.js";

export type PaxRecords = [key: string, value: Buffer][];

export function parsePax(data: Buffer): PaxRecords {
  const out: PaxRecords = [];
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad the block with NULs
    const space = data.indexOf(0x20, pos);
    if (space === -1) throw new InvalidArgument("PAX record has no length");
    const lenText = data.toString("latin1", pos, space);
    const len = Number(lenText);
    if (!/^[0-9]+$/.test(lenText) || len <= space - pos + 1 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new InvalidArgument(`PAX record at byte ${pos} has a bad length ${JSON.stringify(lenText)}`);
    }
    const rec = data.subarray(space + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new InvalidArgument(`PAX record at byte ${pos} has no key`);
    out.push([rec.toString("utf8", 0, eq), Buffer.from(rec.subarray(eq + 1))]);
    pos += len;
  }
  return out;
}

function record(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from("\n")]);
  // The length prefix counts its own digits: grow until it is consistent.
  let n = body.length + 1;
  while (String(n).length + body.length !== n) n = String(n).length + body.length;
  return Buffer.concat([Buffer.from(String(n)), body]);
}

export function formatPax(records: PaxRecords): Buffer {
  return Buffer.concat(records.map(([k, v]) => record(k, v)));
}

/** "1700000000.123456789" → Timespec (negative values allowed, as in GNU tar). */
export function parsePaxTime(v: string, what: string): Timespec {
  const m = /^(-?)([0-9]+)(?:\.([0-9]*))?$/.exec(v);
  if (!m) throw new InvalidArgument(`PAX ${what} ${JSON.stringify(v)} is not a number`);
  const sec = Number(m[2]);
  const frac = (m[3] ?? "").slice(0, 9).padEnd(9, "0");
  const nsec = Number(frac);
  if (m[1] === "-") return nsec === 0 ? { sec: -sec, nsec: 0 } : { sec: -sec - 1, nsec: 1e9 - nsec };
  return { sec, nsec };
}

export function formatPaxTime(t: Timespec): string {
  if (t.nsec === 0) return String(t.sec);
  return `${t.sec}.${String(t.nsec).padStart(9, "0").replace(/0+$/, "")}`;
}
