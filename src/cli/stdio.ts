/**
 * The terminal side of attach and exec: docker's multiplexed frames split to stdout/stderr (raw
 * bytes with a TTY), stdin sent on (half-closed at its end), the local terminal in raw mode for
 * `-t`, and the window size sent at start and on every SIGWINCH; and the yes/no question of
 * destructive commands.
 */
import type { Socket } from "node:net";
import { demux } from "../stream-frames.js";

export interface AttachOptions {
  tty: boolean;
  stdin: boolean;
  /** Sends the local window size to the daemon (container or exec resize). */
  resize?: (h: number, w: number) => Promise<unknown>;
}

/** Relays a hijacked connection until the container's output ends. */
export function relay(sock: Socket, o: AttachOptions): Promise<void> {
  const stdin = process.stdin;
  const raw = o.tty && o.stdin && stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  const onWinch = (): void => {
    if (process.stdout.isTTY && o.resize) void o.resize(process.stdout.rows, process.stdout.columns).catch(() => {});
  };
  if (o.tty) {
    onWinch();
    process.on("SIGWINCH", onWinch);
  }
  if (o.stdin) {
    stdin.pipe(sock, { end: false });
    stdin.once("end", () => { if (!o.tty) sock.end(); });
  }
  const write = (stream: number, data: Buffer): void => { (stream === 2 ? process.stderr : process.stdout).write(data); };
  const split = demux(write);
  return new Promise((resolve) => {
    const done = (): void => {
      if (raw) stdin.setRawMode(false);
      process.off("SIGWINCH", onWinch);
      if (o.stdin) { stdin.unpipe(sock); stdin.pause(); }
      resolve();
    };
    sock.once("close", done);
    sock.once("end", () => sock.destroy());
    sock.once("error", () => sock.destroy());
    sock.on("data", (d: Buffer) => (o.tty ? process.stdout.write(d) : split(d)));
    sock.resume(); // the client paused it when the connection was hijacked
    if (sock.destroyed) done();
  });
}

/** docker's confirmation for destructive commands: "y" on stdin, anything else (or EOF) is no. */
export async function confirm(question: string): Promise<boolean> {
  process.stderr.write(`${question} [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    let buf = "";
    const onData = (d: Buffer): void => { buf += d.toString(); if (buf.includes("\n")) done(); };
    const done = (): void => { process.stdin.off("data", onData); process.stdin.pause(); resolve(buf.trim()); };
    process.stdin.on("data", onData);
    process.stdin.once("end", done);
  });
  return /^y(es)?$/i.test(answer);
}
