/**
 * The reused zlib handles of dictionary frames (src/sync/dictionary-zlib.ts): they drive
 * node:zlib's internals, so they are held to the one-shot functions byte for byte, over
 * many frames in a row, across failures a peer can cause (garbage, truncation, trailing
 * bytes, a bomb), and after close (the one-shot path).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DictionaryZlib, InflateFailure } from '../../src/sync/dictionary-zlib.js';
import { FRAME_DICTIONARY_1 } from '../../src/sync/frame-dictionary.js';
import { seededRandom } from '../../src/random.js';

const OPTIONS = { windowBits: 12, memLevel: 4 };
const DICT = Buffer.concat([FRAME_DICTIONARY_1, Buffer.from('laptop-1region-a')]);

/** Frame-like inputs: pieces of the dictionary with seeded edits, some larger than one output chunk. */
function inputs(count: number, seed: number): Buffer[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const length = i % 10 === 9 ? 20_000 + Math.floor(random() * 20_000) : 32 + Math.floor(random() * 3000);
    const out = Buffer.alloc(length);
    for (let j = 0; j < length; j++) out[j] = random() < 0.8 ? DICT[(j * 7 + i) % DICT.length]! : Math.floor(random() * 256);
    return out;
  });
}

function noise(length: number): Uint8Array {
  const random = seededRandom(99);
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

const failureOf = (fn: () => unknown): InflateFailure | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(InflateFailure);
    return err as InflateFailure;
  }
};

describe('dictionary zlib handles', () => {
  it('deflate exactly as deflateRawSync and inflate back, frame after frame', () => {
    const zlib = new DictionaryZlib(DICT, OPTIONS);
    for (const input of inputs(300, 1)) {
      const deflated = zlib.deflate(input);
      expect(deflated.equals(deflateRawSync(input, { ...OPTIONS, dictionary: DICT }))).toBe(true);
      expect(zlib.inflate(deflated, 1 << 20).equals(input)).toBe(true);
    }
    // On this Node the handles are reused: a release that changes node:zlib's internals fails here, not silently in the bench.
    expect(zlib.reusesHandles).toBe(true);
  });

  it('refuse what a peer can send wrongly, and go on with the next frame', () => {
    const zlib = new DictionaryZlib(DICT, OPTIONS);
    const good = zlib.deflate(inputs(1, 2)[0]!);
    const cases: [string, Buffer, boolean][] = [
      ['garbage', Buffer.from('definitely not deflate data'), false],
      ['truncated', good.subarray(0, good.length - 3), false],
      ['trailing bytes', Buffer.concat([good, Buffer.from([1, 2, 3])]), false],
      // A stored block whose length and its complement disagree.
      ['bad stored block', Buffer.from([0x00, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5]), false],
      ['noise', Buffer.from(noise(600)), false],
      ['a bomb', deflateRawSync(Buffer.alloc(4 << 20), { ...OPTIONS, dictionary: DICT }), true],
    ];
    for (const [what, data, tooLarge] of cases) {
      const failure = failureOf(() => zlib.inflate(data, 1 << 20));
      expect(failure, what).toBeDefined();
      expect(failure!.tooLarge, what).toBe(tooLarge);
      // The failed handle is dropped or reset: the next frame inflates as if nothing happened.
      expect(zlib.inflate(good, 1 << 20).equals(inflateRawSync(good, { windowBits: 12, dictionary: DICT })), what).toBe(true);
    }
    // Exactly at the limit is allowed; one byte past it is not.
    const exact = zlib.deflate(Buffer.alloc(5000, 7));
    expect(zlib.inflate(exact, 5000).length).toBe(5000);
    expect(failureOf(() => zlib.inflate(exact, 4999))!.tooLarge).toBe(true);
  });

  it('after close, give the same results through the one-shot functions', () => {
    const reused = new DictionaryZlib(DICT, OPTIONS);
    const closed = new DictionaryZlib(DICT, OPTIONS);
    closed.close();
    expect(closed.reusesHandles).toBe(false);
    for (const input of inputs(30, 3)) {
      const deflated = closed.deflate(input);
      expect(deflated.equals(reused.deflate(input))).toBe(true);
      expect(closed.inflate(deflated, 1 << 20).equals(input)).toBe(true);
    }
    expect(failureOf(() => closed.inflate(Buffer.from('garbage here'), 1 << 20))!.tooLarge).toBe(false);
    expect(failureOf(() => closed.inflate(deflateRawSync(Buffer.alloc(1 << 16), { ...OPTIONS, dictionary: DICT }), 1000))!.tooLarge).toBe(true);
  });
});
