/**
 * Marks of records whose history a subscriber holds only in part (ingest.ts markPartial):
 * one small node-state key per record, set with the stub or eviction that left part of
 * its history out, deleted when a region's whole document is adopted (backfill.ts) and
 * when the record is removed for good (purge.ts: erased, or its tombstone collected).
 */
import type { RecordId } from '../types.js';

/** Node-state key prefix of the marks. */
export const PARTIAL_PREFIX = 'partial/';

/** The node-state key marking `id`. */
export function partialKey(id: RecordId): string {
  return `${PARTIAL_PREFIX}${id}`;
}
