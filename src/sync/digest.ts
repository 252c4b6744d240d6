/**
 * The anti-entropy digest: a Merkle tree over (record id, sorted heads) of every record
 * a node holds (tombstones included), grouped first by territory (records without one in
 * the `null` group), then by the hex nibbles of a hash of the record id (fanout 16).
 *
 * A node's hash is defined by the set of records under it alone, never by how deep a
 * side built its tree: hash = SHA-256(count ‖ XOR of the records' hashes). The XOR of a
 * node is the XOR of its children's, so both nodes compute identical hashes for identical
 * holdings without agreeing on a shape first, and a snapshot answers any node in O(1)
 * from prefix XORs over its records sorted by id hash (see `DigestSnapshot`). XOR is not
 * collision-resistant against someone choosing the records, which is acceptable here:
 * only a member's own signed changes make heads, and a peer that hides a difference from
 * us can as well not answer.
 *
 * Pure: no store, no I/O. PROTOCOL.md ("Anti-entropy") describes the exchange.
 */
import { createHash } from 'node:crypto';

/** Children per tree node (one hex nibble of the id hash per level). */
export const DIGEST_FANOUT = 16;
/** Nibbles of the id hash a path may name: the deepest level. */
export const DIGEST_ID_NIBBLES = 8;
/** Bytes of a record or node hash. */
export const DIGEST_HASH_BYTES = 32;
/** The hash of a node without records (also what an absent child hashes to). */
export const EMPTY_NODE_HASH: Uint8Array = new Uint8Array(DIGEST_HASH_BYTES);

/** A territory group: the territory's name, or null for records without one. */
export type Territory = string | null;

/** One record as the digest sees it (from the stored meta: no document needed). */
export interface HeldRecord {
  id: string;
  heads: readonly string[];
  territory: Territory;
}

/** A tree node's summary: how many records are under it, and its hash. */
export interface NodeSummary {
  count: number;
  hash: Uint8Array;
}

/** The id hash that places a record in the tree (the first 8 nibbles of SHA-256 as a u32). */
export function idKey(id: string): number {
  return createHash('sha256').update('crmsync/ae/id\0').update(id).digest().readUInt32BE(0);
}

/** The hash of one record's holding: its id and its heads in sorted order. */
export function recordHash(id: string, heads: readonly string[]): Buffer {
  return createHash('sha256').update('crmsync/ae/rec\0').update(id).update('\0').update([...heads].sort().join(',')).digest();
}

/** The hash of a tree node from its record count and the XOR of its records' hashes. */
export function nodeHash(count: number, xor: Uint8Array): Uint8Array {
  if (count === 0) return EMPTY_NODE_HASH;
  const n = Buffer.alloc(8);
  n.writeUIntBE(count, 2, 6);
  return createHash('sha256').update('crmsync/ae/node\0').update(n).update(xor).digest();
}

/** True for a valid path: up to DIGEST_ID_NIBBLES lower-case hex nibbles. */
export function isDigestPath(prefix: string): boolean {
  return prefix.length <= DIGEST_ID_NIBBLES && /^[0-9a-f]*$/.test(prefix);
}

/** The half-open range of id keys under a path. */
function keyRange(prefix: string): [number, number] {
  if (prefix.length === 0) return [0, 2 ** 32];
  const width = 16 ** (DIGEST_ID_NIBBLES - prefix.length);
  const value = parseInt(prefix, 16);
  return [value * width, (value + 1) * width];
}

/** One territory group of a snapshot: ids sorted by id key, and prefix XORs of their hashes. */
interface Group {
  keys: Uint32Array;
  ids: string[];
  /** prefix[i] = XOR of the first i records' hashes (32 bytes each; i = 0..n). */
  prefix: Buffer;
}

/**
 * The digest of a node's holdings at one moment, built from one pass over its records.
 * Memory: per record its id, 4 bytes of key and 32 of prefix XOR.
 */
export class DigestSnapshot {
  readonly #groups: Map<Territory, Group>;
  /** Records in the snapshot. */
  readonly size: number;

  private constructor(groups: Map<Territory, Group>, size: number) {
    this.#groups = groups;
    this.size = size;
  }

  /** Builds a snapshot from the records (any order: the result depends only on the set). */
  static async build(records: AsyncIterable<HeldRecord> | Iterable<HeldRecord>): Promise<DigestSnapshot> {
    const pending = new Map<Territory, { key: number; id: string; hash: Buffer }[]>();
    let size = 0;
    for await (const record of records) {
      const territory = record.territory === '' ? null : record.territory;
      let list = pending.get(territory);
      if (!list) pending.set(territory, (list = []));
      list.push({ key: idKey(record.id), id: record.id, hash: recordHash(record.id, record.heads) });
      size++;
    }
    const groups = new Map<Territory, Group>();
    for (const [territory, list] of pending) {
      list.sort((a, b) => a.key - b.key || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const prefix = Buffer.alloc((list.length + 1) * DIGEST_HASH_BYTES);
      for (let i = 0; i < list.length; i++) {
        const at = (i + 1) * DIGEST_HASH_BYTES;
        prefix.set(prefix.subarray(at - DIGEST_HASH_BYTES, at), at);
        const h = list[i]!.hash;
        for (let b = 0; b < DIGEST_HASH_BYTES; b++) prefix[at + b]! ^= h[b]!;
      }
      groups.set(territory, { keys: Uint32Array.from(list, (r) => r.key), ids: list.map((r) => r.id), prefix });
    }
    return new DigestSnapshot(groups, size);
  }

  /** Every territory group with its root summary, sorted (null first, then by name). */
  groups(): { territory: Territory; summary: NodeSummary }[] {
    return [...this.#groups.keys()]
      .sort((a, b) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1))
      .map((territory) => ({ territory, summary: this.node(territory, '') }));
  }

  /** The summary of one node (a group that does not exist is empty). */
  node(territory: Territory, prefix: string): NodeSummary {
    const group = this.#groups.get(territory);
    if (!group) return { count: 0, hash: EMPTY_NODE_HASH };
    const [lo, hi] = this.#bounds(group, prefix);
    const xor = Buffer.alloc(DIGEST_HASH_BYTES);
    for (let b = 0; b < DIGEST_HASH_BYTES; b++) xor[b] = group.prefix[lo * DIGEST_HASH_BYTES + b]! ^ group.prefix[hi * DIGEST_HASH_BYTES + b]!;
    return { count: hi - lo, hash: nodeHash(hi - lo, xor) };
  }

  /** The DIGEST_FANOUT children of a node (the path must be shorter than the deepest level). */
  children(territory: Territory, prefix: string): NodeSummary[] {
    if (prefix.length >= DIGEST_ID_NIBBLES) throw new TypeError(`path ${prefix} has no children`);
    return Array.from({ length: DIGEST_FANOUT }, (_, i) => this.node(territory, prefix + i.toString(16)));
  }

  /** The ids of the records under a node, in key order. */
  ids(territory: Territory, prefix: string): string[] {
    const group = this.#groups.get(territory);
    if (!group) return [];
    const [lo, hi] = this.#bounds(group, prefix);
    return group.ids.slice(lo, hi);
  }

  #bounds(group: Group, prefix: string): [number, number] {
    const [from, to] = keyRange(prefix);
    return [lowerBound(group.keys, from), lowerBound(group.keys, to)];
  }
}

/** First index whose key is >= value. */
function lowerBound(keys: Uint32Array, value: number): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** True when two hashes are equal. */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
