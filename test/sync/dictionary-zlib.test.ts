/**
 * The reused zlib handles of dictionary frames (src/sync/dictionary-zlib.ts): they drive
 * node:zlib's internals, so they are held to the one-shot functions byte for byte, over
 * many frames in a row, across failures a peer can cause (garbage, truncation, trailing
 * bytes, a bomb), and after close (the one-shot path). In stream mode (context takeover)
 * the pieces are held to the spec: with the sync tail put back, they are one raw deflate
 * stream that inflateRawSync reads as the frames in order; and a failure ends the stream.
 */
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
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

const STREAM = { ...OPTIONS, stream: true };
const SYNC_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Frames that repeat the ones before them, not the dictionary: what a stream gains on. */
function repeating(count: number, seed: number): Buffer[] {
  const random = seededRandom(seed);
  const base = Buffer.from(noise(200));
  return Array.from({ length: count }, (_, i) => {
    const frame = Buffer.from(base);
    for (let k = 0; k < 12; k++) frame[Math.floor(random() * frame.length)] = i & 0xff;
    return i % 25 === 24 ? Buffer.concat([frame, Buffer.from(noise(20_000 + i))]) : frame;
  });
}

describe('dictionary zlib handles in stream mode', () => {
  it('make one raw deflate stream of the frames, which inflates back frame by frame and as a whole', () => {
    const sender = new DictionaryZlib(DICT, STREAM);
    const receiver = new DictionaryZlib(DICT, STREAM);
    expect(sender.streaming).toBe(true);
    const frames = [...inputs(60, 4), ...repeating(100, 5)];
    const pieces = frames.map((frame) => sender.deflate(frame));
    for (const [i, piece] of pieces.entries()) {
      // The sync tail is left off (the receiver puts it back).
      expect(piece.subarray(-4).equals(SYNC_TAIL), `piece ${i}`).toBe(false);
      expect(receiver.inflate(piece, 1 << 20).equals(frames[i]!), `frame ${i}`).toBe(true);
    }
    // The spec: the pieces with their tails are one stream from the dictionary.
    const whole = inflateRawSync(Buffer.concat(pieces.flatMap((piece) => [piece, SYNC_TAIL])), { windowBits: 12, dictionary: DICT, finishFlush: constants.Z_SYNC_FLUSH });
    expect(whole.equals(Buffer.concat(frames))).toBe(true);
  });

  it('take fewer bytes than frames deflated one by one, when frames repeat the ones before', () => {
    const frames = repeating(200, 6).filter((frame) => frame.length < 4096);
    const stream = new DictionaryZlib(DICT, STREAM);
    const single = new DictionaryZlib(DICT, OPTIONS);
    const total = (codec: DictionaryZlib) => frames.reduce((sum, frame) => sum + codec.deflate(frame).length, 0);
    expect(total(stream)).toBeLessThan(total(single) * 0.5);
  });

  it('depend on every frame before, in order: a frame skipped leaves the next one unreadable', () => {
    const sender = new DictionaryZlib(DICT, STREAM);
    const receiver = new DictionaryZlib(DICT, STREAM);
    const frame = Buffer.from(noise(300));
    const first = sender.deflate(frame);
    const second = sender.deflate(frame); // all of it a reference into the first
    expect(second.length).toBeLessThan(30);
    expect(first.length).toBeGreaterThan(300);
    // Without the first, the second reads as something else or not at all.
    let read: Buffer | undefined;
    const failure = failureOf(() => (read = receiver.inflate(second, 1 << 20)));
    expect(failure !== undefined || !read!.equals(frame)).toBe(true);
  });

  it('refuse what a peer can send wrongly, and everything after it: the stream is broken', () => {
    const cases: [string, (good: Buffer) => Buffer, boolean][] = [
      ['garbage', () => Buffer.from('definitely not deflate data'), false],
      ['a finished stream with bytes after it', (good) => Buffer.concat([deflateRawSync(Buffer.from('x'), { ...OPTIONS, dictionary: DICT }), good]), false],
      ['noise', () => Buffer.from(noise(600)), false],
      ['a bomb', () => deflateRawSync(Buffer.alloc(4 << 20), { ...OPTIONS, dictionary: DICT }), true],
    ];
    for (const [what, bad, tooLarge] of cases) {
      const sender = new DictionaryZlib(DICT, STREAM);
      const receiver = new DictionaryZlib(DICT, STREAM);
      const frames = inputs(3, 7).map((f) => f.subarray(0, 1000));
      expect(receiver.inflate(sender.deflate(frames[0]!), 1 << 20).equals(frames[0]!), what).toBe(true);
      const failure = failureOf(() => receiver.inflate(bad(sender.deflate(frames[1]!)), 1 << 20));
      expect(failure, what).toBeDefined();
      expect(failure!.tooLarge, what).toBe(tooLarge);
      // Nothing more goes through, a good piece neither: the session has to end.
      expect(failureOf(() => receiver.inflate(sender.deflate(frames[2]!), 1 << 20)), what).toBeDefined();
      expect(() => receiver.deflate(frames[2]!), what).toThrow(InflateFailure);
    }
  });

  it('allow a frame exactly at the limit, not one byte more', () => {
    const sender = new DictionaryZlib(DICT, STREAM);
    const receiver = new DictionaryZlib(DICT, STREAM);
    expect(receiver.inflate(sender.deflate(Buffer.alloc(5000, 7)), 5000).length).toBe(5000);
    expect(failureOf(() => receiver.inflate(sender.deflate(Buffer.alloc(5001, 7)), 5000))!.tooLarge).toBe(true);
  });

  it('refuse every frame after close, instead of falling back to one-shot calls that the peer could not follow', () => {
    const codec = new DictionaryZlib(DICT, STREAM);
    codec.deflate(Buffer.from('a first frame'));
    codec.close();
    expect(() => codec.deflate(Buffer.from('a second frame'))).toThrow(InflateFailure);
    expect(failureOf(() => codec.inflate(Buffer.from([1, 2, 3]), 1000))).toBeDefined();
  });
});
