/**
 * OOM watching shared by every manager: poll a counter, and where the kernel
 * sends inotify events on a file (v2 memory.events, cgroup2 generates
 * IN_MODIFY on it) wake early. v1's cgroup.event_control wants an eventfd, which
 * Node cannot create, so v1 relies on the poll.
 */
import { watch, type FSWatcher } from "node:fs";

export function watchCounter(
  read: () => Promise<number>,
  onIncrease: (total: number) => void,
  opts: { intervalMs?: number; inotifyFile?: string },
): { close(): void } {
  let last: number | undefined;
  let closed = false;
  let busy = false;
  const check = async (): Promise<void> => {
    if (closed || busy) return;
    busy = true;
    try {
      const n = await read();
      if (last !== undefined && n > last && !closed) onIncrease(n);
      last = last === undefined ? n : Math.max(last, n);
    } catch {
      // The group may be gone (container removed); the owner closes the watch.
    } finally {
      busy = false;
    }
  };
  void check();
  const timer = setInterval(() => void check(), opts.intervalMs ?? 250);
  timer.unref();
  let w: FSWatcher | undefined;
  if (opts.inotifyFile) {
    try {
      w = watch(opts.inotifyFile, { persistent: false }, () => void check());
      w.on("error", () => { w?.close(); w = undefined; });
    } catch {
      w = undefined;
    }
  }
  return {
    close(): void {
      closed = true;
      clearInterval(timer);
      w?.close();
    },
  };
}
