import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { decodeMessage, encodeMessage } from '../../src/sync/codec.js';
import type { Message } from '../../src/sync/messages.js';
import { errorCodeOf } from '../support/error-code.js';
import type { ChangeEntry } from '../../src/crdt/change-entry.js';

const LIMIT = 1024 * 1024;
const nodeId = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/);
const recordId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}$/);
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b));
const hex = (n: number) => bytes(n).map((b) => b.toString('hex'));
const clock = fc.array(fc.tuple(nodeId, fc.integer({ min: 1, max: 1e9 }), bytes(32)), { maxLength: 5 });

const entry: fc.Arbitrary<ChangeEntry> = fc.record(
  { origin: nodeId, seq: fc.integer({ min: 1, max: 1e9 }), record: recordId, change: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), sig: bytes(64), prev: hex(32) },
  { requiredKeys: ['origin', 'seq', 'record', 'change'] },
) as unknown as fc.Arbitrary<ChangeEntry>;

// A stub (change-entry.ts): the change's digest instead of its bytes.
const stub: fc.Arbitrary<ChangeEntry> = fc.record(
  { origin: nodeId, seq: fc.integer({ min: 1, max: 1e9 }), record: recordId, change: fc.constant(new Uint8Array(0)), digest: hex(32), sig: bytes(64), prev: hex(32) },
  { requiredKeys: ['origin', 'seq', 'record', 'change', 'digest'] },
) as unknown as fc.Arbitrary<ChangeEntry>;

/** A subscription as it travels: normalised lists of names (sorted, no duplicates). */
const names = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }).filter((n) => n.trim() === n), { maxLength: 3 }).map((l) => [...l].sort());
const holdingFilter = fc.record({ territories: names, owners: names }, { requiredKeys: [] });

const message = fc.oneof(
  fc.record({ type: fc.constant('hello' as const), protocol: fc.constant(2), cluster: fc.string({ minLength: 1, maxLength: 20 }), node: nodeId, key: bytes(32), nonce: bytes(32), proof: fc.constant([]) }),
  fc.record({ type: fc.constant('auth' as const), sig: bytes(64) }),
  fc.record({ type: fc.constant('open' as const), clock, trust: fc.string({ maxLength: 40 }) }),
  fc.record({ type: fc.constant('changes' as const), epoch: fc.nat(), batch: fc.nat(), entries: fc.array(fc.oneof(entry, stub), { maxLength: 3 }) }),
  fc.record({ type: fc.constant('ack' as const), batch: fc.nat(), clock }),
  fc.record({ type: fc.constant('have' as const), clock }),
  fc.record({ type: fc.constant('resync' as const), epoch: fc.nat(), clock }),
  fc.record({ type: fc.constant('trust' as const), statements: fc.constant([]) }),
  fc.record({ type: fc.constant('error' as const), code: fc.string({ maxLength: 20 }), message: fc.string({ maxLength: 50 }) }),
  fc.record({ type: fc.constantFrom('subscribe' as const, 'subscribed' as const), holding: holdingFilter }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constantFrom('want' as const, 'outside' as const), ids: fc.array(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}$/), { maxLength: 5 }) }),
) as unknown as fc.Arbitrary<Message>;

const codeOf = errorCodeOf;

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
    expect(codeOf(() => decodeMessage(pack({ type: 'subscribed', holding: { territories: 'north' } }), LIMIT))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(pack({ type: 'want', ids: Array.from({ length: 257 }, (_, i) => `r${i}`) }), LIMIT))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(pack({ type: 'want', ids: ['../etc'] }), LIMIT))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(pack({ type: 'subscribed', holding: { territories: Array.from({ length: 10_000 }, (_, i) => `t${i}`) } }), LIMIT))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(new Uint8Array(LIMIT + 1), LIMIT))).toBe('ERR_FRAME_TOO_LARGE');
  });
});

describe('stub entries', () => {
  const frame = (e: Record<string, unknown>) => pack({ type: 'changes', epoch: 0, batch: 1, entries: [{ o: 'a', s: 1, r: 'rec', ...e }] });

  it('carry the digest instead of the change, and a decoded stub has an empty change', () => {
    const decoded = decodeMessage(frame({ h: Buffer.alloc(32, 7) }), LIMIT) as Extract<Message, { type: 'changes' }>;
    expect(decoded.entries[0]).toMatchObject({ digest: '07'.repeat(32) });
    expect(decoded.entries[0]!.change).toHaveLength(0);
  });

  it('refuses an entry with both a change and a digest, with neither, or a digest of the wrong length', () => {
    expect(codeOf(() => decodeMessage(frame({ c: Buffer.from([1]), h: Buffer.alloc(32) }), LIMIT))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(frame({}), LIMIT))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(frame({ h: Buffer.alloc(31) }), LIMIT))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(frame({ h: 'not bytes' }), LIMIT))).toBe('ERR_PROTOCOL');
  });
});

describe('versioning policy', () => {
  const wireEntry = { o: 'newer', s: 1, r: 'r1', c: new Uint8Array([1, 2]), g: new Uint8Array(64) };

  it('reports a message of an unknown kind instead of refusing it, once the session is open', () => {
    expect(decodeMessage(pack({ type: 'gossip', whatever: [1, 2] }), LIMIT)).toEqual({ unknown: 'gossip' });
  });

  it('parses nothing but handshake messages before the handshake completed', () => {
    expect(codeOf(() => decodeMessage(pack({ type: 'gossip' }), LIMIT, true))).toBe('ERR_PROTOCOL');
    expect(codeOf(() => decodeMessage(pack({ type: 'have', clock: [] }), LIMIT, true))).toBe('ERR_PROTOCOL');
    expect(decodeMessage(pack({ type: 'auth', sig: new Uint8Array(64) }), LIMIT, true)).toMatchObject({ type: 'auth' });
  });

  it('ignores unknown keys of known messages', () => {
    expect(decodeMessage(pack({ type: 'have', clock: [], hint: 'later' }), LIMIT)).toEqual({ type: 'have', clock: [] });
  });

  it('keeps unknown entry fields and sends them on unchanged', () => {
    const frame = pack({ type: 'changes', epoch: 0, batch: 1, entries: [{ ...wireEntry, z: { note: 'x' } }] });
    const decoded = decodeMessage(frame, LIMIT) as Extract<Message, { type: 'changes' }>;
    expect(decoded.entries[0]!.ext).toEqual({ z: { note: 'x' } });
    expect(decodeMessage(encodeMessage(decoded), LIMIT)).toEqual(decoded);
  });

  it('checks the count of entries before looking at any, and stops at the first bad one', () => {
    const many = pack({ type: 'changes', epoch: 0, batch: 1, entries: Array.from({ length: 10_001 }, () => ({})) });
    expect(() => decodeMessage(many, LIMIT)).toThrow(/entries has more than 10000 items/);
    const bad = pack({ type: 'changes', epoch: 0, batch: 1, entries: [{}, { o: 7 }, {}] });
    expect(() => decodeMessage(bad, LIMIT)).toThrow(/entries\.0\.o/);
  });
});
