/**
 * Decoders for the column encodings of the Automerge format: run-length (RLE) columns of
 * unsigned ints and strings, delta columns (RLE of signed ints), and boolean columns.
 *
 * Every decoder accepts exactly the canonical encoding that Automerge's encoder (and
 * `encode-columns.ts`) writes, so one list of values has one byte string, and
 * re-encoding a decoded change reproduces its bytes and hash. Canonical RLE means:
 * a repeat run has at least 2 items; a literal run has no two equal neighbours and is
 * never followed by another literal run; a null run has at least 1 item and is never
 * followed by another null run; and no run continues the value its predecessor ended with.
 *
 * Counts are bounded by `expected` (the number of ops, itself capped), never by what a
 * run claims, so a 3-byte run of a billion nulls is refused instead of allocated.
 *
 * Each decoder writes into an array the caller passes and returns how many values it
 * wrote: the decoder of a change reuses one scratch array per column (decode-ops.ts), so
 * a change of a few hundred ops (a customer's notes are one op per character) allocates
 * no column arrays at all. Values past the returned count are left over from earlier
 * decodes and must not be read.
 */
import { bad, type ByteReader } from './reader.js';

/** Marks a null entry in number columns (all real values are ≥ 0 there). */
export const NULL = -1;

const NONE = 0;
const RUN = 1;
const LITERAL = 2;
const NULLS = 3;

type Kind = 'uint' | 'int' | 'str';

/**
 * Decodes an RLE column of `kind` values from `r` (positioned on the column, `r.end` at
 * its end). With `exact`, exactly `expected` values must be present; otherwise at most
 * `expected` (the action column, which defines the op count). Nulls are refused unless
 * `nullable`, and come back as `nul`.
 */
function decodeRle<T extends number | string, N>(r: ByteReader, kind: Kind, expected: number, exact: boolean, nullable: boolean, nul: N, what: string, out: (T | N)[]): number {
  let n = 0; // values written so far
  let prevKind = NONE;
  let prevValue: T | null = null;
  while (!r.done()) {
    const header = r.sleb(what);
    const left = expected - n;
    if (header > 0) {
      if (header < 2) throw bad(`${what}: repeat run of one item`);
      if (header > left) throw bad(`${what}: more values than ops`);
      const value = readValue(r, kind, what) as T;
      if ((prevKind === RUN || prevKind === LITERAL) && value === prevValue) throw bad(`${what}: run continues the previous value`);
      for (let i = 0; i < header; i++) out[n++] = value;
      prevKind = RUN;
      prevValue = value;
    } else if (header < 0) {
      const count = -header;
      if (prevKind === LITERAL) throw bad(`${what}: two adjacent literal runs`);
      if (count > left) throw bad(`${what}: more values than ops`);
      for (let i = 0; i < count; i++) {
        const value = readValue(r, kind, what) as T;
        if ((i > 0 || prevKind === RUN) && value === prevValue) throw bad(`${what}: repeated value inside a literal run`);
        out[n++] = value;
        prevValue = value;
      }
      prevKind = LITERAL;
    } else {
      const count = r.uleb(what);
      if (!nullable) throw bad(`${what}: null value`);
      if (count < 1) throw bad(`${what}: empty null run`);
      if (prevKind === NULLS) throw bad(`${what}: two adjacent null runs`);
      if (count > left) throw bad(`${what}: more values than ops`);
      for (let i = 0; i < count; i++) out[n++] = nul;
      prevKind = NULLS;
      prevValue = null;
    }
  }
  if (exact && n !== expected) throw bad(`${what}: ${n} values for ${expected} ops`);
  return n;
}

function readValue(r: ByteReader, kind: Kind, what: string): number | string {
  if (kind === 'uint') return r.uleb(what);
  if (kind === 'int') return r.sleb(what);
  return r.str(what);
}

/** An RLE column of unsigned ints (actor indexes, counters, actions, value metadata) into `out`; returns the count. */
export function decodeUintColumn(r: ByteReader, expected: number, exact: boolean, nullable: boolean, what: string, out: number[]): number {
  return decodeRle<number, number>(r, 'uint', expected, exact, nullable, NULL, what, out);
}

/** An RLE column of strings (map keys, mark names) into `out`; null entries stay null. */
export function decodeStringColumn(r: ByteReader, expected: number, what: string, out: (string | null)[]): number {
  return decodeRle<string, null>(r, 'str', expected, true, true, null, what, out);
}

/**
 * A delta column (RLE of signed differences, each added to the last non-null value):
 * returns the absolute values, NULL for null entries. Absolute values are counters, so
 * they must stay within 0 … 2^53 − 1.
 */
export function decodeDeltaAbsolute(r: ByteReader, expected: number, nullable: boolean, what: string, out: number[], deltas: (number | null)[]): number {
  // Deltas keep null apart (a delta can be -1, the NULL marker of absolute values).
  const n = decodeRle<number, null>(r, 'int', expected, true, nullable, null, what, deltas);
  let absolute = 0;
  for (let i = 0; i < n; i++) {
    const delta = deltas[i]!;
    out[i] = delta === null ? NULL : (absolute = counter(absolute + delta, what));
  }
  return n;
}

function counter(value: number, what: string): number {
  // Counters are never negative; the upper bound keeps sums exact.
  if (value < 0 || value > Number.MAX_SAFE_INTEGER) throw bad(`${what}: counter out of range`);
  return value;
}

/**
 * A boolean column: alternating run lengths, starting with a run of false. Only the first
 * run may be empty (when the column starts with true); exactly `expected` values.
 */
export function decodeBooleanColumn(r: ByteReader, expected: number, what: string, out: boolean[]): number {
  let n = 0;
  let value = false;
  let first = true;
  while (!r.done()) {
    const count = r.uleb(what);
    if (count === 0 && !first) throw bad(`${what}: empty run`);
    if (count > expected - n) throw bad(`${what}: more values than ops`);
    for (let i = 0; i < count; i++) out[n++] = value;
    value = !value;
    first = false;
  }
  if (n !== expected) throw bad(`${what}: ${n} values for ${expected} ops`);
  return n;
}
