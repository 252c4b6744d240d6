/**
 * Admission for catch-ups: a session whose peer is far behind (more than a few batches)
 * streams from the log only while it holds one of `maxConcurrentCatchUps` slots; the
 * others wait in arrival order. Memory then stays bounded however many laptops dial a
 * region at once, and catch-ups finish one group after the other, so the first laptops
 * are usable early instead of all of them late (an equal share for 50 sessions made
 * the first complete only after 72% of the total time).
 *
 * Only sending is gated: a waiting session still receives, ingests and acknowledges, so
 * two nodes catching up with each other cannot deadlock.
 */
import { CrmsyncError } from '../errors.js';

/** Where a session stands: streaming, or waiting with `ahead` sessions before it. */
export type CatchUpPosition = { state: 'active' } | { state: 'waiting'; ahead: number };

interface Waiter<T> {
  owner: T;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** FIFO slots; owners are sessions (any object). */
export class CatchUpGate<T = object> {
  readonly #max: number;
  readonly #active = new Set<T>();
  readonly #waiting: Waiter<T>[] = [];
  /** Catch-ups started so far (a slot granted); for tests and diagnostics. */
  granted = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Whether `owner` holds a slot. */
  holds(owner: T): boolean {
    return this.#active.has(owner);
  }

  /** Resolves once `owner` holds a slot (at once when one is free and nobody waits). */
  acquire(owner: T): Promise<void> {
    if (this.#active.has(owner)) return Promise.resolve();
    if (this.#active.size < this.#max && this.#waiting.length === 0) {
      this.#grant(owner);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#waiting.push({ owner, resolve, reject }));
  }

  /** Gives the slot back (the peer caught up) and admits the next waiting session. */
  release(owner: T): void {
    if (!this.#active.delete(owner)) return;
    this.#admit();
  }

  /** The owner is gone (session closed): free its slot, and fail its waits. */
  cancel(owner: T): void {
    for (let i = this.#waiting.length - 1; i >= 0; i--) {
      const waiter = this.#waiting[i]!;
      if (waiter.owner !== owner) continue;
      this.#waiting.splice(i, 1);
      waiter.reject(new CrmsyncError('ERR_CLOSED', 'the session closed while waiting for a catch-up slot'));
    }
    this.release(owner);
  }

  /** Where `owner` stands, or undefined when it neither streams a catch-up nor waits. */
  position(owner: T): CatchUpPosition | undefined {
    if (this.#active.has(owner)) return { state: 'active' };
    const ahead = this.#waiting.findIndex((w) => w.owner === owner);
    return ahead < 0 ? undefined : { state: 'waiting', ahead };
  }

  /** Sessions streaming a catch-up, and sessions waiting for a slot. */
  counts(): { active: number; waiting: number } {
    return { active: this.#active.size, waiting: new Set(this.#waiting.map((w) => w.owner)).size };
  }

  #admit(): void {
    while (this.#active.size < this.#max && this.#waiting.length > 0) {
      const next = this.#waiting.shift()!;
      this.#grant(next.owner);
      // Further waits of the same owner (a restarted stream) resolve together.
      for (let i = this.#waiting.length - 1; i >= 0; i--) {
        if (this.#waiting[i]!.owner === next.owner) this.#waiting.splice(i, 1)[0]!.resolve();
      }
      next.resolve();
    }
  }

  #grant(owner: T): void {
    this.#active.add(owner);
    this.granted++;
  }
}
