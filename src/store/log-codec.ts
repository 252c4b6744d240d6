/**
 * How a log entry is stored: short keys, binary hashes. The stored form keeps what the
 * node derived when it verified the entry (chain hash, time, fields, author), so reads
 * never parse a change again.
 */
import type { LoggedEntry, StoredEntry } from '../crdt/change-entry.js';
import type { Placement } from '../crdt/holding.js';
import type { NodeId, RecordId } from '../types.js';

/** A stored log entry (short keys, binary hashes). */
export interface LogValue {
  o: string;
  s: number;
  r: string;
  c: Uint8Array;
  h: Uint8Array;
  t: number;
  /** The fields the change writes: a bit per LOG_FIELDS item when they all are in it, in its order (schema 3); else their names. */
  f: number | string[];
  g?: Uint8Array;
  a?: string;
  b?: 1;
  q?: string;
  x?: Record<string, unknown>;
  /** A stub's change digest (then `c` is empty). */
  d?: Uint8Array;
  /** A stub made by eviction. */
  e?: 1;
  /** Placement before and after: [territory, owner] pairs ('' for unset), before 0 for a new record. */
  w?: [0 | [string, string], [string, string]];
}

/**
 * Fields an entry names as one bit each (bit i: LOG_FIELDS[i]), in the order changes
 * write them. Part of the storage format: append only, and at most 31 entries (the bits
 * of a small integer; test/store/log-codec.test.ts pins the list). Entries naming any
 * other field (a custom one), or these in another order, keep the names: every entry
 * reads back exactly as it was stored.
 */
export const LOG_FIELDS = [
  'name', 'email', 'phone', 'company', 'title', 'owner', 'territory', 'stage',
  'address.street', 'address.city', 'address.region', 'address.postcode', 'address.country',
  'tags', 'notes', 'interactions', 'deleted',
] as const;
const LOG_FIELD_BIT = new Map<string, number>(LOG_FIELDS.map((field, i) => [field, i]));

function fieldsValue(fields: string[]): number | string[] {
  let mask = 0;
  let last = -1;
  for (const field of fields) {
    const bit = LOG_FIELD_BIT.get(field);
    if (bit === undefined || bit <= last) return fields;
    mask |= 1 << bit;
    last = bit;
  }
  return mask;
}

function fieldsOf(value: number | string[]): string[] {
  if (typeof value !== 'number') return value;
  const fields: string[] = [];
  for (let bit = 0; bit < LOG_FIELDS.length; bit++) if (value & (1 << bit)) fields.push(LOG_FIELDS[bit]!);
  return fields;
}

const pair = (p: Placement): [string, string] => [p.territory ?? '', p.owner ?? ''];
const place = ([territory, owner]: [string, string]): Placement => ({
  ...(territory === '' ? {} : { territory }), ...(owner === '' ? {} : { owner }),
});

/** The stored value of an entry. */
export function toLogValue(e: LoggedEntry): LogValue {
  const value: LogValue = { o: e.origin, s: e.seq, r: e.record, c: e.change, h: Buffer.from(e.chain, 'hex'), t: e.time, f: fieldsValue(e.fields) };
  if (e.sig) value.g = e.sig;
  if (e.author !== undefined) value.a = e.author;
  if (e.boundary) value.b = 1;
  if (e.quarantined !== undefined) value.q = e.quarantined;
  if (e.ext) value.x = e.ext;
  if (e.digest !== undefined) value.d = Buffer.from(e.digest, 'hex');
  if (e.evicted) value.e = 1;
  if (e.place) value.w = [e.place[0] ? pair(e.place[0]) : 0, pair(e.place[1])];
  return value;
}

/** The entry of a stored value at log position `localSeq`. */
export function fromLogValue(v: LogValue, localSeq: number): StoredEntry {
  const entry: StoredEntry = {
    origin: v.o as NodeId, seq: v.s, record: v.r as RecordId, change: v.c, localSeq,
    chain: Buffer.from(v.h).toString('hex'), time: v.t, fields: fieldsOf(v.f),
  };
  if (v.g) entry.sig = v.g;
  if (v.a !== undefined) entry.author = v.a;
  if (v.b) entry.boundary = true;
  if (v.q !== undefined) entry.quarantined = v.q;
  if (v.x) entry.ext = v.x;
  if (v.d) entry.digest = Buffer.from(v.d).toString('hex');
  if (v.e) entry.evicted = true;
  if (v.w) entry.place = [v.w[0] === 0 ? null : place(v.w[0]), place(v.w[1])];
  return entry;
}

/**
 * The origin index value: where the entry sits in the log. Schema 2 stored it with the
 * entry's chain hash, `{ l, h }`; the hash is in the log entry, so schema 3 stores the
 * position alone (35 bytes less per entry).
 */
export type OriginIndexValue = number | { l: number; h: Uint8Array };

/** The log position of an origin index value of either schema. */
export const positionOf = (value: OriginIndexValue): number => (typeof value === 'number' ? value : value.l);
