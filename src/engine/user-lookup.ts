/**
 * docker's `User` (and `--group-add`) resolved against the image's /etc/passwd and /etc/group, as
 * runc's user package does: "name", "uid", "name:group", "uid:gid"; a numeric uid absent from
 * passwd is used as is with gid 0; supplementary groups are the groups listing the user.
 */
import { readFileSync } from "node:fs";
import { InvalidArgument } from "../errdefs.js";
import { secureJoin } from "../secure-join.js";

export interface ExecUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

function readLines(rootfs: string, path: string): string[][] {
  try {
    return readFileSync(secureJoin(rootfs, path), "utf8").split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
  } catch {
    return [];
  }
}

const isNum = (s: string): boolean => /^\d+$/.test(s);

export function lookupUser(rootfs: string, user: string | undefined, groupAdd: string[] = []): ExecUser {
  const passwd: PasswdEntry[] = readLines(rootfs, "/etc/passwd").map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? "/" }));
  const groups: GroupEntry[] = readLines(rootfs, "/etc/group").map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? "").split(",").filter(Boolean) }));
  const [u = "", g] = (user ?? "").split(":", 2);
  const out: ExecUser = { uid: 0, gid: 0, additionalGids: [], home: "/" };
  let name: string | undefined;
  if (u !== "") {
    const entry = passwd.find((p) => (isNum(u) ? p.uid === Number(u) : p.name === u));
    if (entry) {
      Object.assign(out, { uid: entry.uid, gid: entry.gid, home: entry.home });
      name = entry.name;
    } else if (isNum(u)) {
      out.uid = Number(u);
    } else {
      throw new InvalidArgument(`unable to find user ${u}: no matching entries in passwd file`);
    }
  } else {
    const root = passwd.find((p) => p.uid === 0);
    if (root) { out.home = root.home; name = root.name; }
  }
  if (g !== undefined && g !== "") {
    const ge = groups.find((x) => (isNum(g) ? x.gid === Number(g) : x.name === g));
    if (ge) out.gid = ge.gid;
    else if (isNum(g)) out.gid = Number(g);
    else throw new InvalidArgument(`unable to find group ${g}: no matching entries in group file`);
  } else if (name) {
    out.additionalGids = groups.filter((x) => x.members.includes(name!) && x.gid !== out.gid).map((x) => x.gid);
  }
  for (const add of groupAdd) {
    const ge = groups.find((x) => (isNum(add) ? x.gid === Number(add) : x.name === add));
    if (ge) out.additionalGids.push(ge.gid);
    else if (isNum(add)) out.additionalGids.push(Number(add));
    else throw new InvalidArgument(`unable to find group ${add}: no matching entries in group file`);
  }
  out.additionalGids = [...new Set(out.additionalGids)];
  return out;
}
