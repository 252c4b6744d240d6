/**
 * Time as a collaborator: production uses the real clock and timers; simulations pass
 * a virtual one so runs are deterministic and never sleep.
 */

/** A cancellable timer handle. */
export interface TimerHandle {
  cancel(): void;
}

/** Clock and timers. */
export interface Timers {
  now(): number;
  /** Calls `fn` after `ms`; the timer never keeps the process alive on its own. */
  after(ms: number, fn: () => void): TimerHandle;
  /**
   * Calls `fn` once the callbacks already queued (promise continuations, due I/O) have
   * run: `setImmediate`. Optional: without it, `after(0, fn)`.
   */
  soon?(fn: () => void): void;
}

/** `timers.soon(fn)`, or `after(0, fn)` where a clock has no `soon`. */
export function runSoon(timers: Timers, fn: () => void): void {
  if (timers.soon) timers.soon(fn);
  else timers.after(0, fn);
}

/** The real clock. */
export const realTimers: Timers = {
  now: () => Date.now(),
  after(ms, fn) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
  soon(fn) {
    setImmediate(fn);
  },
};
