/**
 * Log truncation and bootstrap floors (README "Log truncation", PROTOCOL.md "Truncated logs").
 *
 * A node removes a prefix of its change log once every entry in it is held by every
 * member it waits for (node-lifecycle.ts decides which) and older than the retention.
 * The prefix ends at a boundary, where every origin's last entry carries the origin's
 * signature: that entry becomes the origin's **floor** (seq, chain, signature), so the
 * chain stays verifiable from there and a peer below the floor can be brought to it by
 * record documents plus the floors (`base`), each floor checked against its origin's key.
 *
 * A record's document is its snapshot plus its changes in the log after it
 * (store.ts RecordMeta), so every record with a change in the prefix is first compacted
 * into a snapshot that covers it; the truncation itself is one atomic batch that also
 * checks, under the write lock, that nothing was written past those snapshots meanwhile.
 */
import { entryDigest, type StoredEntry } from '../crdt/change-entry.js';
import { chainNext, chainStart, entrySigningInput } from '../crdt/origin-clock.js';
import { snapshot } from '../crdt/record-doc.js';
import type { LogFloor, Mutation, RecordWriteOp, Store, TruncatedEntry } from '../store/store.js';
import type { NodeId, RecordId } from '../types.js';
import type { OriginAuthority } from './entry-check.js';
import type { Writer } from './writer.js';

/** Log entries read per step while planning (bounds one read). */
const PLAN_PAGE = 500;
/** The first read of a plan: most passes find the log's first entry not old enough yet. */
const FIRST_PLAN_PAGE = 16;
/**
 * Node state: set once a `base` raised our clock (history skipped, never seen here). A
 * record that comes to be held here through plain entries afterwards may have had
 * changes below a floor (a concurrent creation elsewhere, say): ingest.ts asks a region
 * for its whole document.
 */
export const BASED_KEY = 'log/based';

/** Records compacted into snapshots under one hold of the write lock (bounds how long writers wait). */
const COMPACT_CHUNK = 32;

/** A prefix of the log that may go. */
export interface TruncationPlan {
  /** The last log position removed (a boundary). */
  through: number;
  entries: TruncatedEntry[];
  /** Each origin's last removed entry: its new floor. */
  floors: [origin: string, floor: LogFloor][];
  /** Records with an applied change in the prefix, with the position of their last one there. */
  records: Map<RecordId, number>;
}

/** A change applied to its record here (part of its document), not a stub or a quarantined change. */
function applied(entry: StoredEntry): boolean {
  return entry.digest === undefined && entry.quarantined === undefined;
}

/**
 * The longest prefix of the log, from its start, of at most about `maxEntries` entries
 * that are all `eligible` and end at a boundary where every origin's last entry is
 * signed; undefined when there is none.
 */
export async function planTruncation(store: Store, cluster: string, eligible: (entry: StoredEntry) => boolean, maxEntries: number): Promise<TruncationPlan | undefined> {
  const taken: StoredEntry[] = [];
  const last = new Map<string, StoredEntry>();
  let unsigned = 0; // origins whose last entry so far carries no signature
  let cut = 0; // entries in the best prefix found so far
  let from = store.logStart;
  scan: while (from <= store.lastLocalSeq) {
    const page = await store.readLog(from, from === store.logStart ? FIRST_PLAN_PAGE : PLAN_PAGE, Number.MAX_SAFE_INTEGER);
    if (page.length === 0) break;
    for (const entry of page) {
      if (!eligible(entry)) break scan;
      const before = last.get(entry.origin);
      unsigned += Number(!entry.sig) - Number(before !== undefined && !before.sig);
      last.set(entry.origin, entry);
      taken.push(entry);
      if (entry.boundary && unsigned === 0) {
        cut = taken.length;
        if (cut >= maxEntries) break scan;
      }
    }
    from = page.at(-1)!.localSeq + 1;
  }
  if (cut === 0) return undefined;
  const prefix = taken.slice(0, cut);
  const floors = new Map<string, LogFloor>();
  const records = new Map<RecordId, number>();
  const chains = new Map<string, string>(); // each origin's chain before the entry at hand
  for (const e of prefix) {
    const prev = chains.get(e.origin) ?? (e.seq === 1 ? chainStart(cluster, e.origin) : await store.chainAt(e.origin, e.seq - 1));
    if (prev === undefined) return undefined; // unreachable: the entry before is held, or is the floor
    chains.set(e.origin, e.chain);
    floors.set(e.origin, { seq: e.seq, chain: e.chain, sig: e.sig!, prev, record: e.record, digest: entryDigest(e) });
    if (applied(e)) records.set(e.record, e.localSeq);
  }
  return {
    through: prefix.at(-1)!.localSeq,
    entries: prefix.map((e) => ({ origin: e.origin, seq: e.seq, record: e.record, localSeq: e.localSeq })),
    floors: [...floors],
    records,
  };
}

/**
 * Carries out a plan: compacts the records it touches into snapshots (a few at a time,
 * so writes go on meanwhile), then removes the prefix in one batch. Returns the entries
 * removed (0 when a record was written past its snapshot meanwhile: the next pass retries).
 */
export async function truncateLog(writer: Writer, plan: TruncationPlan): Promise<number> {
  const ids = [...plan.records.keys()];
  // Most records of a later step were compacted by an earlier one (to the log's end then):
  // one batched read finds the rest (checked again under the lock below).
  const before = await writer.metasFor(ids);
  const stale = ids.filter((id, i) => before[i] !== undefined && before[i]!.snapshotAt < plan.records.get(id)!);
  // Queued, not awaited one by one: they share fsyncs (group commit), and the truncation's
  // batch is queued after them, so it is durable only after every snapshot it relies on.
  const compacted: Promise<unknown>[] = [];
  for (let i = 0; i < stale.length; i += COMPACT_CHUNK) {
    const chunk = stale.slice(i, i + COMPACT_CHUNK);
    // The commit comes back wrapped: returned bare, run() would hold the lock until it is durable.
    const { durable } = await writer.run(async () => {
      const metas = await writer.metasFor(chunk);
      const ops: RecordWriteOp[] = [];
      for (const [j, id] of chunk.entries()) {
        const meta = metas[j];
        if (!meta || meta.snapshotAt >= plan.records.get(id)!) continue;
        const doc = await writer.docFor(id, meta);
        ops.push({ id, before: meta, after: { ...meta, pending: 0, snapshot: true }, snapshot: snapshot(doc), wholeDocument: true });
      }
      return { durable: ops.length > 0 ? writer.commit({ records: ops, entries: [], clock: [] }) : undefined };
    });
    if (durable) compacted.push(durable);
  }
  const { done } = await writer.run(async () => {
    const metas = await writer.metasFor(ids);
    // Every touched record's document must be whole without the prefix.
    if (metas.some((meta, j) => meta !== undefined && meta.snapshotAt < plan.records.get(ids[j]!)!)) return { done: undefined };
    const mutation: Mutation = { records: [], entries: [], clock: [], truncate: { through: plan.through, entries: plan.entries }, floors: plan.floors };
    return { done: writer.commit(mutation) };
  });
  await Promise.all(compacted);
  if (!done) return 0;
  await done;
  return plan.entries.length;
}

/** One origin's floor as a region sends it in `base` (its `chain` is recomputed by the receiver). */
export interface BaseFloor extends LogFloor {
  origin: string;
}

/**
 * Whether a floor is its origin's: chain(seq) recomputed from the entry it stands for
 * (so `seq` is bound too), and the origin's signature over it. Returns the floor with
 * the recomputed chain, or undefined.
 */
export function verifiedFloor(floor: BaseFloor, key: Uint8Array, verify: (key: Uint8Array, data: Uint8Array, sig: Uint8Array) => boolean): BaseFloor | undefined {
  let chain: string;
  try {
    chain = chainNext(floor.prev, floor, floor.digest);
  } catch {
    return undefined; // not two SHA-256 hashes
  }
  return verify(key, entrySigningInput(chain), floor.sig) ? { ...floor, chain } : undefined;
}

/** What applying a `base` did. */
export interface BaseResult {
  /** Origins whose clock rose to the floor. */
  raised: string[];
  /** Floors skipped: an origin unknown here (yet), set aside, or beyond its revocation. */
  refused: string[];
  /** Floors whose signature does not verify against their origin's key: forged or altered (then none is raised). */
  forged: string[];
}

/**
 * Raises our clock to the floors of a region that truncated its log (a bootstrap from
 * record documents, which came first), or of a backup: each floor is checked against its
 * origin's key and never lowers anything. Our own origin too: a floor of it above our
 * clock is signed by our key, so we wrote those entries and every member held them; we
 * lost them (a node restored from an old backup, or started again on an empty directory
 * with its key), and numbering on from below it would fork our history. One atomic commit.
 */
export async function applyBase(writer: Writer, authority: OriginAuthority, floors: readonly BaseFloor[], from: NodeId): Promise<BaseResult> {
  const result: BaseResult = { raised: [], refused: [], forged: [] };
  // Every floor is checked first: one that does not verify means the sender (or the file)
  // altered them, and none is taken.
  const checked: BaseFloor[] = [];
  for (const floor of floors) {
    const origin = authority.writer(floor.origin);
    if (!origin || floor.seq > origin.upTo || writer.setAside.has(floor.origin)) {
      result.refused.push(floor.origin);
      continue;
    }
    const verified = verifiedFloor(floor, origin.key, (key, data, sig) => authority.verifier.verify(key, data, sig));
    if (verified) checked.push(verified);
    else result.forged.push(floor.origin);
  }
  if (result.forged.length > 0) return result;
  const { durable } = await writer.run(() => {
    const mutation: Mutation = { records: [], entries: [], clock: [], floors: [], state: [[BASED_KEY, true]] };
    for (const verified of checked) {
      if ((writer.heads.get(verified.origin)?.seq ?? 0) >= verified.seq) continue;
      const head = { seq: verified.seq, hash: verified.chain };
      writer.advance(verified.origin, head);
      mutation.clock.push([verified.origin, head]);
      const { origin, ...stored } = verified;
      mutation.floors!.push([origin, stored]);
      result.raised.push(origin);
    }
    return { durable: mutation.clock.length > 0 ? writer.commit(mutation, from) : undefined };
  });
  await durable;
  return result;
}
