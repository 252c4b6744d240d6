/**
 * Version vectors over origins. `clock[o] = n` means "holds changes 1..n of origin o"
 * (sequences are contiguous per origin, which the receiver enforces). Pure functions
 * over immutable maps; the laws (merge commutative, associative, idempotent; compare
 * consistent with merge) are property-tested.
 */

/** A version vector: origin -> highest contiguous sequence held. Missing means 0. */
export type VectorClock = ReadonlyMap<string, number>;

/** How two clocks relate. */
export type Ordering = 'equal' | 'before' | 'after' | 'concurrent';

/** Builds a clock from entries, dropping zero entries so equal clocks compare equal. */
export function clockOf(entries: Iterable<readonly [string, number]>): VectorClock {
  const clock = new Map<string, number>();
  for (const [origin, seq] of entries) {
    if (seq > 0) clock.set(origin, Math.max(seq, clock.get(origin) ?? 0));
  }
  return clock;
}

/** Pointwise maximum: what a node holds after receiving everything both clocks hold. */
export function mergeClocks(a: VectorClock, b: VectorClock): VectorClock {
  const merged = new Map(a);
  for (const [origin, seq] of b) if (seq > (merged.get(origin) ?? 0)) merged.set(origin, seq);
  return merged;
}

/** Compares two clocks: `before` means a happened-before b (b holds all a holds, and more). */
export function compareClocks(a: VectorClock, b: VectorClock): Ordering {
  let aAhead = false;
  let bAhead = false;
  for (const origin of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(origin) ?? 0;
    const y = b.get(origin) ?? 0;
    if (x > y) aAhead = true;
    else if (y > x) bAhead = true;
  }
  if (aAhead && bAhead) return 'concurrent';
  if (aAhead) return 'after';
  if (bAhead) return 'before';
  return 'equal';
}

/** How many changes `mine` holds that `theirs` lacks (the other side's lag behind us). */
export function changesAhead(mine: VectorClock, theirs: VectorClock): number {
  let count = 0;
  for (const [origin, seq] of mine) count += Math.max(0, seq - (theirs.get(origin) ?? 0));
  return count;
}

/** Entries sorted by origin, for stable wire encoding and display. */
export function clockEntries(clock: VectorClock): [string, number][] {
  return [...clock.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
