/**
 * One tar header block (512 bytes): ustar (POSIX.1-1988) plus the GNU
 * variations layers use. Spec: POSIX pax(1) "ustar Interchange Format";
 * GNU tar manual "Basic Tar Format" for base-256 numbers and old-GNU sparse.
 */
import { InvalidArgument } from "../../errdefs.js";

export const BLOCK = 512;

export type EntryType = "file" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo";

export interface Timespec { sec: number; nsec: number }

export interface SparseMap {
  /** Size of the file once the holes are restored. */
  realSize: number;
  /** Data segments in file order; their lengths add up to the entry's stored size. */
  segments: { offset: number; length: number }[];
}

/** A fully resolved entry header (long names, PAX records and sparse maps applied). */
export interface TarHeader {
  name: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (07777); no file type bits. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data stored in the archive for this entry. */
  size: number;
  mtime: Timespec;
  atime?: Timespec;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes (PAX SCHILY.xattr.<name>). */
  xattrs: Record<string, Buffer>;
  sparse?: SparseMap;
}

/** Raw typeflag values, including the meta entries the reader consumes itself. */
export const TYPEFLAG: Record<EntryType, string> = {
  file: "0", hardlink: "1", symlink: "2", char: "3", block: "4", dir: "5", fifo: "6",
};

export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** Old-GNU sparse fields ('S'): segments in this block, whether extension blocks follow, real size. */
  gnuSparse?: { segments: { offset: number; length: number }[]; extended: boolean; realSize: number };
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes a NUL-terminated field; names must be UTF-8 (we refuse rather than mangle them). */
export function cstring(buf: Buffer, start: number, len: number, what = "name"): string {
  const field = buf.subarray(start, start + len);
  const nul = field.indexOf(0);
  const bytes = nul === -1 ? field : field.subarray(0, nul);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new InvalidArgument(`tar header ${what} ${JSON.stringify(bytes.toString("latin1"))} is not valid UTF-8`);
  }
}

/** Parses an octal field, or GNU base-256 when the high bit of the first byte is set. */
export function parseNumber(buf: Buffer, start: number, len: number, what: string): number {
  const field = buf.subarray(start, start + len);
  if (field[0]! & 0x80) {
    // Base-256, big-endian two's complement: 0x80 marks positive, 0xff negative.
    let v = 0n;
    for (let i = 0; i < len; i++) v = (v << 8n) | BigInt(field[i]!);
    if (field[0] === 0xff) v -= 1n << BigInt(8 * len);
    else v &= (1n << BigInt(8 * len - 1)) - 1n;
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new InvalidArgument(`tar header ${what} out of range`);
    return n;
  }
  const s = field.toString("latin1").replace(/[\0 ]+$/, "").replace(/^[ \0]+/, "");
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new InvalidArgument(`tar header ${what} ${JSON.stringify(s)} is not an octal number`);
  return parseInt(s, 8);
}

export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

function checksumOk(b: Buffer): boolean {
  const stored = parseNumber(b, 148, 8, "checksum");
  let unsigned = 0, signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c >= 0x80 ? c - 0x100 : c;
  }
  // Some historic tars summed signed chars; accept both as GNU tar does.
  return stored === unsigned || stored === signed;
}

function sparsePairs(b: Buffer, start: number, count: number): { offset: number; length: number }[] {
  const out: { offset: number; length: number }[] = [];
  for (let i = 0; i < count; i++) {
    const at = start + i * 24;
    if (b[at] === 0) break;
    out.push({ offset: parseNumber(b, at, 12, "sparse offset"), length: parseNumber(b, at + 12, 12, "sparse length") });
  }
  return out;
}

/** Parses a non-zero header block. Throws InvalidArgument on a bad checksum. */
export function parseHeader(b: Buffer): RawHeader {
  if (!checksumOk(b)) throw new InvalidArgument("tar header checksum mismatch (not a tar stream, or corrupt)");
  const magic = b.toString("latin1", 257, 263);
  const typeflag = b[156] === 0 ? "0" : String.fromCharCode(b[156]!);
  let name = cstring(b, 0, 100);
  // POSIX ustar splits long names into prefix/name; old GNU uses that area for atime/ctime.
  if (magic === "ustar\0" && b[345] !== 0) name = `${cstring(b, 345, 155)}/${name}`;
  const h: RawHeader = {
    name,
    mode: parseNumber(b, 100, 8, "mode"),
    uid: parseNumber(b, 108, 8, "uid"),
    gid: parseNumber(b, 116, 8, "gid"),
    size: parseNumber(b, 124, 12, "size"),
    mtime: parseNumber(b, 136, 12, "mtime"),
    typeflag,
    linkname: cstring(b, 157, 100, "linkname"),
    uname: cstring(b, 265, 32, "uname"),
    gname: cstring(b, 297, 32, "gname"),
    devmajor: magic.startsWith("ustar") ? parseNumber(b, 329, 8, "devmajor") : 0,
    devminor: magic.startsWith("ustar") ? parseNumber(b, 337, 8, "devminor") : 0,
  };
  if (typeflag === "S") {
    h.gnuSparse = { segments: sparsePairs(b, 386, 4), extended: b[482] !== 0, realSize: parseNumber(b, 483, 12, "sparse realsize") };
  }
  return h;
}

/** Parses an old-GNU sparse extension block: 21 more pairs and a continuation flag. */
export function parseSparseExtension(b: Buffer): { segments: { offset: number; length: number }[]; extended: boolean } {
  return { segments: sparsePairs(b, 0, 21), extended: b[504] !== 0 };
}

const OCTAL_MAX = (len: number): number => 8 ** (len - 1) - 1;

function writeOctal(b: Buffer, start: number, len: number, v: number): boolean {
  if (!Number.isInteger(v) || v < 0 || v > OCTAL_MAX(len)) return false;
  b.write(v.toString(8).padStart(len - 1, "0") + "\0", start, len, "latin1");
  return true;
}

/** Fields of a ustar block; the writer decides beforehand (fitsUstar) what goes to PAX. */
export interface UstarFields {
  name: string; mode: number; uid: number; gid: number; size: number; mtime: number; typeflag: string;
  linkname: string; uname: string; gname: string; devmajor: number; devminor: number;
}

/** Splits a name into ustar prefix/name, or returns null when it cannot fit. */
export function splitUstarName(name: string): { prefix: string; name: string } | null {
  const len = Buffer.byteLength(name);
  if (len <= 100) return { prefix: "", name };
  if (len > 256) return null;
  for (let i = name.indexOf("/"); i !== -1; i = name.indexOf("/", i + 1)) {
    const pre = name.slice(0, i), rest = name.slice(i + 1);
    if (Buffer.byteLength(pre) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== "") return { prefix: pre, name: rest };
  }
  return null;
}

/** Encodes one ustar block; fields that do not fit must have been moved to PAX (they are zeroed here). */
export function formatHeader(f: UstarFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  const split = splitUstarName(f.name) ?? { prefix: "", name: f.name.slice(0, 100) };
  b.write(split.name, 0, 100, "utf8");
  writeOctal(b, 100, 8, f.mode & 0o7777);
  writeOctal(b, 108, 8, f.uid) || writeOctal(b, 108, 8, 0);
  writeOctal(b, 116, 8, f.gid) || writeOctal(b, 116, 8, 0);
  writeOctal(b, 124, 12, f.size) || writeOctal(b, 124, 12, 0);
  writeOctal(b, 136, 12, f.mtime) || writeOctal(b, 136, 12, 0);
  b.write(f.typeflag, 156, 1, "latin1");
  if (Buffer.byteLength(f.linkname) <= 100) b.write(f.linkname, 157, 100, "utf8");
  b.write("ustar\x0000", 257, 8, "latin1");
  b.write(f.uname, 265, 31, "utf8");
  b.write(f.gname, 297, 31, "utf8");
  writeOctal(b, 329, 8, f.devmajor) || writeOctal(b, 329, 8, 0);
  writeOctal(b, 337, 8, f.devminor) || writeOctal(b, 337, 8, 0);
  b.write(split.prefix, 345, 155, "utf8");
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
  return b;
}

export { OCTAL_MAX };
