/**
 * Secondary indexes over record views, maintained in the same atomic batch as the
 * record itself so a listing never disagrees with the records it lists.
 */
import type { RecordView } from '../crdt/record-schema.js';

/** Index names and the view value each one orders by. */
export const INDEXES = {
  territory: (v: RecordView) => v.territory,
  owner: (v: RecordView) => v.owner,
  stage: (v: RecordView) => v.stage,
  updated: (v: RecordView) => v.updatedAt.toString(16).padStart(12, '0'),
} as const;

/** One index name. */
export type IndexName = keyof typeof INDEXES;

/** Encodes an index value so it can never contain the '/' separator. */
export function encodeIndexValue(value: string): string {
  return encodeURIComponent(value);
}

/** All index keys a view contributes (deleted records are not indexed). */
export function indexKeysOf(view: RecordView | undefined): Set<string> {
  const keys = new Set<string>();
  if (!view || view.deleted) return keys;
  for (const [name, pick] of Object.entries(INDEXES)) {
    const value = pick(view);
    if (value !== undefined) keys.add(`${name}/${encodeIndexValue(value)}/${view.id}`);
  }
  return keys;
}
