/**
 * Part of the composition root: what every member holds, as each member signed it
 * (PROTOCOL.md "Holds reports"). Tombstone collection needs every member's holdings
 * (engine/tombstones.ts), but a session shows only its peer's: in a line a – b – c, a
 * never learned what c holds and collected nothing. So each node signs a report of its
 * own clock and relays the newest verified report of every other member; a node learns
 * a member's holdings from that member's signature, never from a relay's word.
 *
 * Reports are verified in the session (protocol.ts onHolds) before they reach the book;
 * the book keeps the newest per active member (by the member's own `at`), stored across
 * restarts, and hands out the ones that changed since they were last passed on.
 */
import { seqsOf, type OriginClock, type SeqClock } from './crdt/origin-clock.js';
import type { Store } from './store/store.js';
import { holdsSigningInput, type HeldSeqs, type HoldsReport } from './sync/messages.js';
import type { NodeId } from './types.js';

/** What the book needs of the node's trust: the cluster, our signature, who is an active member. */
export interface HoldsSigner {
  cluster: string;
  sign(data: Uint8Array): Uint8Array;
  isMember(node: string): boolean;
}

interface BookOptions {
  store: Store;
  trust: HoldsSigner;
  self: NodeId;
  /** Reports dated further ahead of our clock are not taken (limits.maxClockSkewMs). */
  maxSkewMs: number;
  now: () => number;
}

/** Node state: the newest verified holds report of each member. */
const REPORTS_KEY = 'lifecycle/reports/2';
/** Where reports of the first format (lines with chain hashes) were kept: dropped at open. */
const OLD_REPORTS_KEY = 'lifecycle/reports';

/** Stored form of a report (the signature as bytes survives msgpack as is). */
type StoredReports = Record<string, HoldsReport>;

export class HoldsBook {
  readonly #store: Store;
  readonly #trust: HoldsSigner;
  readonly #self: NodeId;
  readonly #maxSkewMs: number;
  readonly #now: () => number;
  readonly #reports = new Map<string, HoldsReport>();
  /** Reports taken or signed since the last takeFresh(): to pass on to every peer. */
  readonly #fresh = new Map<string, HoldsReport>();
  #dirty = false;

  private constructor(options: BookOptions) {
    this.#store = options.store;
    this.#trust = options.trust;
    this.#self = options.self;
    this.#maxSkewMs = options.maxSkewMs;
    this.#now = options.now;
  }

  /** Opens the book with the reports stored by an earlier run. */
  static async open(options: BookOptions): Promise<HoldsBook> {
    const book = new HoldsBook(options);
    const stored = (await options.store.getState<StoredReports>(REPORTS_KEY)) ?? {};
    for (const [node, report] of Object.entries(stored)) book.#reports.set(node, { ...report, sig: new Uint8Array(report.sig) });
    // Signed over the old format, they would not verify anywhere: members sign anew each pass.
    if ((await options.store.getState(OLD_REPORTS_KEY)) !== undefined) await options.store.putState([[OLD_REPORTS_KEY, undefined]]);
    return book;
  }

  /**
   * Takes reports a session verified: the newest per active member, none from the future
   * beyond the allowed clock skew (it would hide that member's honest reports until then),
   * and never one about this node (only it knows what it holds).
   */
  receive(reports: readonly HoldsReport[]): void {
    for (const report of reports) {
      if (report.node === this.#self || !this.#trust.isMember(report.node)) continue;
      if (report.at > this.#now() + this.#maxSkewMs) continue;
      const known = this.#reports.get(report.node);
      if (known && known.at >= report.at) continue;
      this.#reports.set(report.node, report);
      this.#fresh.set(report.node, report);
      this.#dirty = true;
    }
  }

  /** Signs a report of this node's holdings when they changed since the last one. */
  signOwn(holdings: OriginClock): void {
    const clock: HeldSeqs = [...seqsOf(holdings)].filter(([, seq]) => seq > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const last = this.#reports.get(this.#self);
    if (last && sameSeqs(last.clock, clock)) return;
    const body = { node: this.#self, at: Math.max(this.#now(), (last?.at ?? 0) + 1), clock };
    const report: HoldsReport = { ...body, sig: this.#trust.sign(holdsSigningInput(this.#trust.cluster, body)) };
    this.#reports.set(this.#self, report);
    this.#fresh.set(this.#self, report);
    this.#dirty = true;
  }

  /** What each other active member signed that it holds. */
  clocks(): [NodeId, SeqClock][] {
    return [...this.#reports].filter(([node]) => node !== this.#self && this.#trust.isMember(node)).map(([node, r]) => [node as NodeId, new Map(r.clock)]);
  }

  /** Node and `at` of every report of an active member: what a newly opened session is told. */
  summary(): [node: string, at: number][] {
    return this.all().map((r) => [r.node, r.at]);
  }

  /** The reports newer than, or missing from, a peer's summary (its answer). */
  newerThan(known: readonly [node: string, at: number][]): HoldsReport[] {
    const theirs = new Map(known);
    return this.all().filter((r) => (theirs.get(r.node) ?? -1) < r.at);
  }

  /** Every report of an active member. */
  all(): HoldsReport[] {
    return [...this.#reports.values()].filter((r) => r.node === this.#self || this.#trust.isMember(r.node));
  }

  /** The reports that changed since the last call (to pass on to every open session). */
  takeFresh(): HoldsReport[] {
    const fresh = [...this.#fresh.values()];
    this.#fresh.clear();
    return fresh;
  }

  /** Stores the reports if they changed (one small state value). */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    await this.#store.putState([[REPORTS_KEY, Object.fromEntries(this.all().map((r) => [r.node, r]))]]);
  }
}

function sameSeqs(a: HoldsReport['clock'], b: HoldsReport['clock']): boolean {
  return a.length === b.length && a.every(([origin, seq], i) => b[i]![0] === origin && b[i]![1] === seq);
}
