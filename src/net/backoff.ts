/**
 * Reconnect delays: capped exponential backoff with full jitter (a uniformly random
 * delay between 0 and min(maxMs, baseMs * 2^attempt)). Full jitter spreads the
 * reconnects of many nodes that lost the same peer at once, instead of having them
 * retry in lock-step. Pure: no timers; randomness is injected.
 */

/** Options of a Backoff. */
export interface BackoffOptions {
  /** Ceiling of the first delay (ms); e.g. Limits.reconnectBaseMs. */
  baseMs: number;
  /** No delay ever exceeds this (ms); e.g. Limits.reconnectMaxMs. */
  maxMs: number;
  /** Uniform source in [0, 1); inject a seeded one in tests and simulations. */
  random: () => number;
}

/**
 * Capped exponential backoff with full jitter; one instance per peer being redialed.
 *
 * Invariants:
 * 1. 0 <= next() <= maxMs, always.
 * 2. The ceiling doubles per attempt from baseMs until it reaches maxMs, then stays.
 * 3. reset() restores the first attempt's ceiling.
 */
export class Backoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #ceiling: number;
  #attempt = 0;

  constructor(options: BackoffOptions) {
    const { baseMs, maxMs, random } = options;
    if (!(Number.isFinite(baseMs) && baseMs > 0)) throw new TypeError('baseMs must be a positive finite number');
    if (!(Number.isFinite(maxMs) && maxMs >= baseMs)) throw new TypeError('maxMs must be a finite number >= baseMs');
    if (typeof random !== 'function') throw new TypeError('random must be a function');
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
    this.#random = random;
    this.#ceiling = baseMs;
  }

  /** Attempts made since construction or the last reset(). */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay (whole ms) before the next attempt; advances the attempt counter. */
  next(): number {
    const r = this.#random();
    if (!(r >= 0 && r <= 1)) throw new TypeError(`random() must return a number in [0, 1], got ${String(r)}`);
    const delay = Math.floor(r * this.#ceiling);
    this.#attempt += 1;
    // Grow the ceiling rather than computing base * 2^attempt, which overflows to
    // Infinity after ~1,000 attempts and would then need its own cap anyway.
    this.#ceiling = Math.min(this.#maxMs, this.#ceiling * 2);
    return Math.min(delay, this.#maxMs);
  }

  /** Starts over from baseMs (call after a connection proved healthy). */
  reset(): void {
    this.#attempt = 0;
    this.#ceiling = this.#baseMs;
  }
}
