/**
 * Inbound flow control shared by both transports. Every received frame counts as
 * unprocessed until the owner reports it processed(); while one connection's count is
 * above its limit, or all connections' together are above the total, the transport
 * stops reading, so a fast sender is pushed back (by TCP on a real network) instead of
 * piling frames up in our memory.
 */

/** How a meter stops and restarts reading from its connection. */
export interface ReadControl {
  pause(): void;
  resume(): void;
}

/** The limits of an InboundBudget. */
export interface InboundLimits {
  maxInboundBytesPerConnection: number;
  maxInboundBytesTotal: number;
}

/**
 * The unprocessed inbound bytes of every connection of one transport.
 *
 * Invariants:
 * 1. unprocessedBytes is the sum of the live meters' unprocessed bytes.
 * 2. After every change, a live meter is paused exactly when its own count is above
 *    the per-connection limit or the total is above the total limit.
 */
export class InboundBudget {
  readonly #limits: InboundLimits;
  readonly #meters = new Set<InboundMeter>();
  #total = 0;

  constructor(limits: InboundLimits) {
    for (const [key, value] of Object.entries(limits)) {
      if (!(value > 0)) throw new TypeError(`${key} must be a positive number`);
    }
    this.#limits = limits;
  }

  /** Received bytes not yet processed, all connections. */
  get unprocessedBytes(): number {
    return this.#total;
  }

  /** Connections whose reading is paused. */
  get pausedCount(): number {
    let paused = 0;
    for (const meter of this.#meters) if (meter.paused) paused++;
    return paused;
  }

  /** A meter for one new connection. */
  meter(control: ReadControl): InboundMeter {
    const meter = new InboundMeter(this, control);
    this.#meters.add(meter);
    return meter;
  }

  /** Meter only: applies a change of `delta` bytes by `meter` and re-evaluates who reads (invariant 2). */
  change(meter: InboundMeter, delta: number, release = false): void {
    const wasOver = this.#total > this.#limits.maxInboundBytesTotal;
    this.#total += delta;
    if (release) this.#meters.delete(meter);
    const isOver = this.#total > this.#limits.maxInboundBytesTotal;
    // Crossing the total limit changes every connection's answer; otherwise only this one's.
    if (wasOver !== isOver) for (const each of [...this.#meters]) each.sync(this.#shouldPause(each));
    else if (!release) meter.sync(this.#shouldPause(meter));
  }

  #shouldPause(meter: InboundMeter): boolean {
    return meter.unprocessed > this.#limits.maxInboundBytesPerConnection || this.#total > this.#limits.maxInboundBytesTotal;
  }
}

/** One connection's unprocessed inbound bytes; see InboundBudget. */
export class InboundMeter {
  readonly #budget: InboundBudget;
  readonly #control: ReadControl;
  #unprocessed = 0;
  #paused = false;
  #released = false;

  constructor(budget: InboundBudget, control: ReadControl) {
    this.#budget = budget;
    this.#control = control;
  }

  /** Received bytes the owner has not reported processed. */
  get unprocessed(): number {
    return this.#unprocessed;
  }

  /** Whether reading is paused. */
  get paused(): boolean {
    return this.#paused;
  }

  /** A frame of `bytes` arrived (delivered or buffered for the owner). */
  received(bytes: number): void {
    if (this.#released) return;
    this.#unprocessed += bytes;
    this.#budget.change(this, bytes);
  }

  /** The owner processed `bytes`; more than is unprocessed counts as all of it. */
  processed(bytes: number): void {
    if (!Number.isFinite(bytes) || bytes < 0) throw new TypeError(`processed() needs a non-negative byte count, got ${String(bytes)}`);
    if (this.#released) return;
    const delta = Math.min(bytes, this.#unprocessed);
    this.#unprocessed -= delta;
    this.#budget.change(this, -delta);
  }

  /** The connection closed: its bytes stop counting and it is never paused or resumed again. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const delta = this.#unprocessed;
    this.#unprocessed = 0;
    this.#paused = false;
    this.#budget.change(this, -delta, true);
  }

  /** Budget only: pauses or resumes reading to match `pause`. */
  sync(pause: boolean): void {
    if (this.#released || pause === this.#paused) return;
    this.#paused = pause;
    if (pause) this.#control.pause();
    else this.#control.resume();
  }
}
