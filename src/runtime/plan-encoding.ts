/**
 * Field encoding of the shim plan (docs/shim-protocol.md): every byte outside
 * [A-Za-z0-9._/:=,+@-] becomes %XX, so a field never holds a space or a newline.
 */
const SAFE = /^[A-Za-z0-9._/:=,+@-]$/;
const ALL_SAFE = /^[A-Za-z0-9._/:=,+@-]*$/;

export function encodeField(s: string): string {
  if (ALL_SAFE.test(s)) return s; // most fields (a plan has a few thousand): no byte to escape
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && SAFE.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export function decodeField(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "%" && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(s[i]!, "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}
