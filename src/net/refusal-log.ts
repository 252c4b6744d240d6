/**
 * Counts refused connection attempts and logs them without letting a flood of them
 * flood the log: at most one line per reason per interval, carrying how many attempts
 * were refused for that reason since the previous line.
 */
import type { Logger } from '../log.js';
import type { RefusalReason } from './transport.js';

/** Settings of a RefusalLog. */
export interface RefusalLogOptions {
  /** Shortest time (ms) between two lines of one reason. */
  intervalMs: number;
  /** Monotonic clock in ms (injected so tests control time). */
  now: () => number;
  logger: Logger;
}

/**
 * Invariants:
 * 1. At most one line per reason per intervalMs; the first refusal of a reason is logged at once.
 * 2. The counts of all lines of a reason, plus its unlogged count, equal its total.
 */
export class RefusalLog {
  readonly #options: RefusalLogOptions;
  readonly #totals: Partial<Record<RefusalReason, number>> = {};
  readonly #lines = new Map<RefusalReason, { at: number; unlogged: number }>();

  constructor(options: RefusalLogOptions) {
    if (!(options.intervalMs > 0)) throw new TypeError('intervalMs must be a positive number');
    this.#options = options;
  }

  /** Counts one refusal; logs it (with the count since the last line) unless a line of this reason is recent. */
  refused(reason: RefusalReason, fields: Record<string, unknown> = {}): void {
    this.#totals[reason] = (this.#totals[reason] ?? 0) + 1;
    const now = this.#options.now();
    const last = this.#lines.get(reason);
    if (last && now - last.at < this.#options.intervalMs) {
      last.unlogged++;
      return;
    }
    const count = (last?.unlogged ?? 0) + 1;
    this.#lines.set(reason, { at: now, unlogged: 0 });
    this.#options.logger.warn({ ...fields, reason, count }, 'connection refused');
  }

  /** Refusals by reason since creation. */
  totals(): Partial<Record<RefusalReason, number>> {
    return { ...this.#totals };
  }
}
