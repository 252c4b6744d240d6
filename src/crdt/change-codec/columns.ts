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
import type { CrmsyncError } from '../../errors.js';
import { bad, type ByteReader } from './reader.js';

/** Marks a null entry in number columns (all real values are ≥ 0 there). */
export const NULL = -1;

const NONE = 0;
const RUN = 1;
const LITERAL = 2;
const NULLS = 3;

/*
 * Unsigned-int and string columns share one decoder; a delta column has its own, which
 * writes the absolute counters directly (the decoder before went through an array of
 * deltas and a second pass, and read every value through a switch on its kind). What
 * both share, the rules of canonical runs, is in the checks below.
 */

/** Checks the length of a repeat run of `count` items. */
function repeatRun(count: number, left: number, what: string): void {
  if (count < 2) throw bad(`${what}: repeat run of one item`);
  if (count > left) throw bad(`${what}: more values than ops`);
}

/** Whether a repeat run's value may not follow the run before (`same`: equal to its last value). */
function continues(prevKind: number, same: boolean): boolean {
  return (prevKind === RUN || prevKind === LITERAL) && same;
}

function continuesError(what: string): CrmsyncError {
  return bad(`${what}: run continues the previous value`);
}

/** Checks a literal run of `count` items; returns LITERAL. Each item is checked against its neighbour by the caller. */
function literalRun(count: number, left: number, prevKind: number, what: string): number {
  if (prevKind === LITERAL) throw bad(`${what}: two adjacent literal runs`);
  if (count > left) throw bad(`${what}: more values than ops`);
  return LITERAL;
}

/** Reads and checks a null run's length; returns it. */
function nullRun(r: ByteReader, left: number, prevKind: number, nullable: boolean, what: string): number {
  const count = r.uleb(what);
  if (!nullable) throw bad(`${what}: null value`);
  if (count < 1) throw bad(`${what}: empty null run`);
  if (prevKind === NULLS) throw bad(`${what}: two adjacent null runs`);
  if (count > left) throw bad(`${what}: more values than ops`);
  return count;
}

function repeatedInLiteral(what: string): CrmsyncError {
  return bad(`${what}: repeated value inside a literal run`);
}

function countMismatch(n: number, expected: number, what: string): CrmsyncError {
  return bad(`${what}: ${n} values for ${expected} ops`);
}

/**
 * An RLE column of unsigned ints (actor indexes, counters, actions, value metadata) into
 * `out`, NULL for nulls; returns the count. With `exact`, exactly `expected` values must
 * be present; otherwise at most `expected` (the action column, which defines the op
 * count). Nulls are refused unless `nullable`.
 */
export function decodeUintColumn(r: ByteReader, expected: number, exact: boolean, nullable: boolean, what: string, out: number[]): number {
  return decodeRle<number | null>(r, false, expected, exact, nullable, NULL, what, out as (number | null)[]);
}

/** An RLE column of strings (map keys, mark names) into `out`; null entries stay null. Exactly `expected` values. */
export function decodeStringColumn(r: ByteReader, expected: number, what: string, out: (string | null)[]): number {
  return decodeRle<string | null>(r, true, expected, true, true, null, what, out);
}

/** An RLE column of strings (`strings`) or unsigned ints into `out`, `nul` for nulls; see decodeUintColumn. */
function decodeRle<T>(r: ByteReader, strings: boolean, expected: number, exact: boolean, nullable: boolean, nul: T, what: string, out: T[]): number {
  let n = 0;
  let prevKind = NONE;
  let prev: T = nul;
  while (r.pos < r.end) {
    const header = r.sleb(what);
    const left = expected - n;
    if (header > 0) {
      repeatRun(header, left, what);
      const value = (strings ? r.str(what) : r.uleb(what)) as T;
      if (continues(prevKind, value === prev)) throw continuesError(what);
      prevKind = RUN;
      for (const stop = n + header; n < stop;) out[n++] = value;
      prev = value;
    } else if (header < 0) {
      const count = -header;
      const wasRun = prevKind === RUN;
      prevKind = literalRun(count, left, prevKind, what);
      for (let i = 0; i < count; i++) {
        const value = (strings ? r.str(what) : r.uleb(what)) as T;
        if ((i > 0 || wasRun) && value === prev) throw repeatedInLiteral(what);
        out[n++] = value;
        prev = value;
      }
    } else {
      const count = nullRun(r, left, prevKind, nullable, what);
      for (const stop = n + count; n < stop;) out[n++] = nul;
      prevKind = NULLS;
      prev = nul;
    }
  }
  if (exact && n !== expected) throw countMismatch(n, expected, what);
  return n;
}

/**
 * A delta column (RLE of signed differences, each added to the last non-null value) as
 * absolute values into `out`, NULL for null entries; exactly `expected` values. Absolute
 * values are counters, so they must stay within 0 … 2^53 − 1. The canonical-run checks
 * compare the deltas (a delta can be -1, the NULL marker of absolute values: `prevKind`
 * tells a null apart).
 */
export function decodeDeltaAbsolute(r: ByteReader, expected: number, nullable: boolean, what: string, out: number[]): number {
  let n = 0;
  let prevKind = NONE;
  let prev = 0;
  let absolute = 0;
  while (r.pos < r.end) {
    const header = r.sleb(what);
    const left = expected - n;
    if (header > 0) {
      repeatRun(header, left, what);
      const delta = r.sleb(what);
      if (continues(prevKind, delta === prev)) throw continuesError(what);
      prevKind = RUN;
      for (const stop = n + header; n < stop;) out[n++] = absolute = counter(absolute + delta, what);
      prev = delta;
    } else if (header < 0) {
      const count = -header;
      const wasRun = prevKind === RUN;
      prevKind = literalRun(count, left, prevKind, what);
      for (let i = 0; i < count; i++) {
        const delta = r.sleb(what);
        if ((i > 0 || wasRun) && delta === prev) throw repeatedInLiteral(what);
        out[n++] = absolute = counter(absolute + delta, what);
        prev = delta;
      }
    } else {
      const count = nullRun(r, left, prevKind, nullable, what);
      for (const stop = n + count; n < stop;) out[n++] = NULL;
      prevKind = NULLS;
    }
  }
  if (n !== expected) throw countMismatch(n, expected, what);
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
