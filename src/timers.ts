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
}

/** The real clock. */
export const realTimers: Timers = {
  now: () => Date.now(),
  after(ms, fn) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};
