/**
 * Streaming tar reader: ustar, GNU long names/links ('L'/'K'), PAX local and
 * global headers ('x'/'g': path, linkpath, size, uid, gid, uname, gname,
 * mtime, atime, SCHILY.xattr.*) and sparse files (old-GNU 'S' and PAX
 * GNU.sparse 0.0/0.1/1.0). Entry data is streamed, never buffered whole.
 */
import { InvalidArgument, NotImplemented } from "../../errdefs.js";
import { ByteReader, type ChunkSource } from "./byte-reader.js";
import { BLOCK, isZeroBlock, parseHeader, parseSparseExtension, type EntryType, type RawHeader, type SparseMap, type TarHeader } from "./header.js";
import { parsePax, parsePaxTime, type PaxRecords } from "./pax.js";

export interface TarEntry {
  header: TarHeader;
  /** The entry's stored data; skipped automatically if not (fully) consumed. */
  body: AsyncIterable<Buffer>;
}

/** Meta entries (PAX, long names) are read into memory, so they are bounded. */
const MAX_META = 1 << 20;

const TYPES: Record<string, EntryType> = {
  "0": "file", "7": "file", "1": "hardlink", "2": "symlink", "3": "char", "4": "block", "5": "dir", "6": "fifo", S: "file", D: "dir",
};

const pad = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function text(v: Buffer, what: string): string {
  try { return strictUtf8.decode(v); } catch { throw new InvalidArgument(`tar ${what} is not valid UTF-8`); }
}

function decimal(v: Buffer, what: string): number {
  const s = v.toString("latin1");
  const n = Number(s);
  if (!/^[0-9]+$/.test(s) || !Number.isSafeInteger(n)) throw new InvalidArgument(`PAX ${what} ${JSON.stringify(s)} is not a non-negative integer`);
  return n;
}

async function readMeta(r: ByteReader, raw: RawHeader): Promise<Buffer> {
  if (raw.size > MAX_META) throw new InvalidArgument(`tar meta entry '${raw.typeflag}' of ${raw.size} bytes exceeds ${MAX_META}`);
  const data = raw.size === 0 ? Buffer.alloc(0) : Buffer.from((await r.read(raw.size))!);
  await r.skip(pad(raw.size));
  return data;
}

function stripNul(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.subarray(0, end);
}

/** Reads the GNU.sparse 1.0 map stored in front of the data: decimal lines, padded to a block. */
async function readSparseMap10(r: ByteReader): Promise<{ segments: { offset: number; length: number }[]; bytes: number }> {
  let buf = Buffer.alloc(0);
  let bytes = 0;
  const nums: number[] = [];
  let want = -1;
  while (want === -1 || nums.length < 1 + want * 2) {
    let nl = buf.indexOf(0x0a);
    while (nl === -1) {
      const blk = await r.read(BLOCK);
      if (!blk) throw new InvalidArgument("tar stream truncated in a sparse map");
      bytes += BLOCK;
      buf = Buffer.concat([buf, blk]);
      if (buf.length > MAX_META) throw new InvalidArgument("GNU sparse map too large");
      nl = buf.indexOf(0x0a);
    }
    nums.push(decimal(buf.subarray(0, nl), "GNU.sparse map"));
    buf = buf.subarray(nl + 1);
    if (want === -1) want = nums[0]!;
  }
  const segments = [];
  for (let i = 0; i < want; i++) segments.push({ offset: nums[1 + 2 * i]!, length: nums[2 + 2 * i]! });
  return { segments, bytes };
}

function applyPax(h: TarHeader, recs: PaxRecords): void {
  for (const [k, v] of recs) {
    switch (k) {
      case "path": h.name = text(v, "PAX path"); break;
      case "linkpath": h.linkname = text(v, "PAX linkpath"); break;
      case "size": h.size = decimal(v, "size"); break;
      case "uid": h.uid = decimal(v, "uid"); break;
      case "gid": h.gid = decimal(v, "gid"); break;
      case "uname": h.uname = text(v, "PAX uname"); break;
      case "gname": h.gname = text(v, "PAX gname"); break;
      case "mtime": h.mtime = parsePaxTime(v.toString("latin1"), "mtime"); break;
      case "atime": h.atime = parsePaxTime(v.toString("latin1"), "atime"); break;
      default:
        if (k.startsWith("SCHILY.xattr.")) h.xattrs[k.slice("SCHILY.xattr.".length)] = v;
        else if (k.startsWith("LIBARCHIVE.xattr.")) {
          h.xattrs[decodeURIComponent(k.slice("LIBARCHIVE.xattr.".length))] = Buffer.from(v.toString("latin1"), "base64");
        }
    }
  }
}

/** PAX sparse formats 0.0 and 0.1 carry the map in records; 1.0 in front of the data. */
function paxSparse(recs: PaxRecords): { version: string; name?: string; realSize?: number; segments?: { offset: number; length: number }[] } | null {
  const get = (k: string): Buffer | undefined => [...recs].reverse().find(([key]) => key === k)?.[1];
  const major = get("GNU.sparse.major")?.toString(), minor = get("GNU.sparse.minor")?.toString();
  const name = get("GNU.sparse.name");
  const real = get("GNU.sparse.realsize") ?? get("GNU.sparse.size");
  const base = { name: name && text(name, "GNU.sparse.name"), realSize: real && decimal(real, "GNU.sparse.realsize") };
  if (major === "1" && minor === "0") return { version: "1.0", ...base };
  const map = get("GNU.sparse.map");
  if (map) {
    const nums = map.toString("latin1").split(",").map((s) => decimal(Buffer.from(s), "GNU.sparse.map"));
    if (nums.length % 2) throw new InvalidArgument("GNU.sparse.map has an odd number of values");
    const segments = [];
    for (let i = 0; i < nums.length; i += 2) segments.push({ offset: nums[i]!, length: nums[i + 1]! });
    return { version: "0.1", ...base, segments };
  }
  if (get("GNU.sparse.numblocks")) {
    const offs = recs.filter(([k]) => k === "GNU.sparse.offset"), lens = recs.filter(([k]) => k === "GNU.sparse.numbytes");
    if (offs.length !== lens.length) throw new InvalidArgument("GNU sparse 0.0 map has unpaired offset/numbytes");
    return { version: "0.0", ...base, segments: offs.map(([, o], i) => ({ offset: decimal(o, "sparse offset"), length: decimal(lens[i]![1], "sparse numbytes") })) };
  }
  if (major || minor) throw new NotImplemented(`GNU sparse format ${major}.${minor} is not supported`);
  return null;
}

/** Reads a tar stream entry by entry. After the end-of-archive blocks it drains the source. */
export async function* readTar(src: ChunkSource): AsyncGenerator<TarEntry> {
  const r = new ByteReader(src);
  let global: PaxRecords = [];
  let local: PaxRecords = [];
  let longName: string | undefined, longLink: string | undefined;
  let remaining = 0; // unread data + padding of the previous entry
  let seq = 0; // bodies may only be read while their entry is the current one
  for (;;) {
    seq++;
    if (remaining > 0) await r.skip(remaining);
    remaining = 0;
    const at = r.offset;
    const blk = await r.read(BLOCK);
    if (!blk) break;
    if (isZeroBlock(blk)) {
      const next = await r.read(BLOCK);
      if (next && !isZeroBlock(next)) throw new InvalidArgument(`tar stream has a lone zero block at byte ${at}`);
      break;
    }
    let raw: RawHeader;
    try { raw = parseHeader(blk); } catch (err) { throw new InvalidArgument(`tar header at byte ${at}: ${(err as Error).message}`, { cause: err }); }
    switch (raw.typeflag) {
      case "x": local = local.concat(parsePax(await readMeta(r, raw))); continue;
      case "g": global = global.concat(parsePax(await readMeta(r, raw))); continue;
      case "L": longName = text(stripNul(await readMeta(r, raw)), "GNU long name"); continue;
      case "K": longLink = text(stripNul(await readMeta(r, raw)), "GNU long link"); continue;
      case "V": remaining = raw.size + pad(raw.size); continue; // volume label: not a file
    }
    let type = TYPES[raw.typeflag];
    if (!type) {
      const what = raw.typeflag === "M" ? "multi-volume continuation" : `type '${raw.typeflag}'`;
      throw new InvalidArgument(`tar entry ${JSON.stringify(raw.name)} has unsupported ${what}`);
    }
    const h: TarHeader = {
      name: raw.name, type, mode: raw.mode & 0o7777, uid: raw.uid, gid: raw.gid, size: raw.size,
      mtime: { sec: raw.mtime, nsec: 0 }, linkname: raw.linkname, uname: raw.uname, gname: raw.gname,
      devmajor: raw.devmajor, devminor: raw.devminor, xattrs: {},
    };
    const recs = global.concat(local);
    applyPax(h, recs);
    if (longName !== undefined) h.name = longName;
    if (longLink !== undefined) h.linkname = longLink;
    local = []; longName = undefined; longLink = undefined;
    if (h.type === "file" && h.name.endsWith("/") && raw.typeflag !== "S") h.type = "dir"; // pre-POSIX directories

    let sparse: SparseMap | undefined;
    if (raw.gnuSparse) {
      const segs = [...raw.gnuSparse.segments];
      let ext = raw.gnuSparse.extended;
      while (ext) {
        const eb = await r.read(BLOCK);
        if (!eb) throw new InvalidArgument(`tar stream truncated in sparse header of ${JSON.stringify(h.name)}`);
        const e = parseSparseExtension(eb);
        segs.push(...e.segments);
        ext = e.extended;
      }
      sparse = { realSize: raw.gnuSparse.realSize, segments: segs };
    }
    const ps = paxSparse(recs);
    const stored = h.size;
    let dataLeft = h.size;
    if (ps) {
      if (ps.name !== undefined) h.name = ps.name;
      let segments = ps.segments;
      if (ps.version === "1.0") {
        const m = await readSparseMap10(r);
        segments = m.segments;
        dataLeft -= m.bytes;
        if (dataLeft < 0) throw new InvalidArgument(`sparse map of ${JSON.stringify(h.name)} is larger than its entry`);
      }
      sparse = { realSize: ps.realSize ?? h.size, segments: segments! };
    }
    if (sparse) {
      const covered = sparse.segments.reduce((a, s) => a + s.length, 0);
      if (covered !== dataLeft) throw new InvalidArgument(`sparse map of ${JSON.stringify(h.name)} covers ${covered} bytes but the entry stores ${dataLeft}`);
      h.sparse = sparse;
      h.size = dataLeft;
    }
    // Data and padding follow the header (and the 1.0 map) whatever the type;
    // only regular files hand theirs out, the rest is skipped.
    const entryPad = pad(stored);
    let unread = dataLeft;
    remaining = unread + entryPad;
    const mine = seq;
    const body: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: async function* () {
        if (mine !== seq) throw new InvalidArgument(`tar entry ${JSON.stringify(h.name)}: body read after the reader moved on`);
        if (h.type !== "file") return;
        for await (const c of r.chunks(unread)) {
          unread -= c.length;
          remaining -= c.length;
          yield c;
        }
      },
    };
    if (h.type !== "file") h.size = 0;
    yield { header: h, body };
  }
  await r.drain();
}
