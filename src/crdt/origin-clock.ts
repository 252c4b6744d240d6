/**
 * The origin clock: what a node holds, as a version vector over origins. Every change
 * entry is stamped with the node that made it (its origin) and that origin's sequence
 * number; sequences are contiguous per origin, so "holds changes 1..n of origin o" is
 * one number per origin. Each origin's entries also form a hash chain (`prev` names the
 * previous entry's chain hash), so two different histories written under one origin (a
 * copied data directory) are detected the moment they meet.
 *
 * This module is the one home of that idea: accepting an entry (contiguity and chain),
 * learning what a peer holds, computing what a peer lacks, comparing, and the wire form.
 * Everything here is pure; the laws (merge commutative, associative, idempotent; compare
 * consistent with merge; acceptance never skips) are property-tested.
 */

/** The last entry held of one origin. */
export interface OriginHead {
  /** Highest contiguous sequence number held (entries 1..seq). */
  seq: number;
  /** Chain hash of entry `seq` ('' when nothing is held). */
  hash: string;
}

/** What a node holds: origin -> last entry. A missing origin holds nothing. */
export type OriginClock = ReadonlyMap<string, OriginHead>;

/** What a peer is known to hold, sequence numbers only. A missing origin means 0. */
export type SeqClock = ReadonlyMap<string, number>;

/** The wire form: `[origin, seq, hash]` triples sorted by origin. */
export type WireClock = [origin: string, seq: number, hash: string][];

/** How two clocks relate: `before` means a happened-before b (b holds all a holds, and more). */
export type Ordering = 'equal' | 'before' | 'after' | 'concurrent';

/** Length (hex characters) of the chain hash: the first 8 bytes of the entry's change hash. */
export const CHAIN_HASH_HEX = 16;

/** The chain hash an entry contributes, from the hash of its Automerge change. */
export function chainHash(changeHash: string): string {
  return changeHash.slice(0, CHAIN_HASH_HEX);
}

/** What receiving one entry of an origin means, given the head held of that origin. */
export type Acceptance =
  /** Already held: skip it. */
  | 'duplicate'
  /** The next entry and it chains: accept it. */
  | 'next'
  /** An earlier entry is missing: the sender must resend from our clock. */
  | 'gap'
  /** The next sequence number, but it does not chain: another history under this origin. */
  | 'fork';

/** Classifies an entry `{ seq, prev }` against the held head of its origin. */
export function classify(head: OriginHead | undefined, entry: { seq: number; prev: string }): Acceptance {
  const held = head?.seq ?? 0;
  if (entry.seq <= held) return 'duplicate';
  if (entry.seq > held + 1) return 'gap';
  return entry.prev === (head?.hash ?? '') ? 'next' : 'fork';
}

/** The `{ seq, prev }` of the next entry an origin writes after `head`. */
export function nextEntry(head: OriginHead | undefined): { seq: number; prev: string } {
  return { seq: (head?.seq ?? 0) + 1, prev: head?.hash ?? '' };
}

/** Sequence numbers of a clock (what a peer learns of it). */
export function seqsOf(clock: OriginClock): Map<string, number> {
  const seqs = new Map<string, number>();
  for (const [origin, head] of clock) if (head.seq > 0) seqs.set(origin, head.seq);
  return seqs;
}

/** Raises `known` to every sequence in `learned` (pointwise maximum, in place). */
export function learn(known: Map<string, number>, learned: Iterable<readonly [string, number, ...unknown[]]>): void {
  for (const [origin, seq] of learned) if (seq > (known.get(origin) ?? 0)) known.set(origin, seq);
}

/** Pointwise maximum: what a node holds after receiving everything both clocks hold. */
export function mergeClocks(a: SeqClock, b: SeqClock): SeqClock {
  const merged = new Map(a);
  learn(merged, b);
  return merged;
}

/** Compares two clocks. */
export function compareClocks(a: SeqClock, b: SeqClock): Ordering {
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

/** How many entries `mine` holds that `theirs` lacks. */
export function lacking(mine: SeqClock, theirs: SeqClock): number {
  let count = 0;
  for (const [origin, seq] of mine) count += Math.max(0, seq - (theirs.get(origin) ?? 0));
  return count;
}

/** Origins of which `mine` holds entries that `theirs` lacks, with the first missing seq. */
export function firstMissing(mine: OriginClock, theirs: SeqClock): [origin: string, seq: number][] {
  const missing: [string, number][] = [];
  for (const [origin, head] of mine) {
    const held = theirs.get(origin) ?? 0;
    if (head.seq > held) missing.push([origin, held + 1]);
  }
  return missing;
}

/** The clock in wire form, sorted by origin; only `only` origins when given. */
export function toWireClock(clock: OriginClock, only?: Iterable<string>): WireClock {
  const origins = only ? [...new Set(only)] : [...clock.keys()];
  return origins.sort().flatMap((origin): WireClock => {
    const head = clock.get(origin);
    return head ? [[origin, head.seq, head.hash]] : [];
  });
}

/** The sequence numbers of a wire clock. */
export function seqsFromWire(clock: WireClock): Map<string, number> {
  const seqs = new Map<string, number>();
  learn(seqs, clock);
  return seqs;
}

/** A clock as a plain object sorted by origin (status, backups, display). */
export function clockRecord(clock: SeqClock): Record<string, number> {
  return Object.fromEntries([...clock].filter(([, seq]) => seq > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The first origin whose history `theirs` contradicts: the same sequence number with a
 * different chain hash, or (when the peer claims our own node id) more of our own origin
 * than we ever wrote. Undefined when the two histories agree wherever they overlap.
 */
export function forkedOrigin(mine: OriginClock, theirs: WireClock, self: string, remote: string): string | undefined {
  for (const [origin, seq, hash] of theirs) {
    const head = mine.get(origin);
    if (head !== undefined && head.seq === seq && head.hash !== hash) return origin;
    // A genuine self-connection sent a clock our durable clock has since reached, so a
    // peer with our id holding more of our own origin is another writer with our id.
    if (remote === self && origin === self && seq > (head?.seq ?? 0)) return origin;
  }
  return undefined;
}
