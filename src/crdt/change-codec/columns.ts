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
 */
import { bad, type ByteReader } from './reader.js';

/** Marks a null entry in number columns (all real values are ≥ 0 there). */
export const NULL = -1;

const NONE = 0;
const RUN = 1;
const LITERAL = 2;
const NULLS = 3;

type Kind = 'uint' | 'str';

/**
 * Decodes an RLE column of `kind` values from `r` (positioned on the column, `r.end` at
 * its end). With `exact`, exactly `expected` values must be present; otherwise at most
 * `expected` (the action column, which defines the op count). Nulls are refused unless
 * `nullable`; number nulls come back as NULL, string nulls as null.
 */
function decodeRle<T extends number | string>(r: ByteReader, kind: Kind, expected: number, exact: boolean, nullable: boolean, what: string): (T | null)[] {
  const out: (T | null)[] = [];
  let prevKind = NONE;
  let prevValue: T | null = null;
  while (!r.done()) {
    const header = r.sleb(what);
    const left = expected - out.length;
    if (header > 0) {
      if (header < 2) throw bad(`${what}: repeat run of one item`);
      if (header > left) throw bad(`${what}: more values than ops`);
      const value = readValue(r, kind, what) as T;
      if ((prevKind === RUN || prevKind === LITERAL) && value === prevValue) throw bad(`${what}: run continues the previous value`);
      for (let i = 0; i < header; i++) out.push(value);
      prevKind = RUN;
      prevValue = value;
    } else if (header < 0) {
      const count = -header;
      if (prevKind === LITERAL) throw bad(`${what}: two adjacent literal runs`);
      if (count > left) throw bad(`${what}: more values than ops`);
      for (let i = 0; i < count; i++) {
        const value = readValue(r, kind, what) as T;
        if ((i > 0 || prevKind === RUN) && value === prevValue) throw bad(`${what}: repeated value inside a literal run`);
        out.push(value);
        prevValue = value;
      }
      prevKind = LITERAL;
    } else {
      const count = r.uleb(what);
      if (!nullable) throw bad(`${what}: null value`);
      if (count < 1) throw bad(`${what}: empty null run`);
      if (prevKind === NULLS) throw bad(`${what}: two adjacent null runs`);
      if (count > left) throw bad(`${what}: more values than ops`);
      const nul = (kind === 'str' ? null : NULL) as T | null;
      for (let i = 0; i < count; i++) out.push(nul);
      prevKind = NULLS;
      prevValue = null;
    }
  }
  if (exact && out.length !== expected) throw bad(`${what}: ${out.length} values for ${expected} ops`);
  return out;
}

function readValue(r: ByteReader, kind: Kind, what: string): number | string {
  if (kind === 'uint') return r.uleb(what);
  return r.str(what);
}

/** An RLE column of unsigned ints (actor indexes, counters, actions, value metadata). */
export function decodeUintColumn(r: ByteReader, expected: number, exact: boolean, nullable: boolean, what: string): number[] {
  return decodeRle<number>(r, 'uint', expected, exact, nullable, what) as number[];
}

/** An RLE column of strings (map keys, mark names); null entries stay null. */
export function decodeStringColumn(r: ByteReader, expected: number, what: string): (string | null)[] {
  return decodeRle<string>(r, 'str', expected, true, true, what);
}

/**
 * A delta column (RLE of signed differences, each added to the last non-null value):
 * returns the absolute values, NULL for null entries. Absolute values are counters, so
 * they must stay within 0 … 2^53 − 1.
 */
export function decodeDeltaAbsolute(r: ByteReader, expected: number, nullable: boolean, what: string): number[] {
  const out: number[] = [];
  let prevKind = NONE;
  let prevValue = 0;
  let absolute = 0;
  while (!r.done()) {
    const header = r.sleb(what);
    const left = expected - out.length;
    if (header > 0) {
      if (header < 2) throw bad(`${what}: repeat run of one item`);
      if (header > left) throw bad(`${what}: more values than ops`);
      const delta = r.sleb(what);
      if ((prevKind === RUN || prevKind === LITERAL) && delta === prevValue) throw bad(`${what}: run continues the previous value`);
      for (let i = 0; i < header; i++) out.push((absolute = counter(absolute + delta, what)));
      prevKind = RUN;
      prevValue = delta;
    } else if (header < 0) {
      const count = -header;
      if (prevKind === LITERAL) throw bad(`${what}: two adjacent literal runs`);
      if (count > left) throw bad(`${what}: more values than ops`);
      for (let i = 0; i < count; i++) {
        const delta = r.sleb(what);
        if ((i > 0 || prevKind === RUN) && delta === prevValue) throw bad(`${what}: repeated value inside a literal run`);
        out.push((absolute = counter(absolute + delta, what)));
        prevValue = delta;
      }
      prevKind = LITERAL;
    } else {
      const count = r.uleb(what);
      if (!nullable) throw bad(`${what}: null value`);
      if (count < 1) throw bad(`${what}: empty null run`);
      if (prevKind === NULLS) throw bad(`${what}: two adjacent null runs`);
      if (count > left) throw bad(`${what}: more values than ops`);
      for (let i = 0; i < count; i++) out.push(NULL);
      prevKind = NULLS;
    }
  }
  if (out.length !== expected) throw bad(`${what}: ${out.length} values for ${expected} ops`);
  return out;
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
export function decodeBooleanColumn(r: ByteReader, expected: number, what: string): boolean[] {
  const out: boolean[] = [];
  let value = false;
  let first = true;
  while (!r.done()) {
    const count = r.uleb(what);
    if (count === 0 && !first) throw bad(`${what}: empty run`);
    if (count > expected - out.length) throw bad(`${what}: more values than ops`);
    for (let i = 0; i < count; i++) out.push(value);
    value = !value;
    first = false;
  }
  if (out.length !== expected) throw bad(`${what}: ${out.length} values for ${expected} ops`);
  return out;
}
