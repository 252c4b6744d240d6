/**
 * Deflated frames (src/sync/frame-deflate.ts), a new input path from peers: a `deflated`
 * message decodes to the frame inside it with every check a plain frame gets, and
 * nothing a peer puts in one (bombs, garbage, trailing bytes, nesting, a deflated frame
 * during the handshake) does anything but ERR_PROTOCOL or ERR_FRAME_TOO_LARGE.
 */
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { errorCodeOf } from '../support/error-code.js';
import { seededRandom } from '../../src/random.js';
import { decodeMessage, encodeDeflated, encodeMessage } from '../../src/sync/codec.js';
import { deflateFrame } from '../../src/sync/frame-deflate.js';
import type { Message } from '../../src/sync/messages.js';

const MAX = 1 << 20;
const MIN = 4096;

/** A catch-up batch like a region's: 200 changes of similar records. */
function batch(): Message {
  const random = seededRandom(3);
  const entries = Array.from({ length: 200 }, (_, i) => ({
    origin: 'node-a', seq: i + 1, record: `cust-${String(i).padStart(7, '0')}`,
    // Change-like bytes: a repeated header (actor, deps) and some varying values.
    change: Uint8Array.from([...Buffer.from('85 6f 4a 83 01 ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab', 'hex'), ...Array.from({ length: 120 }, () => Math.floor(random() * 40) + 60)]),
  }));
  return { type: 'changes', epoch: 1, batch: 7, entries } as unknown as Message;
}

const codeOf = errorCodeOf;

describe('deflated frames', () => {
  it('carry a frame that decodes exactly as the plain one, and only when deflating pays', () => {
    const plain = encodeMessage(batch());
    const deflated = deflateFrame(plain, MIN)!;
    expect(deflated.length).toBeLessThan(plain.length * 0.75);
    expect(decodeMessage(encodeDeflated(deflated), MAX)).toEqual(decodeMessage(plain, MAX));
    // Small frames, and frames that do not shrink by an eighth, go as they are.
    expect(deflateFrame(encodeMessage({ type: 'marked', n: 3 } as Message), MIN)).toBeUndefined();
    const random = seededRandom(9);
    expect(deflateFrame(Uint8Array.from({ length: 8192 }, () => Math.floor(random() * 256)), MIN)).toBeUndefined();
  });

  it('refuses a bomb, trailing bytes, garbage, nesting, and a deflated frame during the handshake', () => {
    const zeros = deflateRawSync(Buffer.alloc(MAX + 1));
    expect(zeros.length).toBeLessThan(2048);
    expect(codeOf(() => decodeMessage(encodeDeflated(zeros), MAX))).toBe('ERR_FRAME_TOO_LARGE');
    const inner = deflateFrame(encodeMessage(batch()), MIN)!;
    expect(codeOf(() => decodeMessage(encodeDeflated(Buffer.concat([inner, Buffer.from([0])])), MAX))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(encodeDeflated(Buffer.from('not deflate at all')), MAX))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(pack({ type: 'deflated', data: 'text' }), MAX))).toBe('ERR_PROTOCOL');
    const twice = encodeDeflated(deflateRawSync(encodeDeflated(inner)));
    expect(codeOf(() => decodeMessage(twice, MAX))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(encodeDeflated(inner), MAX, true))).toBe('ERR_PROTOCOL');
    // What is inside gets every check: a deflated frame of the wrong shape is refused as a plain one is.
    expect(codeOf(() => decodeMessage(encodeDeflated(deflateRawSync(pack({ type: 'changes', epoch: 1, batch: 1, entries: 'x' }))), MAX))).toBe('ERR_PROTOCOL');
  });

  it('throws only ERR_PROTOCOL or ERR_FRAME_TOO_LARGE for random and mutated deflated bodies (seeded)', () => {
    const inner = deflateFrame(encodeMessage(batch()), MIN)!;
    let decoded = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }),
          fc.tuple(fc.integer({ min: 0, max: inner.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([at, value]) => {
            const copy = Buffer.from(inner);
            copy[at] = value;
            return copy;
          }),
        ),
        (data) => {
          const code = codeOf(() => decodeMessage(encodeDeflated(data), MAX));
          if (code === undefined) decoded++;
          else expect(['ERR_PROTOCOL', 'ERR_FRAME_TOO_LARGE']).toContain(code);
        },
      ),
      { seed: 20261201, numRuns: 3000 },
    );
    // Some flips land in values and still decode: the property covered both outcomes.
    expect(decoded).toBeGreaterThan(0);
  });

  it('reads which encodings and protocol features a hello names, and refuses a malformed list', () => {
    const hello = { type: 'hello', protocol: 2, cluster: 'c', node: 'node-a', key: Buffer.alloc(32, 1), nonce: Buffer.alloc(32, 2), proof: [] };
    const lists = [['compress', ['deflate-raw', 'zstd'], 8], ['features', ['cumulative-acks', 'from-the-future'], 16]] as const;
    for (const [field, names, most] of lists) {
      expect(decodeMessage(pack({ ...hello, [field]: names }), MAX, true)).toMatchObject({ [field]: names });
      expect(decodeMessage(pack(hello), MAX, true)).not.toHaveProperty(field);
      for (const bad of [names[0], Array(most + 1).fill('x'), [7], ['x'.repeat(33)]]) {
        expect(codeOf(() => decodeMessage(pack({ ...hello, [field]: bad }), MAX, true)), `${field} ${JSON.stringify(bad)}`).toBe('ERR_PROTOCOL');
      }
    }
  });

  it("reads an open's send window, and refuses one that is not a positive integer", () => {
    const open = { type: 'open', clock: [], trust: 'digest' };
    expect(decodeMessage(pack({ ...open, window: 16 }), MAX)).toMatchObject({ window: 16 });
    expect(decodeMessage(pack(open), MAX)).not.toHaveProperty('window');
    for (const window of [0, -1, 1.5, '16', null]) expect(codeOf(() => decodeMessage(pack({ ...open, window }), MAX)), String(window)).toBe('ERR_PROTOCOL');
  });
});
