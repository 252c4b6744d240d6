/**
 * Automerge changes written directly, as a hostile cluster member would: with the
 * member's own actor (so the change passes the origin check), on top of whatever honest
 * changes the member has seen, with any value at all. Plus change bodies that are not
 * Automerge at all, with and without a valid chunk header.
 */
import { createHash } from 'node:crypto';
import * as A from '@automerge/automerge';
import { makeActorId } from '../../src/crdt/actor.js';
import { GENESIS_BYTES } from '../../src/crdt/genesis.js';
import type { NodeId } from '../../src/types.js';

/** A record document as the member edits it (loosely typed: the point is to write anything). */
export type LooseDoc = A.Doc<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Deterministic pseudo-random bytes (xorshift32), so a failure can be replayed. */
export function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * An Automerge change chunk whose header is right (magic, length, checksum over the body)
 * and whose body is garbage: it passes every check but parsing the change itself.
 */
export function garbageChange(seed: number, bodyLength = 120): Uint8Array {
  const body = Buffer.concat([Buffer.from([0]), noise(bodyLength, seed)]); // no dependencies, then noise
  const length: number[] = [];
  for (let n = body.length; ; n >>>= 7) {
    length.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    if (n <= 0x7f) break;
  }
  const chunk = Buffer.concat([Buffer.from([1]), Buffer.from(length), body]);
  const checksum = createHash('sha256').update(chunk).digest().subarray(0, 4);
  return new Uint8Array(Buffer.concat([Buffer.from([0x85, 0x6f, 0x4a, 0x83]), checksum, chunk]));
}

/** The record documents of one member, each holding what the member has seen of it. */
export class MemberDocs {
  readonly #docs = new Map<string, LooseDoc>();
  readonly #actor: string;

  /** `incarnation`: a member process (two of them write concurrently, as one node restarted would). */
  constructor(readonly node: string, incarnation = 1) {
    this.#actor = makeActorId(node as NodeId, new Uint8Array(8).fill(incarnation));
  }

  /** The member's current document of `record` (the genesis skeleton if it saw nothing). */
  doc(record: string): LooseDoc {
    let doc = this.#docs.get(record);
    if (!doc) {
      doc = A.load<Record<string, unknown>>(GENESIS_BYTES, { actor: this.#actor });
      this.#docs.set(record, doc);
    }
    return doc;
  }

  /** Takes changes of `record` written elsewhere (so later changes build on them). */
  learn(record: string, changes: Uint8Array[]): void {
    const [next] = A.applyChanges(this.doc(record), changes);
    this.#docs.set(record, next);
  }

  /** Writes anything to `record` and returns the change bytes. */
  write(record: string, edit: (doc: Record<string, any>) => void, time = 1_700_000_000_000): Uint8Array { // eslint-disable-line @typescript-eslint/no-explicit-any
    const next = A.change(this.doc(record), { time }, edit);
    this.#docs.set(record, next);
    const change = A.getLastLocalChange(next);
    if (!change) throw new TypeError('the edit changed nothing');
    return change;
  }

  /** Frees every document. */
  close(): void {
    for (const doc of this.#docs.values()) A.free(doc);
    this.#docs.clear();
  }
}

/** An atomic field value as honest writers store it. */
export const atomic = (value: string): A.ImmutableString => new A.ImmutableString(value);
