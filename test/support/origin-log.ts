/**
 * Change entries in wire form for scripted peers: an origin's hash chain, signed with
 * whatever key a test chooses (the origin's own, or a forger's), so a test can build an
 * honest history, a forged one, or a second history of the same origin (a fork).
 */
import { chainNext, chainStart, entrySigningInput } from '../../src/crdt/origin-clock.js';
import { changeDigest } from '../../src/engine/entry-check.js';
import type { NodeKeys } from '../../src/trust/keys.js';

/** One change of a record, as an entry carries it. */
export interface RecordChange {
  record: string;
  change: Uint8Array;
}

/** An origin's chain as a writer holds it: where it stands, and the key it signs with. */
export class OriginLog {
  seq: number;
  chain: string;

  constructor(readonly cluster: string, readonly origin: string, readonly keys: NodeKeys, at?: { seq: number; chain: string }) {
    this.seq = at?.seq ?? 0;
    this.chain = at?.chain ?? chainStart(cluster, origin);
  }

  /** The same chain, continued independently from here (another writer with a copied key, or a forger). */
  fork(keys: NodeKeys = this.keys): OriginLog {
    return new OriginLog(this.cluster, this.origin, keys, { seq: this.seq, chain: this.chain });
  }

  /**
   * The next entries of this origin in wire form (short keys): `p` on the first, the
   * signature on the last (or on each with `signEach`), as a node sends them.
   */
  next(changes: RecordChange[], options: { signEach?: boolean } = {}): Record<string, unknown>[] {
    return changes.map(({ record, change }, i) => {
      const prev = this.chain;
      this.chain = chainNext(this.chain, { seq: ++this.seq, record }, changeDigest(change));
      const value: Record<string, unknown> = { o: this.origin, s: this.seq, r: record, c: change };
      if (i === 0) value.p = Buffer.from(prev, 'hex');
      if (options.signEach || i === changes.length - 1) value.g = this.keys.sign(entrySigningInput(this.chain));
      return value;
    });
  }
}
