/**
 * Runs anti-entropy exchanges for a node: on demand with a named peer (`crmsync verify
 * --peer`), and in the background every `intervalMs` with the connected peers in turn.
 * Keeps the last result for status and metrics.
 *
 * Invariants:
 *  1. One exchange at a time per node; a request made while one runs waits for it.
 *  2. After stop(), no timer is pending and no exchange starts.
 */
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import { CrmsyncError } from '../errors.js';
import type { TimerHandle, Timers } from '../timers.js';
import type { OriginClock } from '../crdt/origin-clock.js';
import type { AntiEntropy } from './anti-entropy.js';
import { runExchange, type AntiEntropyResult } from './anti-entropy-run.js';
import type { PeerSession } from './session.js';

/** Interval of background anti-entropy when none is configured: ten minutes. */
export const DEFAULT_ANTI_ENTROPY_INTERVAL_MS = 600_000;
/** How often settling re-checks whether both sides caught up. */
const SETTLE_POLL_MS = 50;

/** Anti-entropy as status reports it. */
export interface AntiEntropyStatus {
  /** Background interval (0: disabled). */
  intervalMs: number;
  /** Exchanges run since start (background and on demand), and how many failed. */
  runs: number;
  failures: number;
  /** The last exchange that completed, or null. */
  last: AntiEntropyResult | null;
  /** The last exchange that failed: when, with whom, and the error code. */
  lastError: { at: number; peer: string; code: string } | null;
  /** Digest requests of peers refused for being busy or over the rate limit. */
  refusedRequests: number;
}

/** Collaborators of the runner. */
export interface AntiEntropyRunnerOptions {
  ae: AntiEntropy;
  sessions: () => PeerSession[];
  holdings: () => OriginClock;
  limits: Limits;
  timers: Timers;
  logger: Logger;
  intervalMs: number;
}

/** See the file comment for the invariants. */
export class AntiEntropyRunner {
  readonly #o: AntiEntropyRunnerOptions;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: TimerHandle | undefined;
  #stopped = false;
  #turn = 0;
  #runs = 0;
  #failures = 0;
  #last: AntiEntropyResult | null = null;
  #lastError: AntiEntropyStatus['lastError'] = null;

  constructor(options: AntiEntropyRunnerOptions) {
    this.#o = options;
  }

  /** Starts the background runs (none when the interval is 0). */
  start(): void {
    if (this.#o.intervalMs > 0) this.#schedule();
  }

  /** Stops the background runs (invariant 2). */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
  }

  /** Runs an exchange with the connected peer `node` (ERR_NOT_FOUND when no session with it is open). */
  run(node: string): Promise<AntiEntropyResult> {
    const next = this.#queue.then(() => this.#exchange(node));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** What status shows. */
  status(): AntiEntropyStatus {
    return { intervalMs: this.#o.intervalMs, runs: this.#runs, failures: this.#failures, last: this.#last, lastError: this.#lastError, refusedRequests: this.#o.ae.refused };
  }

  async #exchange(node: string): Promise<AntiEntropyResult> {
    if (this.#stopped) throw new CrmsyncError('ERR_CLOSED', 'the node is closed');
    const session = this.#o.sessions().find((s) => s.remote === node && s.state === 'open');
    if (!session) throw new CrmsyncError('ERR_NOT_FOUND', `no open session with peer "${node}"`);
    this.#runs++;
    try {
      const result = await runExchange({
        ae: this.#o.ae, channel: session, peer: node, holdings: this.#o.holdings, peerHolding: session.protocolState.peerHolding, now: () => this.#o.timers.now(),
        settle: () => this.#settle(session), maxReported: this.#o.limits.maxReportedProblems,
      });
      this.#last = result;
      const { differingIds: _ids, remainingIds: _rest, ...counts } = result;
      this.#o.logger[result.remaining > 0 ? 'warn' : 'info'](counts, 'anti-entropy exchange done');
      return result;
    } catch (err) {
      this.#failures++;
      const code = err instanceof CrmsyncError ? err.code : 'ERR_INTERNAL';
      this.#lastError = { at: this.#o.timers.now(), peer: node, code };
      this.#o.logger.warn({ peer: node, code }, 'anti-entropy exchange failed');
      throw err;
    }
  }

  /** Waits until neither side lacks what the other holds, or antiEntropySettleMs passed. */
  #settle(session: PeerSession): Promise<void> {
    const deadline = this.#o.timers.now() + this.#o.limits.antiEntropySettleMs;
    return new Promise((resolve) => {
      const check = () => {
        const lag = session.state === 'open' ? session.lag() : undefined;
        if (!lag || (lag.peerBehind === 0 && lag.weBehind === 0) || this.#o.timers.now() >= deadline || this.#stopped) resolve();
        else this.#o.timers.after(SETTLE_POLL_MS, check);
      };
      check();
    });
  }

  #schedule(): void {
    this.#timer = this.#o.timers.after(this.#o.intervalMs, () => {
      if (this.#stopped) return;
      const peers = [...new Set(this.#o.sessions().filter((s) => s.state === 'open').map((s) => s.remote!))].sort();
      const node = peers[this.#turn++ % Math.max(1, peers.length)];
      // A failure is already counted and logged by #exchange; the next interval tries the next peer.
      const done = node === undefined ? Promise.resolve() : this.run(node).then(() => undefined, () => undefined);
      void done.then(() => { if (!this.#stopped) this.#schedule(); });
    });
  }
}
