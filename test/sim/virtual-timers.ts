/**
 * Virtual time for simulations: a Timers implementation whose clock moves only when
 * the driver calls advance(). Due callbacks run in order of due time, ties in the
 * order they were scheduled, so a run never depends on the real clock.
 */
import type { TimerHandle, Timers } from '../../src/timers.js';

interface Scheduled {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * Invariants:
 * 1. now() never decreases and changes only inside advance()/runNext().
 * 2. A callback runs at most once, never before its due time, never after cancel().
 * 3. Callbacks due at the same time run in scheduling order.
 */
export class VirtualTimers implements Timers {
  #now: number;
  #order = 0;
  #queue: Scheduled[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  after(ms: number, fn: () => void): TimerHandle {
    if (!(ms >= 0)) throw new TypeError(`timer delay must be >= 0, got ${String(ms)}`);
    const item: Scheduled = { at: this.#now + ms, order: this.#order++, fn, cancelled: false };
    this.#queue.push(item);
    return {
      cancel: () => {
        item.cancelled = true;
      },
    };
  }

  /** Timers scheduled and neither run nor cancelled. */
  get pending(): number {
    return this.#live().length;
  }

  /** Due time of the earliest pending timer, or undefined. */
  nextDue(): number | undefined {
    return this.#earliest()?.at;
  }

  /**
   * Runs the earliest timer if it is due by `limit`, moving the clock to its due time.
   * Returns false (and runs nothing) when no timer is due by then.
   */
  runNext(limit: number): boolean {
    const item = this.#earliest();
    if (!item || item.at > limit) return false;
    this.#queue.splice(this.#queue.indexOf(item), 1);
    this.#now = Math.max(this.#now, item.at);
    item.fn();
    return true;
  }

  /**
   * Moves the clock forward by `ms`, running every callback that falls due on the way
   * (including ones scheduled by earlier callbacks), synchronously and in order.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new TypeError(`advance needs ms >= 0, got ${String(ms)}`);
    const target = this.#now + ms;
    while (this.runNext(target));
    this.#now = target;
  }

  #live(): Scheduled[] {
    this.#queue = this.#queue.filter((item) => !item.cancelled);
    return this.#queue;
  }

  #earliest(): Scheduled | undefined {
    let best: Scheduled | undefined;
    for (const item of this.#live()) {
      if (!best || item.at < best.at || (item.at === best.at && item.order < best.order)) best = item;
    }
    return best;
  }
}
