/**
 * Part of the composition root: a record's end of life. Erasures are signed statements
 * in the trust list (every member holds them; they travel like grants): this wires them
 * to the engine, which removes the erased records and stubs their entries, now and
 * whenever one arrives from a peer or a backup, and catches up at open on erasures a
 * crash left unapplied. The records API's erase and erasures live here, and the timer
 * that collects tombstones once every member holds the delete and the retention passed.
 */
import { CrmsyncError } from './errors.js';
import type { Engine } from './engine/engine.js';
import type { Logger } from './log.js';
import type { TrustStatement } from './trust/statements.js';
import type { TrustService } from './trust/trust-service.js';
import { parseRecordId, type NodeId } from './types.js';
import { seqsOf, type SeqClock } from './crdt/origin-clock.js';
import { collectableTombstones, mergeHoldings, stableClock } from './engine/tombstones.js';
import type { Limits } from './limits.js';
import type { Store } from './store/store.js';
import type { TimerHandle, Timers } from './timers.js';
import type { HoldsBook } from './node-holds.js';
import type { HoldsReport } from './sync/messages.js';

/** One erasure, as the audit shows it: who, when, the salted hash; never the record or its data. */
export interface ErasureView {
  /** erasureSubject(cluster, record id). */
  subject: string;
  /** The node (an administrator) that erased it. */
  node: NodeId;
  /** Fingerprint of the key that signed the erasure. */
  key: string;
  /** When (ms since epoch). */
  at: number;
}

/** The erasure operations of the records API. */
export interface ErasureApi {
  /** Erases a record on every node, for good (administrators only): see README "Erasure". */
  erase(id: string): Promise<ErasureView>;
  /** Every erasure of the cluster, oldest first. */
  erasures(): ErasureView[];
}

function viewOf(s: TrustStatement): ErasureView {
  return { subject: s.subject!, node: s.node, key: s.key, at: s.at };
}

/** Wires erasures to the engine; returns the API and a function that waits for queued purges. */
export async function wireErasures(options: {
  engine: Engine; trust: TrustService; self: NodeId; now: () => number; logger: Logger; assertOpen: () => void;
}): Promise<{ api: ErasureApi; idle: () => Promise<void> }> {
  const { engine, trust, self, now, logger, assertOpen } = options;
  let purging: Promise<void> = Promise.resolve();
  const purge = (subjects: string[]) => {
    const applied = trust.list.erasureCount;
    purging = purging.then(async () => {
      const held = await engine.applyErasures(subjects, applied);
      // The subjects, shortened: enough to match the audit; never a record id.
      logger.info({ erasures: subjects.length, held, subjects: subjects.slice(0, 10).map((s) => s.slice(0, 16)) }, 'erasures applied');
    }).catch((err: unknown) => logger.error({ err }, 'applying erasures failed'));
  };
  trust.events.on('added', (added) => {
    const subjects = added.filter((s) => s.op === 'erase').map((s) => s.subject!);
    if (subjects.length > 0) purge(subjects);
  });
  if ((await engine.erasuresApplied()) < trust.list.erasureCount) purge(trust.list.erasures().map((s) => s.subject!));
  await purging;
  const api: ErasureApi = {
    async erase(rawId) {
      assertOpen();
      const id = parseRecordId(rawId);
      trust.requireAdmin();
      const subject = engine.gone.subject(id);
      const existing = trust.list.erasureOf(subject);
      if (existing) return viewOf(existing);
      // An id this node never held is refused: an erasure is forever, a typo must not be.
      if (!(await engine.get(id)) && (await engine.history(id, 1)).length === 0) {
        throw new CrmsyncError('ERR_NOT_FOUND', `record ${id} does not exist on this node; erase it on a node that holds it`);
      }
      const statement = await trust.erase(subject, self, now());
      await purging; // the purge the statement started ('added' fires before erase returns)
      return viewOf(statement);
    },
    erasures() {
      assertOpen();
      return trust.list.erasures().map(viewOf);
    },
  };
  return { api, idle: () => purging };
}

/** Node state: what each member is known to hold (member -> origin -> seq), kept across restarts. */
const HOLDINGS_KEY = 'lifecycle/holdings';
/** Tombstones collected in one pass at most (one atomic batch). */
const MAX_COLLECTED_PER_PASS = 1000;

/** What status reports of tombstone collection. */
export interface LifecycleStatus {
  /** Collection passes since start. */
  passes: number;
  /** Tombstones this node has collected (since it was created). */
  collected: number;
  /** False while some member's holdings are unknown here (nothing can be collected). */
  stable: boolean;
  /** The first members (by node id, at most MAX_WAITING_SHOWN) whose holdings are unknown here. */
  waitingFor: string[];
  /** Log entries this node truncated since start (engine/truncate.ts). */
  truncated: number;
  /** The first log position still held (1 until the log is truncated). */
  logStart: number;
  /** Members not heard from within `logRetentionMs`: the log is truncated without waiting for them (they bootstrap from documents when back). */
  absent: string[];
}

/** Members named in `waitingFor` at most (the status stays small in a cluster of many laptops). */
const MAX_WAITING_SHOWN = 10;

/**
 * Collects tombstones every `lifecycleIntervalMs` (engine/tombstones.ts says when one
 * may go). Returns its status and stop(); `pass` runs one pass now (tests, and the timer).
 */
export async function startTombstoneCollector(options: {
  engine: Engine; store: Store; holdings: () => [NodeId, SeqClock][]; members: () => string[]; self: NodeId;
  /** When each member was last heard from (ms): its newest holds report, a session now, or its grant. */
  heardFrom: () => ReadonlyMap<string, number>;
  /** Members' signed holds reports (node-holds.ts): ours is signed each pass, fresh ones are passed on with `share`. */
  book: HoldsBook; share: (reports: HoldsReport[]) => void;
  limits: Pick<Limits, 'lifecycleIntervalMs' | 'tombstoneRetentionMs' | 'logRetentionMs' | 'maxTruncatedPerPass' | 'truncateStepEntries'>; timers: Timers; logger: Logger;
}): Promise<{ status: () => LifecycleStatus; pass: () => Promise<void>; stop: () => Promise<void> }> {
  const { engine, store, book, limits, timers, logger } = options;
  const stored = (await store.getState<Record<string, Record<string, number>>>(HOLDINGS_KEY)) ?? {};
  const known = new Map(Object.entries(stored).map(([member, clock]) => [member, new Map(Object.entries(clock))]));
  const status: LifecycleStatus = { passes: 0, collected: engine.gone.collectedCount, stable: false, waitingFor: [], truncated: 0, logStart: engine.logState().start, absent: [] };
  let running: Promise<void> = Promise.resolve();
  let timer: TimerHandle | undefined;
  let stopped = false;
  const once = async () => {
    // What our peers showed us in their sessions, and what every member signed and some
    // node relayed: a member we have no session with still counts (a line a – b – c).
    book.signOwn(engine.holdings());
    const fresh = book.takeFresh();
    if (fresh.length > 0) options.share(fresh);
    await book.save();
    // Only what sessions showed us is stored here: the book keeps the signed reports itself.
    if (mergeHoldings(known, options.holdings())) {
      await store.putState([[HOLDINGS_KEY, Object.fromEntries([...known].map(([member, clock]) => [member, Object.fromEntries(clock)]))]]);
    }
    const all = new Map([...known].map(([member, clock]) => [member, new Map(clock)]));
    mergeHoldings(all, book.clocks());
    const stable = stableClock(options.members(), options.self, seqsOf(engine.holdings()), all);
    status.stable = stable !== undefined;
    status.waitingFor = options.members().filter((m) => m !== options.self && !all.has(m)).sort().slice(0, MAX_WAITING_SHOWN);
    // A record whose history was truncated shows only part of it: that part says nothing
    // about a member the truncation did not wait for (absent), so tombstones wait until
    // every member holds every floor (that member is back, brought there by a region).
    const floorsHeld = stable !== undefined && [...engine.logState().floors].every(([origin, floor]) => (stable.get(origin) ?? 0) >= floor.seq);
    // Nothing deleted (the common case): no scan of every record.
    if (stable && floorsHeld && store.recordCounts().deleted > 0) {
      const now = timers.now();
      const records = await collectableTombstones(store, stable, now, limits.tombstoneRetentionMs, MAX_COLLECTED_PER_PASS);
      if (records.length > 0) {
        const held = await engine.collectTombstones(records, now);
        status.collected = engine.gone.collectedCount;
        logger.info({ collected: held }, 'tombstones collected');
      }
    }
    await truncate(all);
    status.passes++;
  };
  // The log waits for the members heard from within the retention only: one that stays
  // away longer (or a new one) is brought back by a region with record documents.
  const truncate = async (all: ReadonlyMap<string, SeqClock>) => {
    const now = timers.now();
    const horizon = now - limits.logRetentionMs;
    const heard = options.heardFrom();
    const members = options.members();
    const present = members.filter((m) => m === options.self || (heard.get(m) ?? 0) >= horizon);
    status.absent = members.filter((m) => !present.includes(m)).sort().slice(0, MAX_WAITING_SHOWN);
    const stable = stableClock(present, options.self, seqsOf(engine.holdings()), all);
    if (!stable) return;
    let removed = 0;
    while (removed < limits.maxTruncatedPerPass) {
      const step = await engine.truncateLog((e) => e.seq <= (stable.get(e.origin) ?? 0) && e.time <= horizon, limits.truncateStepEntries);
      if (step === 0) break;
      removed += step;
    }
    status.logStart = engine.logState().start;
    if (removed > 0) {
      status.truncated += removed;
      logger.info({ truncated: removed, logStart: status.logStart }, 'log truncated');
    }
  };
  const pass = () => {
    running = running.then(once).catch((err: unknown) => logger.error({ err }, 'tombstone collection failed'));
    return running;
  };
  const schedule = () => {
    timer = timers.after(limits.lifecycleIntervalMs, () => {
      if (stopped) return;
      void pass().then(() => { if (!stopped) schedule(); });
    });
  };
  schedule();
  return {
    status: () => ({ ...status }),
    pass,
    async stop() {
      stopped = true;
      timer?.cancel();
      await running;
    },
  };
}
