/**
 * Serialises operations per key (a container id): calls on one container run one after another,
 * calls on different containers never wait for each other.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.tails.set(key, next);
    const clear = (): void => { if (this.tails.get(key) === next) this.tails.delete(key); };
    next.then(clear, clear);
    return next;
  }
}
