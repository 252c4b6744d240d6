/**
 * Robustness of the change decoder against hostile bytes: every single-byte mutation,
 * truncation and extension of a set of valid changes (also "resealed" ones, whose
 * checksum and length are fixed up so the mutation reaches the deeper checks), plus
 * 100,000 random inputs. The decoder must throw ERR_PROTOCOL, or return exactly what
 * `A.decodeChange` returns for the same bytes; it must never throw anything else.
 */
import * as A from '@automerge/automerge';
import { hash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeChange, encodeChange, toAutomergeShape } from '../../src/crdt/change-codec/index.js';
import { decodesAlikeWithRuns } from '../support/text-runs.js';
import { hasCode } from '../../src/errors.js';
import { seededRandom } from '../../src/random.js';

/** Valid changes covering every op kind and value type, several actors and a compressed chunk. */
function corpus(): Uint8Array[] {
  const t = { time: 1_760_000_000 };
  let a = A.change(A.init<any>({ actor: 'aa01' }), t, (d) =>
    Object.assign(d, {
      name: new A.ImmutableString('Ada'),
      n: 42,
      big: -(2 ** 40),
      f: 0.1,
      ok: true,
      nil: null,
      at: new Date(1_700_000_000_000),
      raw: new Uint8Array([0, 255]),
      visits: new A.Counter(1),
      u: new A.Uint(7),
      notes: 'héllo 😀',
      tags: ['x'],
    }),
  );
  let b = A.clone(a, { actor: 'bb02' });
  a = A.change(a, t, (d) => {
    d.name = new A.ImmutableString('Ada L');
    d.visits.increment(2);
    A.splice(d, ['notes'], 1, 1, 'e');
  });
  b = A.change(b, t, (d) => {
    d.name = new A.ImmutableString('Ada B');
    delete d.ok;
    d.tags.insertAt(0, 1.5, { k: 2 });
  });
  a = A.merge(a, b);
  a = A.change(a, { message: 'resolve', ...t }, (d) => {
    d.name = new A.ImmutableString('Ada');
    A.mark(d, ['notes'], { start: 0, end: 3, expand: 'both' }, 'bold', true);
  });
  a = A.change(a, t, (d) => A.unmark(d, ['notes'], { start: 1, end: 2, expand: 'none' }, 'bold'));
  a = A.emptyChange(a, { message: 'checkpoint', ...t });
  // getCommits deflates changes over 256 bytes (chunk type 2).
  const long = A.change(A.init<any>({ actor: 'cc03' }), t, (d) => (d.notes = 'a long note, '.repeat(30)));
  const compressed = A.getCommits(long).map((c) => c.bytes);
  expect(compressed[0]![8]).toBe(2);
  return [...A.getAllChanges(a), compressed[0]!];
}

/** Recomputes (in place) the checksum of a type-1 chunk, so a mutated body passes the checksum check. */
function reseal(chunk: Uint8Array): Uint8Array {
  chunk.set(hash('sha256', chunk.subarray(8), 'buffer').subarray(0, 4), 4);
  return chunk;
}

/** A type-1 chunk around `body`, with correct length and checksum. */
function seal(body: Uint8Array): Uint8Array {
  const len: number[] = [];
  let n = body.length;
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return reseal(Uint8Array.from([0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, ...len, ...body]));
}

/** Offset of the body of a chunk (after magic, checksum, type and length). */
function bodyStart(chunk: Uint8Array): number {
  let i = 9;
  while (chunk[i]! & 0x80) i++;
  return i + 1;
}

/** Which byte offsets of a chunk are opaque data: dependency hashes, the author id, deflate data. */
function opaqueBytes(chunk: Uint8Array): (offset: number) => boolean {
  const body = bodyStart(chunk);
  if (chunk[8] !== 1) return (i) => i >= body;
  const deps = chunk[body]!; // < 128 here, so a one-byte count
  const actorAt = body + 1 + 32 * deps;
  const actorEnd = actorAt + 1 + chunk[actorAt]!;
  return (i) => i > body && i < actorEnd && i !== actorAt;
}

interface Tally {
  refused: number;
  accepted: number;
  /** Accepted with an integer beyond ±2^53, which A.decodeChange cannot return (RangeError). */
  bigint: number;
}

/** The property: ERR_PROTOCOL, or the same result as Automerge (and canonical bytes). */
function judge(bytes: Uint8Array, tally: Tally): void {
  decodesAlikeWithRuns(bytes);
  let ours;
  try {
    ours = decodeChange(bytes);
  } catch (err) {
    if (!hasCode(err, 'ERR_PROTOCOL') || /internal decoder error/.test((err as Error).message)) throw err;
    tally.refused++;
    return;
  }
  let theirs: unknown;
  try {
    theirs = A.decodeChange(bytes); // must not throw: we never accept what Automerge refuses…
  } catch (err) {
    // …except integers beyond ±2^53: valid for Automerge's format, but its JS binding
    // cannot return them; the codec returns bigints (see types.ts).
    expect(String(err)).toMatch(/can't be represented as a JavaScript number/);
    expect(ours.ops.some((op) => typeof op.value === 'bigint')).toBe(true);
    tally.bigint++;
    return;
  }
  tally.accepted++;
  // Plain comparisons first: vitest's expect is slow for ~10^5 calls; it only runs to report.
  if (!isDeepStrictEqual(toAutomergeShape(ours), theirs)) expect(toAutomergeShape(ours)).toEqual(theirs);
  // Accepted means canonical: re-encoding gives the very same bytes (so the same hash).
  if (bytes[8] === 1 && Buffer.compare(encodeChange(ours), bytes) !== 0) expect(encodeChange(ours)).toEqual(bytes);
}

describe('change decoder robustness', () => {
  const changes = corpus();
  // Most inputs here are refused, and capturing a stack for each of ~10^6 errors under
  // vitest costs more than decoding; the errors' codes are what the tests check.
  let stackTraceLimit = Error.stackTraceLimit;
  beforeAll(() => {
    stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
  });
  afterAll(() => {
    Error.stackTraceLimit = stackTraceLimit;
  });

  it('refuses or decodes like Automerge every single-byte substitution (raw and resealed)', () => {
    const tally: Tally = { refused: 0, accepted: 0, bigint: 0 };
    const all = Array.from({ length: 256 }, (_, v) => v);
    const flips = (b: number): number[] => [1, 2, 4, 8, 16, 32, 64, 128].map((bit) => b ^ bit);
    for (const change of changes) {
      // One scratch copy, mutated and restored in place (the decoder keeps no reference to it).
      const scratch = change.slice();
      const body = bodyStart(change);
      const opaque = opaqueBytes(change);
      for (let i = 0; i < change.length; i++) {
        // As sent: every value in the envelope; in the body, where the checksum must catch
        // any change, every bit flip.
        for (const v of i < body ? all : flips(change[i]!)) {
          if (v === change[i]) continue;
          scratch[i] = v;
          judge(scratch, tally);
        }
        scratch[i] = change[i]!;
        if (i < 8 || change[8] !== 1) continue;
        // Resealed (checksum fixed up), reaching the format checks: every value for every
        // structural byte; every bit flip in opaque bytes (hashes, actor id), where any value
        // is as good as another.
        for (const v of opaque(i) ? flips(change[i]!) : all) {
          if (v === change[i]) continue;
          scratch[i] = v;
          judge(reseal(scratch), tally);
          scratch.set(change.subarray(4, 8), 4);
        }
        scratch[i] = change[i]!;
      }
    }
    // Resealed mutations mostly break the format; some are still valid changes (another
    // key, value, time or dependency).
    expect(tally.refused).toBeGreaterThan(100_000);
    expect(tally.accepted).toBeGreaterThan(1_000);
  });

  it('refuses every truncation and extension (raw and resealed with a fixed-up length)', () => {
    const tally: Tally = { refused: 0, accepted: 0, bigint: 0 };
    for (const change of changes) {
      for (let k = 0; k < change.length; k++) judge(change.subarray(0, k), tally);
      for (const extra of [[0], [1], [0x7f, 0x80], [0, 0, 0]]) judge(Uint8Array.from([...change, ...extra]), tally);
      if (change[8] !== 1) continue;
      const body = change.subarray(bodyStart(change));
      for (let k = 0; k < body.length; k++) judge(seal(body.subarray(0, k)), tally);
      // Automerge keeps trailing bytes as opaque "extra bytes"; the codec refuses them.
      for (const extra of [[0], [1, 2, 3]]) judge(seal(Uint8Array.from([...body, ...extra])), tally);
    }
    expect(tally.accepted).toBe(0);
  });

  it('throws only ERR_PROTOCOL for 100,000 random inputs', () => {
    const random = seededRandom(7);
    const byte = (): number => Math.floor(random() * 256);
    const tally: Tally = { refused: 0, accepted: 0, bigint: 0 };
    for (let i = 0; i < 100_000; i++) {
      const kind = i % 4;
      if (kind === 0) {
        // Pure noise, sometimes behind valid magic bytes.
        const noise = Array.from({ length: Math.floor(random() * 80) }, byte);
        judge(Uint8Array.from(i % 8 === 0 ? [0x85, 0x6f, 0x4a, 0x83, ...noise] : noise), tally);
      } else if (kind === 1) {
        // A well-formed envelope around a random body: exercises the header and column parsers.
        judge(seal(Uint8Array.from({ length: Math.floor(random() * 120) }, byte)), tally);
      } else {
        // Several random byte changes to a valid change, resealed: reaches the op checks.
        const change = changes[i % (changes.length - 1)]!;
        const body = change.subarray(bodyStart(change)).slice();
        const edits = 1 + Math.floor(random() * 4);
        for (let e = 0; e < edits; e++) body[Math.floor(random() * body.length)] = byte();
        judge(seal(body), tally);
      }
    }
    expect(tally.refused + tally.accepted + tally.bigint).toBe(100_000);
  });
});
