/**
 * docker's multiplexed stream (attach, exec and logs without a TTY): each frame is
 * [stream, 0, 0, 0, size32be] + payload, stream 1 for stdout and 2 for stderr. Written by the
 * daemon, read by the CLI and by berthd's own health probes.
 */

/** One frame. */
export function frame(stream: "stdout" | "stderr", data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream === "stdout" ? 1 : 2;
  h.writeUInt32BE(data.length, 4);
  return Buffer.concat([h, data]);
}

/** Splits a byte stream into frames as the bytes come; returns the function to feed it. */
export function demux(onFrame: (stream: number, data: Buffer) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      onFrame(buf[0]!, buf.subarray(8, 8 + size));
      buf = buf.subarray(8 + size);
    }
  };
}
