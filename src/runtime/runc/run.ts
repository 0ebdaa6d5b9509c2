/** `run` in the foreground: berth-shim stays as the container's parent; we wait for it. */
import { constants as osConstants } from "node:os";
import type { CreateOptions, Runtime } from "../runtime.js";

const FORWARD: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"];

export async function waitShim(shim: import("node:child_process").ChildProcess): Promise<number> {
  shim.ref();
  const handlers = FORWARD.map((sig) => {
    const h = (): void => { try { shim.kill(sig); } catch { /* gone */ } };
    process.on(sig, h);
    return [sig, h] as const;
  });
  try {
    if (shim.exitCode !== null) return shim.exitCode;
    return await new Promise<number>((resolve) => {
      shim.on("exit", (code, signal) => resolve(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 9) : 1)));
    });
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}


export async function runForeground(rt: Runtime, id: string, o: Omit<CreateOptions, "mode">, keep: boolean): Promise<number> {
  const { shim } = await rt.create(id, { ...o, mode: "monitor", waitForStart: false });
  const code = await waitShim(shim);
  if (!keep) await rt.delete(id, true);
  return code;
}
