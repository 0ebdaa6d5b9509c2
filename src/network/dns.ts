/**
 * The DNS server of a user network: UDP on the network's gateway address, port 53. Names of the
 * network's containers (name, alias, short id) are answered from berthd's own table; every other
 * question is forwarded as it came to the upstream resolvers and their answer relayed back.
 * Queries from outside the network's subnet are refused, so a container on another network
 * cannot look names up here.
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { contains, parseIp, type Subnet } from "./ipnet.js";

const TYPE_A = 1;
const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 };

export interface DnsServerOptions {
  address: string;
  port?: number;
  subnet: Subnet;
  lookup: (name: string) => string | undefined;
  upstream: { host: string; port: number }[];
  log?: (msg: string) => void;
}

export interface Question {
  name: string;
  type: number;
  /** Offset just after the question section. */
  end: number;
}

/** The first question of a query, or undefined when the packet is not a well-formed query. */
export function parseQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    if (len === 0) { off++; break; }
    if (len > 63 || off + 1 + len > msg.length) return undefined;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString("latin1"));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  return { name: labels.join(".").toLowerCase(), type: msg.readUInt16BE(off), end: off + 4 };
}

/** An answer to `query`: its header and question, then one A record when `ip` is given. */
export function answer(query: Buffer, q: Question, rcode: number, ip?: string): Buffer {
  const head = Buffer.from(query.subarray(0, q.end));
  // QR=1, opcode kept, AA=1, RD kept, RA=1, rcode.
  head.writeUInt16BE((0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0400 | 0x0080 | rcode) & 0xffff, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(ip ? 1 : 0, 6);
  head.writeUInt16BE(0, 8);
  head.writeUInt16BE(0, 10);
  if (!ip) return head;
  const rr = Buffer.alloc(16);
  rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question's
  rr.writeUInt16BE(TYPE_A, 2);
  rr.writeUInt16BE(1, 4); // IN
  rr.writeUInt32BE(600, 6); // TTL, as docker's
  rr.writeUInt16BE(4, 10);
  rr.writeUInt32BE(parseIp(ip), 12);
  return Buffer.concat([head, rr]);
}

export class DnsServer {
  private sock: Socket | undefined;

  constructor(private readonly o: DnsServerOptions) {}

  start(): Promise<void> {
    const s = createSocket({ type: "udp4", reuseAddr: true });
    this.sock = s;
    s.on("message", (msg, rinfo) => this.onQuery(msg, rinfo));
    return new Promise((resolve, reject) => {
      s.once("error", reject);
      s.bind({ address: this.o.address, port: this.o.port ?? 53 }, () => {
        s.removeListener("error", reject);
        s.on("error", (e) => this.o.log?.(e.message));
        s.unref();
        resolve();
      });
    });
  }

  close(): void {
    try { this.sock?.close(); } catch { /* closed */ }
    this.sock = undefined;
  }

  private onQuery(msg: Buffer, from: RemoteInfo): void {
    const q = parseQuestion(msg);
    if (!q) return;
    const reply = (b: Buffer): void => { this.sock?.send(b, from.port, from.address); };
    if (!contains(this.o.subnet, parseIp(from.address))) return reply(answer(msg, q, RCODE.REFUSED));
    const ip = this.o.lookup(q.name);
    if (ip) return reply(answer(msg, q, RCODE.NOERROR, q.type === TYPE_A ? ip : undefined));
    void this.forward(msg).then((r) => reply(r ?? answer(msg, q, RCODE.SERVFAIL)));
  }

  /** Asks each upstream in turn (2 s each); undefined when none answers. */
  private async forward(msg: Buffer): Promise<Buffer | undefined> {
    for (const u of this.o.upstream) {
      const r = await new Promise<Buffer | undefined>((resolve) => {
        const c = createSocket("udp4");
        const t = setTimeout(() => { c.close(); resolve(undefined); }, 2000);
        c.once("message", (m) => { clearTimeout(t); c.close(); resolve(m); });
        c.once("error", () => { clearTimeout(t); c.close(); resolve(undefined); });
        c.send(msg, u.port, u.host);
      });
      if (r) return r;
    }
    return undefined;
  }
}
