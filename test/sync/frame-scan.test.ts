import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { errorCodeOf } from '../support/error-code.js';
import { scanFrame, type FrameBudget } from '../../src/sync/frame-scan.js';

const ROOMY: FrameBudget = { items: 1e9, containers: 1e9, depth: 1e9 };

/** Plain MessagePack values (no `undefined`: msgpackr writes it as an extension). */
const value = fc.letrec((tie) => ({
  any: fc.oneof({ depthSize: 'small' },
    fc.jsonValue({ maxDepth: 0 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('any'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('any'), { maxKeys: 5 })),
})).any;

/** What the scan counts, computed on the value itself: values, containers, depth. */
function shape(v: unknown): { items: number; containers: number; depth: number } {
  if (v instanceof Uint8Array || v === null || typeof v !== 'object') return { items: 1, containers: 0, depth: 0 };
  const children = Array.isArray(v) ? v : Object.entries(v).flat();
  const inner = children.map(shape);
  return {
    items: 1 + inner.reduce((n, s) => n + s.items, 0),
    containers: 1 + inner.reduce((n, s) => n + s.containers, 0),
    depth: children.length === 0 ? 0 : 1 + Math.max(...inner.map((s) => s.depth)),
  };
}

function scanCode(frame: Uint8Array, budget: FrameBudget = ROOMY): string | undefined {
  return errorCodeOf(() => scanFrame(frame, budget));
}

describe('frame scan (the count before decoding)', () => {
  it('accepts a value exactly at its budget and refuses it one below, for each of the three bounds', () => {
    fc.assert(fc.property(value, (v) => {
      const frame = pack(v);
      const s = shape(v);
      expect(scanCode(frame, s)).toBeUndefined();
      expect(scanCode(frame, { ...s, items: s.items - 1 })).toBe('ERR_PROTOCOL');
      if (s.containers > 0) expect(scanCode(frame, { ...s, containers: s.containers - 1 })).toBe('ERR_PROTOCOL');
      if (s.depth > 0) expect(scanCode(frame, { ...s, depth: s.depth - 1 })).toBe('ERR_PROTOCOL');
    }), { numRuns: 500 });
  });

  it('refuses every truncation and any trailing byte', () => {
    fc.assert(fc.property(value, fc.nat(), fc.integer({ min: 0, max: 255 }), (v, cut, extra) => {
      const frame = pack(v);
      expect(scanCode(frame.subarray(0, cut % frame.length))).toBe('ERR_PROTOCOL');
      expect(scanCode(Buffer.concat([frame, Buffer.from([extra])]))).toBe('ERR_PROTOCOL');
    }), { numRuns: 500 });
  });

  it('refuses extension types, the reserved byte, and counts larger than the frame before walking them', () => {
    expect(scanCode(pack(new Date(0)))).toBe('ERR_PROTOCOL');
    expect(scanCode(pack(undefined))).toBe('ERR_PROTOCOL');
    expect(scanCode(Buffer.from([0xc1]))).toBe('ERR_PROTOCOL');
    // An array32 claiming 4 billion elements, and a map32 claiming 2 billion pairs, in 5 bytes.
    expect(scanCode(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]))).toBe('ERR_PROTOCOL');
    expect(scanCode(Buffer.from([0xdf, 0x7f, 0xff, 0xff, 0xff]))).toBe('ERR_PROTOCOL');
    // A bin32 claiming more bytes than follow.
    expect(scanCode(Buffer.from([0xc6, 0x00, 0x01, 0x00, 0x00, 0x01]))).toBe('ERR_PROTOCOL');
  });

  it('walks a deep nesting without recursion and refuses it at the depth bound', () => {
    const deep = Buffer.alloc(100_001, 0x91); // [[[[...]]]] one hundred thousand deep
    deep[100_000] = 0xc0;
    expect(scanCode(deep)).toBeUndefined();
    expect(scanCode(deep, { ...ROOMY, depth: 32 })).toBe('ERR_PROTOCOL');
  });
});
