/**
 * Record ids that never come back: erased (a signed statement every member holds, in
 * the trust list) or whose tombstone this node collected (its own marker, durable in
 * node state). Entries for such a record are kept only as stubs (their chain link) and
 * never applied, and no write may create the id again.
 *
 * Both are keyed by the record id's salted hash (erasureSubject): the erasure never
 * names the id, and one key serves both.
 */
import { CrmsyncError } from '../errors.js';
import { erasureSubject } from '../trust/statements.js';
import type { RecordId } from '../types.js';

/** The erasures of the trust list, as the engine asks about them. */
export interface ErasureSet {
  erasureOf(subject: string): object | undefined;
  readonly erasureCount: number;
}

/** A cluster without erasures (engines built without a trust list: tests, tools). */
export const NO_ERASURES: ErasureSet = { erasureOf: () => undefined, erasureCount: 0 };

/** Where collected tombstones' markers are filed in node state. */
export const COLLECTED_PREFIX = 'gone/';

/** What a collected tombstone leaves behind (node state, forever: a hash and two numbers). */
export interface CollectedMarker {
  /** When the record was deleted (ms since epoch). */
  deletedAt: number;
  /** When this node collected it. */
  collectedAt: number;
}

/** See the file comment. */
export class GoneRecords {
  readonly #cluster: string;
  readonly #erasures: ErasureSet;
  readonly #collected = new Set<string>();

  constructor(cluster: string, erasures: ErasureSet) {
    this.#cluster = cluster;
    this.#erasures = erasures;
  }

  /** The salted hash an erasure or a marker names a record by. */
  subject(id: string): string {
    return erasureSubject(this.#cluster, id);
  }

  /** Why the id is gone, or undefined while it may be written. */
  why(id: string): 'erased' | 'collected' | undefined {
    // Nothing erased or collected (the common case): no hash at all.
    if (this.#collected.size === 0 && this.#erasures.erasureCount === 0) return undefined;
    const subject = this.subject(id);
    if (this.#erasures.erasureOf(subject)) return 'erased';
    return this.#collected.has(subject) ? 'collected' : undefined;
  }

  /** True when entries for the record are stubbed and writes refused. */
  isGone(id: string): boolean {
    return this.why(id) !== undefined;
  }

  /** Throws ERR_GONE for an id that never comes back. */
  assertWritable(id: RecordId): void {
    const why = this.why(id);
    if (why) throw new CrmsyncError('ERR_GONE', `record ${id} was ${why === 'erased' ? 'erased' : 'deleted and collected'}; its id is never used again`);
  }

  /** Remembers collected tombstones (loaded at open, or just made durable). */
  collected(subjects: Iterable<string>): void {
    for (const subject of subjects) this.#collected.add(subject);
  }

  /** How many tombstones this node collected. */
  get collectedCount(): number {
    return this.#collected.size;
  }
}
