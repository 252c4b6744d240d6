import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { decodeMessage, encodeMessage } from '../../src/sync/codec.js';
import type { Message } from '../../src/sync/messages.js';
import { CrmsyncError } from '../../src/errors.js';
import type { ChangeEntry } from '../../src/crdt/change-entry.js';
import { STAGES } from '../../src/crdt/record-schema.js';

const LIMIT = 1024 * 1024;
const nodeId = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/);
const recordId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}$/);
const hash = fc.constantFrom('', '0123456789abcdef', 'fedcba9876543210');
const clock = fc.array(fc.tuple(nodeId, fc.nat(), fc.constantFrom('', '0123456789abcdef')), { maxLength: 5 });

const entry: fc.Arbitrary<ChangeEntry> = fc.record({
  origin: nodeId, seq: fc.integer({ min: 1, max: 1e9 }), prev: hash, record: recordId,
  change: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), time: fc.nat(), fields: fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
  view: fc.record({
    id: recordId, name: fc.string({ maxLength: 20 }), address: fc.record({ city: fc.stringMatching(/^[a-z]{1,10}$/) }),
    tags: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), notes: fc.string({ maxLength: 30 }), interactions: fc.integer(),
    custom: fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fc.oneof(fc.string({ maxLength: 5 }), fc.boolean(), fc.integer())),
    stage: fc.constantFrom(...STAGES),
    createdAt: fc.nat(), updatedAt: fc.nat(), deleted: fc.boolean(), conflicts: fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }),
  }),
}).map((e) => ({ ...e, view: { ...e.view, id: e.record } }) as unknown as ChangeEntry);

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('hello' as const), protocol: fc.nat(5), node: nodeId, clock }),
  fc.record({ type: fc.constant('changes' as const), epoch: fc.nat(), batch: fc.nat(), entries: fc.array(entry, { maxLength: 3 }) }),
  fc.record({ type: fc.constant('ack' as const), batch: fc.nat(), clock }),
  fc.record({ type: fc.constant('have' as const), clock }),
  fc.record({ type: fc.constant('resync' as const), epoch: fc.nat(), clock }),
  fc.record({ type: fc.constant('error' as const), code: fc.string({ maxLength: 20 }), message: fc.string({ maxLength: 50 }) }),
);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof CrmsyncError)) throw err;
    return err.code;
  }
}

describe('wire codec', () => {
  it('round-trips every message', () => {
    fc.assert(fc.property(message, (msg) => {
      expect(decodeMessage(encodeMessage(msg), LIMIT)).toEqual(msg);
    }));
  });

  it('turns random bytes into ERR_PROTOCOL and nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const code = codeOf(() => decodeMessage(bytes, LIMIT));
      // Random bytes can, very rarely, be a valid message: then decoding succeeds.
      expect([undefined, 'ERR_PROTOCOL']).toContain(code);
    }), { numRuns: 2000 });
  });

  it('turns every truncation of a valid frame into ERR_PROTOCOL', () => {
    fc.assert(fc.property(message, fc.nat(), (msg, cut) => {
      const frame = encodeMessage(msg);
      if (frame.length < 2) return;
      const truncated = frame.subarray(0, cut % (frame.length - 1) + 1);
      expect(codeOf(() => decodeMessage(truncated, LIMIT))).toBe('ERR_PROTOCOL');
    }));
  });

  it('refuses well-formed MessagePack of the wrong shape, and oversized frames', () => {
    expect(codeOf(() => decodeMessage(pack({ type: 'changes', epoch: -1, batch: 0, entries: [] }), LIMIT))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(pack({ type: 42 }), LIMIT))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(pack([1, 2, 3]), LIMIT))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(new Uint8Array(LIMIT + 1), LIMIT))).toBe('ERR_FRAME_TOO_LARGE');
  });
});

describe('versioning policy', () => {
  const view = { id: 'r1', name: 'Ada', address: {}, tags: [], notes: '', interactions: 0, custom: {}, createdAt: 1, updatedAt: 1, deleted: false, conflicts: [] };
  const wireEntry = { o: 'newer', s: 1, p: '', r: 'r1', c: new Uint8Array([1, 2]), t: 5, f: ['name'], v: view };

  it('reports a message of an unknown kind instead of refusing it', () => {
    expect(decodeMessage(pack({ type: 'gossip', whatever: [1, 2] }), LIMIT)).toEqual({ unknown: 'gossip' });
  });

  it('ignores unknown keys of known messages', () => {
    expect(decodeMessage(pack({ type: 'have', clock: [], hint: 'later' }), LIMIT)).toEqual({ type: 'have', clock: [] });
  });

  it('keeps unknown entry fields and unknown view fields, and sends them on unchanged', () => {
    const frame = pack({ type: 'changes', epoch: 0, batch: 1, entries: [{ ...wireEntry, z: { sig: 'x' }, v: { ...view, nickname: 'Countess', address: { city: 'London', planet: 'Earth' } } }] });
    const decoded = decodeMessage(frame, LIMIT) as Extract<Message, { type: 'changes' }>;
    const [entry] = decoded.entries;
    expect(entry!.ext).toEqual({ z: { sig: 'x' } });
    expect(entry!.view).toMatchObject({ nickname: 'Countess', address: { city: 'London', planet: 'Earth' } });
    const again = decodeMessage(encodeMessage(decoded), LIMIT);
    expect(again).toEqual(decoded);
  });

  it('still checks the fields it knows in a view from a newer node', () => {
    const frame = pack({ type: 'changes', epoch: 0, batch: 1, entries: [{ ...wireEntry, v: { ...view, stage: 'pwned', nickname: 'x' } }] });
    expect(codeOf(() => decodeMessage(frame, LIMIT))).toBe('ERR_PROTOCOL');
  });
});
