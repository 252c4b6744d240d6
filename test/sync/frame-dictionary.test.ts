/**
 * Small frames deflated from the session dictionary (src/sync/frame-dictionary.ts,
 * frame-deflate.ts), a new input path from peers: the dictionary is frozen (both ends
 * must hold the same bytes), a dictionary frame decodes exactly as the plain one, and
 * nothing a peer puts behind the marker byte (bombs, garbage, trailing bytes, nesting,
 * the wrong dictionary, a dictionary frame during the handshake) does anything but
 * ERR_PROTOCOL or ERR_FRAME_TOO_LARGE.
 */
import * as A from '@automerge/automerge';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { pack } from 'msgpackr';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { makeActorId } from '../../src/crdt/actor.js';
import { decodeMessage, encodeDeflated, encodeMessage } from '../../src/sync/codec.js';
import { DEFLATE_RAW, DEFLATE_RAW_DICT, DEFLATE_RAW_DICT_STREAM, DICTIONARY_FRAME_MARK, deflateFrame, deflateWithDictionary, dictionaryCodec } from '../../src/sync/frame-deflate.js';
import { streamModeSupported } from '../../src/sync/dictionary-zlib.js';
import { FRAME_DICTIONARY_1, sessionDictionary } from '../../src/sync/frame-dictionary.js';
import { sayHello } from '../../src/sync/handshake.js';
import type { Message } from '../../src/sync/messages.js';
import { initialState } from '../../src/sync/protocol.js';
import { seededRandom } from '../../src/random.js';
import type { NodeId } from '../../src/types.js';
import { errorCodeOf as codeOf } from '../support/error-code.js';
import { noise } from '../support/member-docs.js';

const MAX = 1 << 20;
const A_ID = 'region-eu-west' as NodeId;
const B_ID = 'laptop-anna' as NodeId;
const DICT = sessionDictionary(A_ID, B_ID);
const CODEC = dictionaryCodec(DICT);

/** A one-field edit as a live push carries it: a real Automerge change, signed, with the chain hash before it. */
function editFrame(seed: number): Uint8Array {
  const doc = A.from({ name: 'Olga Braun', company: 'Nova Labs GmbH', title: 'CTO', updatedAt: 1 }, { actor: makeActorId(A_ID, noise(8, seed)) });
  const edited = A.change(doc, { time: 1_764_000_000 + seed, message: A_ID }, (d) => {
    d.title = `VP Sales ${seed}`;
    d.updatedAt = 1_764_000_000_000 + seed;
  });
  const change = A.getLastLocalChange(edited)!;
  return encodeMessage({ type: 'changes', epoch: 1, batch: 1000 + seed, entries: [{ origin: A_ID, seq: 40 + seed, record: 'cust-0004711' as never, change, sig: noise(64, seed + 1), prev: noise(32, seed + 2).toString('hex') }] } as Message);
}

function ackFrame(seed: number): Uint8Array {
  return encodeMessage({ type: 'ack', batch: 1000 + seed, clock: [[A_ID, 40 + seed, noise(32, seed + 3)]] } as Message);
}

/** A dictionary frame built from the spec (PROTOCOL.md), not with the code under test. */
function dictionaryFrame(plain: Uint8Array, dictionary = DICT): Buffer {
  return Buffer.concat([Buffer.from([DICTIONARY_FRAME_MARK]), deflateRawSync(plain, { dictionary, windowBits: 12 })]);
}

describe('the frame dictionary', () => {
  it('is frozen: a different dictionary needs a new encoding name', () => {
    expect(DEFLATE_RAW_DICT).toBe('deflate-raw-dict-1');
    expect(createHash('sha256').update(FRAME_DICTIONARY_1).digest('hex')).toBe('4bc39d3b4b897d58d44a08d5e647eee99a7fded818973ba2c8db1796970e87c8');
    // Deflate matches within its 4 KiB window less its 262-byte lookahead: the dictionary
    // with the two longest node ids (63 bytes each) must fit, or its start would be lost.
    expect(FRAME_DICTIONARY_1.length + 2 * 63).toBeLessThanOrEqual(4096 - 262);
  });

  it('is the same at both ends of a session', () => {
    expect(Buffer.from(sessionDictionary(B_ID, A_ID)).equals(Buffer.from(DICT))).toBe(true);
    expect(Buffer.from(DICT.subarray(FRAME_DICTIONARY_1.length)).toString()).toBe('laptop-annaregion-eu-west');
  });

  it('is offered in every hello, with plain deflate and, on this Node, the stream of them', () => {
    const out: { type: string; message?: Message }[] = [];
    const auth = { publicKey: new Uint8Array(32), cluster: 'c', proof: [], invite: () => undefined };
    sayHello(initialState(A_ID, 0, { initiator: true, nonce: new Uint8Array(32) }), { auth } as never, out as never);
    // Stream mode needs node:zlib internals (dictionary-zlib.ts); this Node has them, so a release that drops them fails here.
    expect(streamModeSupported()).toBe(true);
    expect(out[0]!.message).toMatchObject({ type: 'hello', compress: [DEFLATE_RAW, DEFLATE_RAW_DICT, DEFLATE_RAW_DICT_STREAM] });
  });
});

describe('dictionary frames', () => {
  it('decode exactly as the plain frame, and an edit and its ack take about two thirds of the bytes', () => {
    for (let seed = 1; seed <= 20; seed++) {
      for (const plain of [editFrame(seed), ackFrame(seed)]) {
        const sent = deflateWithDictionary(plain, CODEC)!;
        expect(sent[0]).toBe(DICTIONARY_FRAME_MARK);
        // The spec's construction gives the same bytes.
        expect(Buffer.from(sent).equals(dictionaryFrame(plain))).toBe(true);
        expect(sent.length).toBeLessThan(plain.length * 0.8);
        expect(decodeMessage(sent, MAX, false, false, CODEC)).toEqual(decodeMessage(plain, MAX));
      }
    }
    // A frame too small to gain, or one that would not shrink, goes as it is.
    expect(deflateWithDictionary(encodeMessage({ type: 'marked', n: 3 } as Message), CODEC)).toBeUndefined();
    expect(deflateWithDictionary(noise(200, 5), CODEC)).toBeUndefined();
    // Above 4 KiB a frame has enough of its own to repeat: deflated on its own, or plain.
    expect(deflateWithDictionary(Buffer.alloc(4097, 1), CODEC)).toBeUndefined();
    expect(deflateWithDictionary(Buffer.alloc(4096, 1), CODEC)).toBeDefined();
  });

  it('are refused during the handshake, without a dictionary, and from another session', () => {
    const sent = dictionaryFrame(editFrame(1));
    expect(codeOf(() => decodeMessage(sent, MAX, true, true, CODEC))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(sent, MAX, false, false))).toBe('ERR_PROTOCOL');
    // Another pair of node ids: the frame inflates to other bytes or not at all; either way refused.
    expect(codeOf(() => decodeMessage(sent, MAX, false, false, dictionaryCodec(sessionDictionary(A_ID, 'laptop-mallory' as NodeId))))).toBe('ERR_PROTOCOL');
  });

  it('refuses a bomb, trailing bytes, garbage and nesting', () => {
    const bomb = dictionaryFrame(Buffer.alloc(MAX + 1));
    expect(bomb.length).toBeLessThan(2048);
    expect(codeOf(() => decodeMessage(bomb, MAX, false, false, CODEC))).toBe('ERR_FRAME_TOO_LARGE');
    const sent = dictionaryFrame(editFrame(2));
    expect(codeOf(() => decodeMessage(Buffer.concat([sent, Buffer.from([0])]), MAX, false, false, CODEC))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(Buffer.from([DICTIONARY_FRAME_MARK]), MAX, false, false, CODEC))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(Buffer.concat([Buffer.from([DICTIONARY_FRAME_MARK]), Buffer.from('not deflate')]), MAX, false, false, CODEC))).toBe('ERR_PROTOCOL');
    // One compression per frame, whichever way round.
    expect(codeOf(() => decodeMessage(dictionaryFrame(sent), MAX, false, false, CODEC))).toBe('ERR_PROTOCOL');
    const deflated = encodeDeflated(deflateFrame(encodeMessage({ type: 'want', ids: Array.from({ length: 400 }, (_, i) => `cust-${i}`) } as Message), 1024)!);
    expect(codeOf(() => decodeMessage(dictionaryFrame(deflated), MAX, false, false, CODEC))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(encodeDeflated(deflateRawSync(sent)), MAX, false, false, CODEC))).toBe('ERR_PROTOCOL');
    // The frame inside gets every check: the wrong shape is refused as a plain one is.
    expect(codeOf(() => decodeMessage(dictionaryFrame(pack({ type: 'changes', epoch: 1, batch: 1, entries: 'x' })), MAX, false, false, CODEC))).toBe('ERR_PROTOCOL');
  });

  it('throw only ERR_PROTOCOL or ERR_FRAME_TOO_LARGE for random and mutated bodies (seeded)', () => {
    const sent = dictionaryFrame(editFrame(3));
    const random = seededRandom(11);
    let decoded = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }).map((body) => Buffer.concat([Buffer.from([DICTIONARY_FRAME_MARK]), body])),
          fc.tuple(fc.integer({ min: 1, max: sent.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([at, value]) => {
            const copy = Buffer.from(sent);
            copy[at] = value;
            return copy;
          }),
        ),
        (frame) => {
          const code = codeOf(() => decodeMessage(frame, MAX, false, false, CODEC));
          if (code === undefined) decoded++;
          else expect(['ERR_PROTOCOL', 'ERR_FRAME_TOO_LARGE']).toContain(code);
        },
      ),
      { seed: Math.floor(random() * 2 ** 31), numRuns: 3000 },
    );
    // Some flips land in values and still decode: the property covered both outcomes.
    expect(decoded).toBeGreaterThan(0);
  });
});
