/**
 * When a deleted record's tombstone may be collected, never earlier: (1) it was deleted
 * at least the retention period ago (a deleted record stays restorable that long), and
 * (2) causal stability: every member of the cluster holds every entry of the record
 * this node holds, the delete included, so no member can still send a change the delete
 * did not see. What members hold is learned from their clocks (open, ack, have) and
 * kept durably, so a restart does not forget it; a member whose holdings this node never
 * learned blocks every collection.
 */
import { learn, type SeqClock } from '../crdt/origin-clock.js';
import type { Store } from '../store/store.js';
import type { RecordId } from '../types.js';

/** Deleted records examined per page of a collection pass. */
const SCAN_PAGE = 1000;

/**
 * What every member holds, as far as this node knows: the pointwise minimum of our own
 * clock and every other member's known clock; undefined while one is unknown.
 */
export function stableClock(members: readonly string[], self: string, own: SeqClock, known: ReadonlyMap<string, SeqClock>): SeqClock | undefined {
  const stable = new Map(own);
  for (const member of members) {
    if (member === self) continue;
    const theirs = known.get(member);
    if (!theirs) return undefined;
    for (const [origin, seq] of stable) stable.set(origin, Math.min(seq, theirs.get(origin) ?? 0));
  }
  return stable;
}

/** Merges newly learned holdings into `known` (pointwise maximum per member); true when something grew. */
export function mergeHoldings(known: Map<string, Map<string, number>>, learned: Iterable<readonly [string, SeqClock]>): boolean {
  let grew = false;
  for (const [member, clock] of learned) {
    const held = known.get(member) ?? new Map<string, number>();
    const before = JSON.stringify([...held]);
    learn(held, clock);
    known.set(member, held);
    grew ||= JSON.stringify([...held]) !== before;
  }
  return grew;
}

/** The deleted records that may be collected now (both conditions of the file comment), at most `max`. */
export async function collectableTombstones(store: Store, stable: SeqClock, now: number, retentionMs: number, max: number): Promise<{ id: RecordId; deletedAt: number }[]> {
  const found: { id: RecordId; deletedAt: number }[] = [];
  let after: string | undefined;
  do {
    const page = await store.listRecords({ ...(after === undefined ? {} : { after }), limit: SCAN_PAGE, includeDeleted: true });
    for (const view of page.views) {
      if (!view.deleted || view.deletedAt === undefined || view.deletedAt + retentionMs > now) continue;
      const history = await store.historyOf(view.id, Number.MAX_SAFE_INTEGER);
      if (history.every((e) => (stable.get(e.origin) ?? 0) >= e.seq)) found.push({ id: view.id, deletedAt: view.deletedAt });
      if (found.length >= max) return found;
    }
    after = page.next;
  } while (after !== undefined);
  return found;
}
