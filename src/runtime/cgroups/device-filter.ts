/**
 * Device rules on cgroup v2: v2 has no devices controller; the kernel asks an eBPF program of
 * type BPF_PROG_TYPE_CGROUP_DEVICE attached to the group (Documentation/admin-guide/cgroup-v2.rst,
 * "Device controller"). This module writes that program from OCI linux.resources.devices; the
 * native addon only loads and attaches it (native/addon/bpf.c).
 *
 * Semantics, the same as v1's devices.allow/deny written in order: the last rule that matches a
 * request decides; a request no rule matches is allowed (a fresh v1 group inherits allow-all, and
 * OCI/docker rule lists start with a deny of everything anyway).
 *
 * The program sees struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; } with
 * access_type = (access << 16) | type; type BLOCK 1, CHAR 2; access MKNOD 1, READ 2, WRITE 4.
 */
import { addon } from "../../snapshot/sys.js";
import type { DeviceRule } from "../spec.js";
import { checkDeviceRule } from "./convert.js";

/** Puts a program on a cgroup2 directory in place of the device programs there before (null: none). */
export type DeviceFilterAttach = (cgroupDir: string, program: Buffer | null) => void | Promise<void>;

export const attachDeviceFilter: DeviceFilterAttach = (dir, program) => addon().attachDeviceFilter(dir, program);

const TYPE: Record<string, number> = { b: 1, c: 2 };
const ACCESS: Record<string, number> = { m: 1, r: 2, w: 4 };

// eBPF opcodes used (include/uapi/linux/bpf_common.h, bpf.h).
const LDX_MEM_W = 0x61; // dst = *(u32 *)(src + off)
const MOV64_REG = 0xbf;
const MOV64_IMM = 0xb7;
const AND64_IMM = 0x57;
const RSH64_IMM = 0x77;
const JNE32_IMM = 0x56; // if (u32)dst != imm goto pc + 1 + off
const EXIT = 0x95;

type Insn = [op: number, dst: number, src: number, off: number, imm: number];

function encode(insns: Insn[]): Buffer {
  const b = Buffer.alloc(insns.length * 8);
  insns.forEach(([op, dst, src, off, imm], i) => {
    b.writeUInt8(op, i * 8);
    b.writeUInt8(((src & 0xf) << 4) | (dst & 0xf), i * 8 + 1);
    b.writeInt16LE(off, i * 8 + 2);
    b.writeInt32LE(imm | 0, i * 8 + 4);
  });
  return b;
}

/** The program for a rule list (validated: type a|b|c, access letters from "rwm", numbers). */
export function deviceFilterProgram(rules: DeviceRule[]): Buffer {
  const prog: Insn[] = [
    [LDX_MEM_W, 2, 1, 0, 0], // r2 = access_type
    [MOV64_REG, 3, 2, 0, 0], // r3 = access_type
    [AND64_IMM, 2, 0, 0, 0xffff], // r2 = type
    [RSH64_IMM, 3, 0, 0, 16], // r3 = access
    [LDX_MEM_W, 4, 1, 4, 0], // r4 = major
    [LDX_MEM_W, 5, 1, 8, 0], // r5 = minor
  ];
  // Last rule first: the first block that matches returns its verdict.
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i]!;
    const { type, access, major, minor } = checkDeviceRule(r, `linux.resources.devices[${i}].`);
    const bits = [...access].reduce((a, c) => a | ACCESS[c]!, 0);
    // Each test jumps past this rule's block when the request does not match (offsets set below).
    const body: Insn[] = [];
    if (type !== "a") body.push([JNE32_IMM, 2, 0, 0, TYPE[type]!]);
    if (bits !== 7) body.push([MOV64_REG, 1, 3, 0, 0], [AND64_IMM, 1, 0, 0, ~bits & 7], [JNE32_IMM, 1, 0, 0, 0]); // access the rule does not name
    if (major !== undefined) body.push([JNE32_IMM, 4, 0, 0, major]);
    if (minor !== undefined) body.push([JNE32_IMM, 5, 0, 0, minor]);
    body.push([MOV64_IMM, 0, 0, 0, r.allow ? 1 : 0], [EXIT, 0, 0, 0, 0]);
    body.forEach((ins, j) => { if (ins[0] === JNE32_IMM) ins[3] = body.length - j - 1; });
    prog.push(...body);
    // A rule that matches everything decides every request: what would follow is unreachable,
    // and the verifier refuses unreachable instructions.
    if (body.length === 2) return encode(prog);
  }
  prog.push([MOV64_IMM, 0, 0, 0, 1], [EXIT, 0, 0, 0, 0]);
  return encode(prog);
}
