/**
 * The change encoder collects each op column as segments (encode-columns.ts) instead of
 * one entry per op. Its bytes must be exactly what the entry-at-a-time encoders it
 * replaced wrote (kept here as the reference): Automerge's canonical form, which the
 * decoder requires and which makes a change's hash. Random columns, cut into random
 * segments (a text run adds many equal entries at once), both ways.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SegmentColumn, writeBooleans, writeRle, type ValueKind } from '../../src/crdt/change-codec/encode-columns.js';
import { ByteWriter } from '../../src/crdt/change-codec/writer.js';

function writeOneRef(w: ByteWriter, v: number | string, kind: ValueKind): void {
  if (kind === 'str') w.str(v as string);
  else if (kind === 'int') w.sleb(v as number);
  else w.uleb(v as number);
}

/** The entry-at-a-time RLE encoder the segments replaced (`5bd0757`). */
function writeRleRef(w: ByteWriter, values: readonly (number | string | null)[], kind: ValueKind): boolean {
  const n = values.length;
  let i = 0;
  while (i < n && values[i] === null) i++;
  if (i === n) return false;
  i = 0;
  while (i < n) {
    const v = values[i]!;
    if (v === null) {
      let j = i + 1;
      while (j < n && values[j] === null) j++;
      w.sleb(0);
      w.uleb(j - i);
      i = j;
      continue;
    }
    let j = i + 1;
    while (j < n && values[j] === v) j++;
    if (j - i >= 2) {
      w.sleb(j - i);
      writeOneRef(w, v, kind);
      i = j;
      continue;
    }
    let k = i + 1;
    while (k < n && values[k] !== null && (k + 1 >= n || values[k] !== values[k + 1])) k++;
    w.sleb(i - k);
    for (let m = i; m < k; m++) writeOneRef(w, values[m]!, kind);
    i = k;
  }
  return true;
}

function writeDeltaRef(w: ByteWriter, values: readonly (number | null)[]): boolean {
  let last = 0;
  const deltas = values.map((v) => {
    if (v === null) return null;
    const d = v - last;
    last = v;
    return d;
  });
  return writeRleRef(w, deltas, 'int');
}

function writeBooleansRef(w: ByteWriter, values: readonly boolean[], omitIfFalse: boolean): boolean {
  if (omitIfFalse && !values.some(Boolean)) return false;
  let current = false;
  let count = 0;
  for (const v of values) {
    if (v === current) {
      count++;
    } else {
      w.uleb(count);
      current = !current;
      count = 1;
    }
  }
  if (count > 0) w.uleb(count);
  return true;
}

/** Runs of equal values with their lengths: how an encoder adds them (a text run adds one value many times). */
const runsOf = <T>(value: fc.Arbitrary<T>) => fc.array(fc.tuple(value, fc.oneof(fc.constant(1), fc.constant(1), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 6, max: 300 }))), { maxLength: 30 });
const expand = <T>(runs: [T, number][]) => runs.flatMap(([v, n]) => Array.from({ length: n }, () => v));
const bytes = (write: (w: ByteWriter) => boolean) => {
  const w = new ByteWriter(8);
  const written = write(w);
  return { written, bytes: Buffer.from(w.view()).toString('hex') };
};

describe('segment columns', () => {
  it('write RLE columns of numbers and strings byte for byte as one entry at a time (seeded)', () => {
    const uint = fc.oneof(fc.constantFrom<number | null>(null, 0, 1, 2), fc.integer({ min: 0, max: 2 ** 40 }));
    const str = fc.oneof(fc.constantFrom<string | null>(null, '', 'a', 'b', 'é'), fc.string({ maxLength: 4 }));
    fc.assert(fc.property(fc.oneof(runsOf(uint).map((r) => ['uint', r] as const), runsOf(str).map((r) => ['str', r] as const)), ([kind, runs]) => {
      const column = new SegmentColumn<number | string | null>();
      for (const [v, n] of runs) column.add(v, n);
      expect(bytes((w) => writeRle(w, column, kind))).toEqual(bytes((w) => writeRleRef(w, expand<number | string | null>(runs), kind)));
    }), { seed: 5150, numRuns: 3000 });
  });

  it('write delta columns (counters, runs of consecutive counters, nulls) byte for byte as one entry at a time (seeded)', () => {
    // Each step: a counter, a null, or a run of `n` consecutive counters from `first`.
    const step = fc.oneof(
      fc.integer({ min: 0, max: 1000 }).map((c) => ({ kind: 'one' as const, c })),
      fc.constant({ kind: 'null' as const }),
      fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 200 })).map(([first, n]) => ({ kind: 'run' as const, first, n })),
    );
    fc.assert(fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
      const column = new SegmentColumn<number | null>();
      const entries: (number | null)[] = [];
      for (const s of steps) {
        if (s.kind === 'one') {
          column.addCounter(s.c);
          entries.push(s.c);
        } else if (s.kind === 'null') {
          column.addCounter(null);
          entries.push(null);
        } else {
          column.addCounterRun(s.first, s.n);
          for (let k = 0; k < s.n; k++) entries.push(s.first + k);
        }
      }
      expect(bytes((w) => writeRle(w, column, 'int'))).toEqual(bytes((w) => writeDeltaRef(w, entries)));
    }), { seed: 5151, numRuns: 3000 });
  });

  it('write boolean columns byte for byte as one entry at a time, left out when all false if asked (seeded)', () => {
    fc.assert(fc.property(runsOf(fc.boolean()), fc.boolean(), (runs, omit) => {
      const column = new SegmentColumn<boolean>();
      for (const [v, n] of runs) column.add(v, n);
      expect(bytes((w) => writeBooleans(w, column, omit))).toEqual(bytes((w) => writeBooleansRef(w, expand(runs), omit)));
    }), { seed: 5152, numRuns: 3000 });
  });

  it('reset empties a column for the next change', () => {
    const column = new SegmentColumn<number | null>();
    column.addCounterRun(5, 10);
    column.reset();
    column.addCounter(3);
    expect(bytes((w) => writeRle(w, column, 'int'))).toEqual(bytes((w) => writeDeltaRef(w, [3])));
  });
});
