/**
 * Encoders for the column encodings, writing the canonical form that Automerge 3 writes
 * (and that `columns.ts` requires): equal neighbours become a repeat run, other values
 * gather into literal runs, nulls into null runs. They write the first `n` values of an
 * array (the encoder reuses its column arrays: encode.ts).
 */
import type { ByteWriter } from './writer.js';

/** How the values of an RLE column are written: unsigned, signed, or as strings. */
export type ValueKind = 'uint' | 'int' | 'str';

function writeOne(w: ByteWriter, v: number | string, kind: ValueKind): void {
  if (kind === 'str') w.str(v as string);
  else if (kind === 'int') w.sleb(v as number);
  else w.uleb(v as number);
}

/**
 * Writes an RLE column; returns false (and writes nothing) when every value is null,
 * since Automerge leaves such a column out of a change.
 */
export function writeRle(w: ByteWriter, values: readonly (number | string | null)[], kind: ValueKind, n = values.length): boolean {
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
      writeOne(w, v, kind);
      i = j;
      continue;
    }
    // A literal run: extends up to a null, or to a value that starts a repeat run.
    let k = i + 1;
    while (k < n && values[k] !== null && (k + 1 >= n || values[k] !== values[k + 1])) k++;
    w.sleb(i - k);
    for (let m = i; m < k; m++) writeOne(w, values[m]!, kind);
    i = k;
  }
  return true;
}

/**
 * Writes a delta column of counters (each value written as its difference from the last
 * non-null one); returns false (writing nothing) when all are null.
 */
export function writeDelta(w: ByteWriter, values: readonly (number | null)[], n = values.length, deltas: (number | null)[] = new Array(n)): boolean {
  let last = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v === null) {
      deltas[i] = null;
    } else {
      deltas[i] = v - last;
      last = v;
    }
  }
  return writeRle(w, deltas, 'int', n);
}

/**
 * Writes a boolean column (alternating run lengths, starting with false). With `omitIfFalse`
 * an all-false column is left out (returns false, writes nothing).
 */
export function writeBooleans(w: ByteWriter, values: readonly boolean[], omitIfFalse: boolean, n = values.length): boolean {
  if (omitIfFalse && !someTrue(values, n)) return false;
  let current = false;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (values[i] === current) {
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

function someTrue(values: readonly boolean[], n: number): boolean {
  for (let i = 0; i < n; i++) if (values[i]) return true;
  return false;
}
