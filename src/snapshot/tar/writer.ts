/**
 * Streaming tar writer: ustar blocks, with a PAX header in front of an entry
 * whenever a field does not fit ustar (long or non-ASCII names, big sizes or
 * ids, sub-second mtimes) or it carries xattrs (SCHILY.xattr.*, as GNU tar and
 * Docker write them). The archive ends with two zero blocks.
 */
import { InvalidArgument } from "../../errdefs.js";
import { BLOCK, OCTAL_MAX, TYPEFLAG, formatHeader, splitUstarName, type EntryType, type Timespec } from "./header.js";
import { formatPax, formatPaxTime, type PaxRecords } from "./pax.js";

export interface TarWriteHeader {
  name: string;
  type: EntryType;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Required for files; must equal the body's length. */
  size?: number;
  mtime?: Timespec;
  linkname?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, Buffer>;
}

export interface TarWriteEntry {
  header: TarWriteHeader;
  body?: Buffer | AsyncIterable<Buffer> | Iterable<Buffer>;
}

const ascii = (s: string): boolean => /^[\x01-\x7f]*$/.test(s);

function paxRecords(h: Required<Omit<TarWriteHeader, "xattrs">> & { xattrs: Record<string, Buffer> }): PaxRecords {
  const recs: PaxRecords = [];
  const add = (k: string, v: string | Buffer): number => recs.push([k, typeof v === "string" ? Buffer.from(v) : v]);
  if (!ascii(h.name) || !splitUstarName(h.name)) add("path", h.name);
  if (!ascii(h.linkname) || Buffer.byteLength(h.linkname) > 100) add("linkpath", h.linkname);
  if (h.size > OCTAL_MAX(12)) add("size", String(h.size));
  if (h.uid > OCTAL_MAX(8)) add("uid", String(h.uid));
  if (h.gid > OCTAL_MAX(8)) add("gid", String(h.gid));
  if (!ascii(h.uname) || Buffer.byteLength(h.uname) > 31) add("uname", h.uname);
  if (!ascii(h.gname) || Buffer.byteLength(h.gname) > 31) add("gname", h.gname);
  if (h.mtime.nsec !== 0 || h.mtime.sec < 0 || h.mtime.sec > OCTAL_MAX(12)) add("mtime", formatPaxTime(h.mtime));
  for (const k of Object.keys(h.xattrs).sort()) add(`SCHILY.xattr.${k}`, h.xattrs[k]!);
  return recs;
}

function padding(n: number): Buffer {
  const p = (BLOCK - (n % BLOCK)) % BLOCK;
  return Buffer.alloc(p);
}

/** Encodes the header blocks (PAX + ustar) of one entry. */
export function encodeHeader(input: TarWriteHeader): Buffer {
  if (input.name === "" || input.name.includes("\0")) throw new InvalidArgument(`tar entry name ${JSON.stringify(input.name)} is empty or contains NUL`);
  let name = input.name;
  if (input.type === "dir" && !name.endsWith("/")) name += "/";
  const h = {
    name, type: input.type, mode: input.mode ?? (input.type === "dir" ? 0o755 : 0o644), uid: input.uid ?? 0, gid: input.gid ?? 0,
    size: input.type === "file" ? input.size ?? 0 : 0, mtime: input.mtime ?? { sec: 0, nsec: 0 }, linkname: input.linkname ?? "",
    uname: input.uname ?? "", gname: input.gname ?? "", devmajor: input.devmajor ?? 0, devminor: input.devminor ?? 0, xattrs: input.xattrs ?? {},
  };
  const ustar = formatHeader({ ...h, mtime: h.mtime.sec, typeflag: TYPEFLAG[h.type] });
  const recs = paxRecords(h);
  if (recs.length === 0) return ustar;
  const data = formatPax(recs);
  const base = name.replace(/\/$/, "").split("/").pop()!;
  const paxName = `PaxHeaders.0/${ascii(base) ? base : "entry"}`.slice(0, 100);
  const paxHdr = formatHeader({ name: paxName, mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 0, typeflag: "x", linkname: "", uname: "", gname: "", devmajor: 0, devminor: 0 });
  return Buffer.concat([paxHdr, data, padding(data.length), ustar]);
}

/** Writes entries as a tar stream. Bodies are streamed; a body of the wrong length is an error. */
export async function* writeTar(entries: AsyncIterable<TarWriteEntry> | Iterable<TarWriteEntry>): AsyncGenerator<Buffer> {
  for await (const e of entries) {
    yield encodeHeader(e.header);
    if (e.header.type !== "file") continue;
    const want = e.header.size ?? 0;
    let got = 0;
    if (e.body) {
      const chunks = Buffer.isBuffer(e.body) ? [e.body] : e.body;
      for await (const c of chunks) {
        got += c.length;
        if (got > want) throw new InvalidArgument(`tar entry ${JSON.stringify(e.header.name)}: body longer than its size ${want}`);
        yield c;
      }
    }
    if (got !== want) throw new InvalidArgument(`tar entry ${JSON.stringify(e.header.name)}: body has ${got} bytes, header says ${want}`);
    const p = padding(want);
    if (p.length) yield p;
  }
  yield Buffer.alloc(2 * BLOCK);
}
