/**
 * The origin clock: what a node holds, as a version vector over origins. Every change
 * entry is stamped with the node that made it (its origin) and that origin's sequence
 * number; sequences are contiguous per origin, so "holds changes 1..n of origin o" is
 * one number per origin. Each origin's entries also form a hash chain (chainNext) whose
 * hashes the origin signs, so an entry cannot be altered, reordered or forged, and two
 * different histories written under one origin (a copied data directory) are detected
 * the moment they meet.
 *
 * This module is the one home of that idea: placing an entry (contiguity), the chain,
 * learning what a peer holds, computing what a peer lacks, comparing, and the wire form.
 * Everything here is pure; the laws (merge commutative, associative, idempotent; compare
 * consistent with merge; acceptance never skips) are property-tested.
 */

import { createHash, hash } from 'node:crypto';

/** The last entry held of one origin. */
export interface OriginHead {
  /** Highest contiguous sequence number held (entries 1..seq). */
  seq: number;
  /** Chain hash at entry `seq` (hex; '' when nothing is held). */
  hash: string;
}

/** What a node holds: origin -> last entry. A missing origin holds nothing. */
export type OriginClock = ReadonlyMap<string, OriginHead>;

/** What a peer is known to hold, sequence numbers only. A missing origin means 0. */
export type SeqClock = ReadonlyMap<string, number>;

/** The wire form: `[origin, seq, chain hash (32 bytes, or empty for seq 0)]` triples sorted by origin. */
export type WireClock = [origin: string, seq: number, hash: Uint8Array][];

/** How two clocks relate: `before` means a happened-before b (b holds all a holds, and more). */
export type Ordering = 'equal' | 'before' | 'after' | 'concurrent';

/** Bytes of a chain hash. */
export const CHAIN_HASH_BYTES = 32;

/**
 * The chain hash before an origin's first entry: binds the chain to its cluster and
 * origin, so an entry can never be replayed under another origin or cluster.
 */
export function chainStart(cluster: string, origin: string): string {
  return createHash('sha256').update('crmsync/chain/1\0').update(cluster).update('\0').update(origin).digest('hex');
}

/**
 * The chain hash after an entry: SHA-256 over the previous chain hash (full length),
 * the entry's sequence number, record id and the hash of its Automerge change (which
 * covers the change's body, deps, actor, time and message). One signature over a chain
 * hash therefore authenticates every entry before it.
 */
export function chainNext(prev: string, entry: { seq: number; record: string }, changeHash: string): string {
  // One buffer and the one-shot hash (measured: 1.6 µs a step, 2.6 µs with createHash's
  // updates): prev (32 bytes), seq (u64 BE), record (UTF-8), NUL, change hash (32 bytes).
  // Both hashes are 32 bytes wherever they come from: the codec checks a peer's `p` and
  // `h` (and stored chains and digests are ours).
  const recordBytes = Buffer.byteLength(entry.record);
  // From Buffer's pool (Buffer.alloc takes a backing store of its own, about 0.4 µs here):
  // every byte is written below. The length checks catch any hash that is not 64
  // characters: 64 hex digits and a tail that is not hex write all 32 bytes, and the
  // buffer's end would cut a longer change hash to 32. The write counts catch 64
  // characters with a pair that is not hex, where the write stops early.
  const input = Buffer.allocUnsafe(CHAIN_HASH_BYTES + 8 + recordBytes + 1 + CHAIN_HASH_BYTES);
  const nul = CHAIN_HASH_BYTES + 8 + recordBytes;
  if (
    prev.length !== 2 * CHAIN_HASH_BYTES || changeHash.length !== 2 * CHAIN_HASH_BYTES
    || input.write(prev, 0, 'hex') !== CHAIN_HASH_BYTES || input.write(changeHash, nul + 1, 'hex') !== CHAIN_HASH_BYTES
  ) {
    throw new TypeError('chainNext takes two SHA-256 hashes in hex');
  }
  input.writeBigUInt64BE(BigInt(entry.seq), CHAIN_HASH_BYTES);
  input.write(entry.record, CHAIN_HASH_BYTES + 8, 'utf8');
  input[nul] = 0;
  return hash('sha256', input, 'hex');
}

/** The bytes an origin signs for its entry whose chain hash is `chain`. */
export function entrySigningInput(chain: string): Uint8Array {
  return Buffer.concat([Buffer.from('crmsync/entry/1\0'), Buffer.from(chain, 'hex')]);
}

/** Where an entry of an origin stands against the head held of that origin. */
export type Position =
  /** Already held. */
  | 'duplicate'
  /** The next one. */
  | 'next'
  /** An earlier entry is missing: the sender must resend from our clock. */
  | 'gap';

/** Classifies an entry's sequence number against the held head of its origin. */
export function classify(head: OriginHead | undefined, seq: number): Position {
  const held = head?.seq ?? 0;
  if (seq <= held) return 'duplicate';
  return seq === held + 1 ? 'next' : 'gap';
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
    return head ? [[origin, head.seq, Buffer.from(head.hash, 'hex')]] : [];
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
    if (head !== undefined && head.seq === seq && head.hash !== Buffer.from(hash).toString('hex')) return origin;
    // A genuine self-connection sent a clock our durable clock has since reached, so a
    // peer with our id holding more of our own origin is another writer with our id.
    if (remote === self && origin === self && seq > (head?.seq ?? 0)) return origin;
  }
  return undefined;
}
