/**
 * The engine's event stream, in docker's shape. Recent events are kept (bounded) so `since`
 * queries can replay them; live subscribers get each new event.
 */
import { EventEmitter } from "node:events";

export interface DockerEvent {
  Type: "container" | "image" | "volume" | "network" | "daemon";
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: "local";
  time: number;
  timeNano: number;
  /** docker's legacy fields for containers and images. */
  status?: string;
  id?: string;
  from?: string;
}

const KEEP = 1000;

export class EventBus {
  private readonly recent: DockerEvent[] = [];
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit(type: DockerEvent["Type"], action: string, id: string, attributes: Record<string, string> = {}): DockerEvent {
    const nowNs = BigInt(Date.now()) * 1_000_000n + BigInt(process.hrtime.bigint() % 1_000_000n);
    const e: DockerEvent = { Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: "local", time: Number(nowNs / 1_000_000_000n), timeNano: Number(nowNs) };
    if (type === "container" || type === "image") {
      e.status = action;
      e.id = id;
      if (attributes.image) e.from = attributes.image;
    }
    this.recent.push(e);
    if (this.recent.length > KEEP) this.recent.shift();
    this.emitter.emit("event", e);
    return e;
  }

  /** Calls `fn` with each new event, synchronously; returns the function that stops it. */
  on(fn: (e: DockerEvent) => void): () => void {
    this.emitter.on("event", fn);
    return () => this.emitter.off("event", fn);
  }

  /** Events since a time (seconds, may be fractional), then live ones until the signal aborts or `until`. */
  async *subscribe(opts: { since?: number; until?: number; signal?: AbortSignal }): AsyncGenerator<DockerEvent> {
    const queue: DockerEvent[] = [];
    let wake: (() => void) | undefined;
    const on = (e: DockerEvent): void => { queue.push(e); wake?.(); };
    this.emitter.on("event", on);
    const onAbort = (): void => wake?.();
    opts.signal?.addEventListener("abort", onAbort);
    try {
      if (opts.since !== undefined) {
        for (const e of this.recent) if (e.timeNano / 1e9 >= opts.since && (opts.until === undefined || e.timeNano / 1e9 <= opts.until)) yield e;
      }
      for (;;) {
        if (opts.signal?.aborted) return;
        if (opts.until !== undefined && Date.now() / 1000 > opts.until) return;
        const e = queue.shift();
        if (e) {
          if (opts.since === undefined || e.timeNano / 1e9 >= opts.since) yield e;
          continue;
        }
        const waitMs = opts.until !== undefined ? Math.max(0, opts.until * 1000 - Date.now()) : undefined;
        await new Promise<void>((r) => {
          wake = r;
          if (waitMs !== undefined) setTimeout(r, waitMs + 5).unref();
        });
        wake = undefined;
      }
    } finally {
      this.emitter.off("event", on);
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }
}
