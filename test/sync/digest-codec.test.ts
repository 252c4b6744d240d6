/**
 * The anti-entropy messages at the codec: every well-formed one round-trips; malformed,
 * oversized, too deep or inconsistent ones are ERR_PROTOCOL (never anything else), and
 * none is parsed before the handshake completed.
 */
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { CrmsyncError } from '../../src/errors.js';
import { FIXED } from '../../src/limits.js';
import { decodeMessage, encodeMessage } from '../../src/sync/codec.js';
import type { Message } from '../../src/sync/messages.js';

const LIMIT = 4 * 1024 * 1024;
const hash = () => fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b));
const territory = fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: null });
const prefix = fc.stringMatching(/^[0-9a-f]{0,8}$/);
const recordId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}$/);
const clock = fc.array(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), fc.integer({ min: 1, max: 1e9 }), hash()), { maxLength: 3 });
const paths = fc.array(fc.tuple(territory, prefix), { minLength: 1, maxLength: 4 });

const request = fc.oneof(
  fc.record({ type: fc.constant('digest-request' as const), req: fc.nat(), what: fc.constant('groups' as const), paths: fc.constant([]), ids: fc.constant([]), clock }),
  fc.record({ type: fc.constant('digest-request' as const), req: fc.nat(), what: fc.constant('records' as const), paths, ids: fc.constant([]) }),
  fc.record({
    type: fc.constant('digest-request' as const), req: fc.nat(), what: fc.constantFrom('compare' as const, 'repair' as const), paths: fc.constant([]),
    ids: fc.array(recordId, { minLength: 1, maxLength: 5 }),
  }),
);
const response = fc.record({
  type: fc.constant('digest-response' as const), req: fc.nat(),
  refused: fc.constantFrom('busy', 'rate'), clock,
  groups: fc.array(fc.tuple(territory, fc.nat(), hash()), { maxLength: 3 }),
  children: fc.array(fc.array(fc.tuple(fc.nat(), hash()), { minLength: 16, maxLength: 16 }), { maxLength: 2 }),
  records: fc.array(fc.option(fc.array(fc.tuple(recordId, fc.oneof(hash(), fc.constant(Buffer.alloc(0)))), { maxLength: 3 }), { nil: null }), { maxLength: 2 }),
  repaired: fc.nat(),
}, { requiredKeys: ['type', 'req'] });

function codeOf(frame: Uint8Array, handshake = false): string | undefined {
  try {
    decodeMessage(frame, LIMIT, handshake);
    return undefined;
  } catch (err) {
    if (!(err instanceof CrmsyncError)) throw err;
    return err.code;
  }
}

const req = (fields: Record<string, unknown>) => pack({ type: 'digest-request', req: 1, what: 'records', paths: [[null, 'a']], ids: [], ...fields });
const res = (fields: Record<string, unknown>) => pack({ type: 'digest-response', req: 1, ...fields });

describe('anti-entropy messages at the codec', () => {
  it('round-trip', () => {
    fc.assert(fc.property(fc.oneof(request, response), (msg) => {
      expect(decodeMessage(encodeMessage(msg as unknown as Message), LIMIT)).toEqual(msg);
    }));
  });

  it('are ERR_PROTOCOL when malformed, and only that', () => {
    fc.assert(fc.property(fc.oneof(request, response), fc.nat(), fc.integer({ min: 0, max: 255 }), (msg, at, byte) => {
      const frame = Buffer.from(encodeMessage(msg as unknown as Message));
      frame[at % frame.length] = byte;
      expect([undefined, 'ERR_PROTOCOL']).toContain(codeOf(frame));
      expect([undefined, 'ERR_PROTOCOL']).toContain(codeOf(frame.subarray(0, at % frame.length)));
    }), { numRuns: 2000 });
  });

  it('refuse bad paths, kinds, ids and inconsistent fields', () => {
    for (const frame of [
      req({ what: 'everything' }),
      req({ paths: [[null, 'A']] }), // upper-case nibble
      req({ paths: [[null, '012345678']] }), // deeper than the tree
      req({ paths: [[null]] }),
      req({ paths: [[42, 'a']] }),
      req({ paths: [['x'.repeat(101), 'a']] }),
      req({ what: 'children', paths: [[null, '01234567']] }), // the deepest level has no children
      req({ paths: [] }), // records of nothing
      req({ what: 'groups' }), // groups with paths
      req({ what: 'repair', paths: [], ids: [] }),
      req({ what: 'compare', paths: [], ids: ['../etc'] }),
      req({ what: 'repair', ids: ['a'] }), // two things at once
      res({ children: [[[1, Buffer.alloc(32)]]] }), // not 16 children
      res({ groups: [[null, -1, Buffer.alloc(32)]] }),
      res({ groups: [[null, 1, Buffer.alloc(31)]] }),
      res({ records: [[['a', Buffer.alloc(5)]]] }),
      res({ records: 'all' }),
      res({ req: -1 }),
    ]) expect(codeOf(frame), JSON.stringify(frame.toString('hex').slice(0, 80))).toBe('ERR_PROTOCOL');
  });

  it('refuse oversized counts before looking at the items', () => {
    const many = (n: number, item: unknown) => Array.from({ length: n }, () => item);
    expect(codeOf(req({ paths: many(FIXED.maxDigestPaths + 1, [null, 'a']) }))).toBe('ERR_PROTOCOL');
    expect(codeOf(req({ what: 'repair', paths: [], ids: many(FIXED.maxDigestIds + 1, 'a') }))).toBe('ERR_PROTOCOL');
    expect(codeOf(res({ groups: many(FIXED.maxDigestGroups + 1, [null, 1, Buffer.alloc(32)]) }))).toBe('ERR_PROTOCOL');
    expect(codeOf(res({ children: many(FIXED.maxDigestPaths + 1, many(16, [1, Buffer.alloc(32)])) }))).toBe('ERR_PROTOCOL');
    expect(codeOf(res({ records: [many(Math.max(FIXED.maxDigestLeafRecords, FIXED.maxDigestIds) + 1, ['a', Buffer.alloc(32)])] }))).toBe('ERR_PROTOCOL');
  });

  it('refuse nesting beyond the frame depth, and frames beyond the size limit', () => {
    let deep: unknown = [null, 'a'];
    for (let i = 0; i < FIXED.maxFrameDepth + 2; i++) deep = [deep];
    expect(codeOf(req({ paths: [deep] }))).toBe('ERR_PROTOCOL');
    expect(() => decodeMessage(req({ paths: [[null, 'a']] }), 8)).toThrow(expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }));
  });

  it('are not parsed before the handshake completed', () => {
    expect(codeOf(req({}), true)).toBe('ERR_PROTOCOL');
    expect(codeOf(res({}), true)).toBe('ERR_PROTOCOL');
  });
});
