/**
 * Encoders for the column encodings, writing the canonical form that Automerge 3 writes
 * (and that `columns.ts` requires): equal neighbours become a repeat run, other values
 * gather into literal runs, nulls into null runs.
 *
 * A column is collected as segments (a value and how many times it repeats), not one
 * entry per op: a record's notes are one op per character, and each of a run's columns
 * is one or two segments (the same object, the same action, each key counter one after
 * the last), where an entry per character cost a write per column per character and a
 * scan of each column after (about a third of encoding a bench record with notes).
 * test/crdt/encode-columns.test.ts holds the bytes to the entry-at-a-time encoders these
 * replaced, on random columns cut into random segments.
 */
import { SCRATCH_KEEP } from './scratch.js';
import type { ByteWriter } from './writer.js';

/** How the values of an RLE column are written: unsigned, signed, or as strings. */
export type ValueKind = 'uint' | 'int' | 'str';

/**
 * One column as segments: `values[i]` repeated `counts[i]` times, for i below `size`.
 * Equal neighbours are merged as they are added, so no two adjacent segments hold the
 * same value: what the writers below rely on. Reused across changes (`reset`).
 */
export class SegmentColumn<T extends number | string | boolean | null> {
  values: T[] = [];
  counts: number[] = [];
  size = 0;
  /** The last non-null counter added (`addCounter`), for delta columns. */
  last = 0;

  /** Empties the column for the next change (and lets go of a large one's arrays). */
  reset(): void {
    if (this.values.length > SCRATCH_KEEP) {
      this.values = [];
      this.counts = [];
    }
    this.size = 0;
    this.last = 0;
  }

  /** Adds `value`, `count` times. */
  add(value: T, count = 1): void {
    if (count <= 0) return;
    const s = this.size;
    if (s > 0 && this.values[s - 1] === value) {
      this.counts[s - 1]! += count;
      return;
    }
    this.values[s] = value;
    this.counts[s] = count;
    this.size = s + 1;
  }

  /** Adds a counter to a delta column: its difference from the last one (null stays null). */
  addCounter(this: SegmentColumn<number | null>, counter: number | null): void {
    if (counter === null) {
      this.add(null);
      return;
    }
    this.add(counter - this.last);
    this.last = counter;
  }

  /** Adds `count` counters, each one more than the one before, starting at `first`. */
  addCounterRun(this: SegmentColumn<number | null>, first: number, count: number): void {
    if (count <= 0) return;
    this.addCounter(first);
    this.add(1, count - 1);
    this.last = first + count - 1;
  }
}

function writeOne(w: ByteWriter, v: number | string, kind: ValueKind): void {
  if (kind === 'str') w.str(v as string);
  else if (kind === 'int') w.sleb(v as number);
  else w.uleb(v as number);
}

/**
 * Writes an RLE column (a delta column is an RLE column of its differences, kind 'int');
 * returns false (and writes nothing) when the column is empty or every value is null,
 * since Automerge leaves such a column out of a change.
 */
export function writeRle(w: ByteWriter, column: SegmentColumn<number | string | null>, kind: ValueKind): boolean {
  const { values, counts, size } = column;
  let i = 0;
  while (i < size && values[i] === null) i++;
  if (i === size) return false;
  i = 0;
  while (i < size) {
    const v = values[i]!;
    if (v === null) {
      w.sleb(0);
      w.uleb(counts[i]!);
      i++;
      continue;
    }
    if (counts[i]! >= 2) {
      w.sleb(counts[i]!);
      writeOne(w, v, kind);
      i++;
      continue;
    }
    // A literal run: single values up to a null or to a value that repeats (a segment of
    // two or more); neighbours differ, as segments are merged when added.
    let k = i + 1;
    while (k < size && values[k] !== null && counts[k] === 1) k++;
    w.sleb(i - k);
    for (let m = i; m < k; m++) writeOne(w, values[m]!, kind);
    i = k;
  }
  return true;
}

/**
 * Writes a boolean column (alternating run lengths, starting with false). With `omitIfFalse`
 * an all-false column is left out (returns false, writes nothing).
 */
export function writeBooleans(w: ByteWriter, column: SegmentColumn<boolean>, omitIfFalse: boolean): boolean {
  const { values, counts, size } = column;
  if (omitIfFalse && !(size > 1 || (size === 1 && values[0] === true))) return false;
  if (size > 0 && values[0] === true) w.uleb(0); // the first run counts false values: none
  for (let i = 0; i < size; i++) w.uleb(counts[i]!);
  return true;
}
