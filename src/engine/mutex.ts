/**
 * A FIFO async mutex. The replica runs every state-changing computation under one
 * mutex (the CPU-bound Automerge work is single-threaded anyway) and waits for
 * durability outside it, so concurrent writers still share one fsync.
 */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every previously queued function has settled. */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.#tail.then(fn, fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
