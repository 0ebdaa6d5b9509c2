/**
 * Unix socket connections to paths of any length. sun_path holds 107 bytes; a longer path (a
 * deep --exec-root) is reached through a descriptor of its directory, /proc/self/fd/N/name,
 * the same way berth-shim binds it.
 */
import { closeSync, constants, openSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { basename, dirname } from "node:path";

const SUN_PATH_MAX = 107;

/** Connects to a unix socket; the returned socket is connecting (listen for "connect"/"error"). */
export function connectUnix(path: string): Socket {
  if (Buffer.byteLength(path) <= SUN_PATH_MAX) return connect(path);
  const fd = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  const s = connect(`/proc/self/fd/${fd}/${basename(path)}`);
  // Either event comes first; the descriptor must be closed exactly once (a second close could
  // hit a descriptor number reused meanwhile).
  let open = true;
  const done = (): void => { if (open) { open = false; closeSync(fd); } };
  s.once("connect", done);
  s.once("error", done);
  return s;
}

/** Resolves once connected. */
export function connectSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connectUnix(path);
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}
