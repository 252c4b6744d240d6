/**
 * How a log entry is stored: short keys, binary hashes. The stored form keeps what the
 * node derived when it verified the entry (chain hash, time, fields, author), so reads
 * never parse a change again.
 */
import type { LoggedEntry, StoredEntry } from '../crdt/change-entry.js';
import type { NodeId, RecordId } from '../types.js';

interface LogValue {
  o: string;
  s: number;
  r: string;
  c: Uint8Array;
  h: Uint8Array;
  t: number;
  f: string[];
  g?: Uint8Array;
  a?: string;
  b?: 1;
  q?: string;
  x?: Record<string, unknown>;
  /** A stub's digest of its withheld change. */
  d?: Uint8Array;
}

/** The stored value of an entry. */
export function toLogValue(e: LoggedEntry): LogValue {
  const value: LogValue = { o: e.origin, s: e.seq, r: e.record, c: e.change, h: Buffer.from(e.chain, 'hex'), t: e.time, f: e.fields };
  if (e.sig) value.g = e.sig;
  if (e.author !== undefined) value.a = e.author;
  if (e.boundary) value.b = 1;
  if (e.quarantined !== undefined) value.q = e.quarantined;
  if (e.ext) value.x = e.ext;
  if (e.hash) value.d = e.hash;
  return value;
}

/** The entry of a stored value at log position `localSeq`. */
export function fromLogValue(v: LogValue, localSeq: number): StoredEntry {
  const entry: StoredEntry = {
    origin: v.o as NodeId, seq: v.s, record: v.r as RecordId, change: v.c, localSeq,
    chain: Buffer.from(v.h).toString('hex'), time: v.t, fields: v.f,
  };
  if (v.g) entry.sig = v.g;
  if (v.a !== undefined) entry.author = v.a;
  if (v.b) entry.boundary = true;
  if (v.q !== undefined) entry.quarantined = v.q;
  if (v.x) entry.ext = v.x;
  if (v.d) entry.hash = v.d;
  return entry;
}

/** The origin index value: where the entry sits in the log and its chain hash. */
export interface OriginIndexValue {
  l: number;
  h: Uint8Array;
}
