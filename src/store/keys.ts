/**
 * The key schema (version 4: signed logs, compact values, index keys written behind). Each kind of data lives in its own sublevel; numbers are
 * fixed-width hex so byte order is numeric order; record ids cannot contain '/', so
 * `${id}/` is a prefix of that record's keys and of no other record's.
 *
 * | sublevel | key                         | value                                 |
 * |----------|-----------------------------|---------------------------------------|
 * | meta     | 'schema' / 'node' / 'counts'| schema version / identity / counters  |
 * |          | 'logStart' / 'floors'       | first held log position / per-origin  |
 * |          |                             | floors of a truncated log             |
 * | clock    | origin                      | { seq, hash } last entry per origin   |
 * | rec      | recordId                    | RecordMeta (state, view, snapshotAt), |
 * |          |                             | positional (meta-codec.ts)            |
 * | doc      | recordId                    | the record's latest snapshot          |
 * | log      | localSeq(12 hex)            | entry + derived data (log-codec.ts)   |
 * | origin   | origin/seq(12 hex)          | localSeq (schema 2: { l, h: chain })  |
 * | hist     | recordId/localSeq(12 hex)   | marker: history index                 |
 * | away     | recordId/localSeq(12 hex)   | marker: this node's own changes to    |
 * |          |                             | records it no longer holds (evicted)  |
 * | idx      | name/encoded value/recordId | marker: secondary indexes             |
 * | idxq     | recordId                    | marker: created records whose index   |
 * |          |                             | keys are not written yet              |
 * |          |                             | (index-backlog.ts)                    |
 * | state    | any                         | small named values owned by drivers   |
 * | trust    | statement hash (hex)        | signed trust statement                |
 *
 * A marker's key says everything: its value is the one byte MARKER_VALUE (level-store.ts;
 * directories written before it may hold empty values), and no reader looks at it.
 */
export const SCHEMA_VERSION = 4;
/**
 * The schemas a store can be opened from and upgraded in place, by writing the version
 * alone. Schema 3 has schema 2's keys, and writes record metas, log fields and origin
 * index values more compactly (meta-codec.ts, log-codec.ts); it reads schema 2's values
 * as they are. Schema 4 adds `idxq`: a store of schema 2 or 3 has every index key
 * written, so none waits. A build that reads an older schema only refuses a store once
 * it is upgraded (ERR_CORRUPT, naming both): it would not index the records `idxq` names.
 */
export const UPGRADABLE_SCHEMAS: readonly number[] = [2, 3];

/** Sublevel names. */
export const SUBLEVELS = ['meta', 'clock', 'rec', 'doc', 'log', 'origin', 'hist', 'away', 'idx', 'state', 'trust', 'idxq'] as const;
/** One sublevel name. */
export type SublevelName = (typeof SUBLEVELS)[number];

/** Fixed-width hex so that lexicographic order is numeric order. */
export function hexKey(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Key of a log entry. */
export const logKey = (localSeq: number): string => hexKey(localSeq, 12);
/** Key of the origin index. */
export const originKey = (origin: string, seq: number): string => `${origin}/${hexKey(seq, 12)}`;
/** Key of a history index entry. */
export const histKey = (id: string, localSeq: number): string => `${id}/${hexKey(localSeq, 12)}`;

/** Range bounds covering exactly the keys that start with `${prefix}/`. */
export function prefixRange(prefix: string): { gt: string; lt: string } {
  // '0' is the character after '/', so `${prefix}0` bounds `${prefix}/…` from above.
  return { gt: `${prefix}/`, lt: `${prefix}0` };
}
