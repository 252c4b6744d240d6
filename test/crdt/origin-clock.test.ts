import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chainNext, chainStart, classify, compareClocks, firstMissing, forkedOrigin, lacking, learn, mergeClocks, seqsFromWire, seqsOf,
  toWireClock, type OriginHead, type SeqClock,
} from '../../src/crdt/origin-clock.js';

const origin = fc.constantFrom('a', 'b', 'c', 'd');
const seqClock = fc.array(fc.tuple(origin, fc.nat({ max: 20 })), { maxLength: 6 }).map((entries) => {
  const clock = new Map<string, number>();
  learn(clock, entries.filter(([, seq]) => seq > 0));
  return clock as SeqClock;
});
const hash = (n: number) => n.toString(16).padStart(64, '0');
const wire = (n: number) => Buffer.from(hash(n), 'hex');
const originClock = fc.array(fc.tuple(origin, fc.integer({ min: 1, max: 20 })), { maxLength: 4 })
  .map((entries) => new Map<string, OriginHead>(entries.map(([o, seq]) => [o, { seq, hash: hash(seq) }])));

const same = (a: SeqClock, b: SeqClock) => compareClocks(a, b) === 'equal';

describe('origin clock laws', () => {
  it('merge is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(seqClock, seqClock, seqClock, (a, b, c) => {
        expect(same(mergeClocks(a, b), mergeClocks(b, a))).toBe(true);
        expect(same(mergeClocks(mergeClocks(a, b), c), mergeClocks(a, mergeClocks(b, c)))).toBe(true);
        expect(same(mergeClocks(a, a), a)).toBe(true);
      }),
    );
  });

  it('compare is consistent with merge and antisymmetric', () => {
    fc.assert(
      fc.property(seqClock, seqClock, (a, b) => {
        const order = compareClocks(a, b);
        const reverse = ({ equal: 'equal', before: 'after', after: 'before', concurrent: 'concurrent' } as const)[order];
        expect(compareClocks(b, a)).toBe(reverse);
        const merged = mergeClocks(a, b);
        if (order === 'before' || order === 'equal') expect(same(merged, b)).toBe(true);
        if (order === 'after' || order === 'equal') expect(same(merged, a)).toBe(true);
        if (order === 'concurrent') expect(same(merged, a) || same(merged, b)).toBe(false);
      }),
    );
  });

  it('lacking counts exactly what a merge would add, and is zero only when nothing is missing', () => {
    fc.assert(
      fc.property(seqClock, seqClock, (a, b) => {
        const added = [...mergeClocks(a, b)].reduce((n, [o, seq]) => n + seq - (b.get(o) ?? 0), 0);
        expect(lacking(a, b)).toBe(added);
        expect(lacking(a, b) === 0).toBe(['equal', 'before'].includes(compareClocks(a, b)));
      }),
    );
  });

  it('firstMissing names each origin the peer lacks, at the first seq it lacks', () => {
    fc.assert(
      fc.property(originClock, seqClock, (mine, theirs) => {
        const missing = new Map(firstMissing(mine, theirs));
        for (const [o, head] of mine) {
          const held = theirs.get(o) ?? 0;
          expect(missing.get(o)).toBe(head.seq > held ? held + 1 : undefined);
        }
        expect([...missing.keys()].every((o) => mine.has(o))).toBe(true);
      }),
    );
  });

  it('the wire form round-trips, sorted by origin', () => {
    fc.assert(
      fc.property(originClock, (clock) => {
        const wire = toWireClock(clock);
        expect(wire.map(([o]) => o)).toEqual([...clock.keys()].sort());
        expect(same(seqsFromWire(wire), seqsOf(clock))).toBe(true);
      }),
    );
  });
});

describe('placing and chaining entries', () => {
  it('places an entry by its sequence number: held, next, or beyond a gap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 1, max: 12 }), (held, seq) => {
        const head = held === 0 ? undefined : { seq: held, hash: hash(held) };
        const verdict = classify(head, seq);
        expect(verdict).toBe(seq <= held ? 'duplicate' : seq === held + 1 ? 'next' : 'gap');
      }),
    );
  });

  it('binds every chain hash to cluster, origin, position, record and change', () => {
    const change = 'ab'.repeat(32);
    const start = chainStart('cluster-1', 'berlin');
    expect(start).toMatch(/^[0-9a-f]{64}$/);
    expect(chainStart('cluster-2', 'berlin')).not.toBe(start);
    expect(chainStart('cluster-1', 'paris')).not.toBe(start);
    const one = chainNext(start, { seq: 1, record: 'r1' }, change);
    expect(chainNext(start, { seq: 1, record: 'r1' }, change)).toBe(one);
    expect(chainNext(start, { seq: 2, record: 'r1' }, change)).not.toBe(one);
    expect(chainNext(start, { seq: 1, record: 'r2' }, change)).not.toBe(one);
    expect(chainNext(start, { seq: 1, record: 'r1' }, 'cd'.repeat(32))).not.toBe(one);
    expect(chainNext(chainStart('cluster-1', 'paris'), { seq: 1, record: 'r1' }, change)).not.toBe(one);
  });

  it('hashes exactly prev, seq (u64 BE), record, NUL and change hash, and refuses hashes that are not 32 bytes of hex', () => {
    // Stored chains and every signature depend on this layout: built here byte by byte.
    fc.assert(
      fc.property(fc.nat(), fc.string({ maxLength: 40 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (seq, record, prev, change) => {
        const seqBytes = Buffer.alloc(8);
        seqBytes.writeBigUInt64BE(BigInt(seq));
        const input = Buffer.concat([prev, seqBytes, Buffer.from(record, 'utf8'), Buffer.from([0]), change]);
        const expected = createHash('sha256').update(input).digest('hex');
        expect(chainNext(Buffer.from(prev).toString('hex'), { seq, record }, Buffer.from(change).toString('hex'))).toBe(expected);
      }),
    );
    const start = chainStart('cluster-1', 'berlin');
    const notHex = 'zz'.repeat(32);
    expect(() => chainNext(start, { seq: 1, record: 'r1' }, notHex)).toThrow(TypeError);
    expect(() => chainNext(notHex, { seq: 1, record: 'r1' }, start)).toThrow(TypeError);
    expect(() => chainNext(start, { seq: 1, record: 'r1' }, `${start.slice(0, 62)}g0`)).toThrow(TypeError);
    // Hex of the wrong length, in either place: the change hash at the end would be cut to 32 bytes.
    expect(() => chainNext(start, { seq: 1, record: 'r1' }, `${start}00`)).toThrow(TypeError);
    // 32 bytes of hex and a tail that is not hex: the write fills all 32 bytes, so only the length check catches it.
    expect(() => chainNext(start, { seq: 1, record: 'r1' }, `${start}zz`)).toThrow(TypeError);
    expect(() => chainNext(`${start}zz`, { seq: 1, record: 'r1' }, start)).toThrow(TypeError);
    expect(() => chainNext(`${start}00`, { seq: 1, record: 'r1' }, start)).toThrow(TypeError);
    expect(() => chainNext(start, { seq: 1, record: 'r1' }, start.slice(0, 62))).toThrow(TypeError);
  });

  it('detects a fork in a peer clock, and a peer with our id that wrote more of our origin', () => {
    const mine = new Map<string, OriginHead>([['a', { seq: 3, hash: hash(3) }], ['me', { seq: 2, hash: hash(2) }]]);
    expect(forkedOrigin(mine, [['a', 3, wire(3)]], 'me', 'b')).toBeUndefined();
    expect(forkedOrigin(mine, [['a', 3, wire(99)]], 'me', 'b')).toBe('a');
    expect(forkedOrigin(mine, [['a', 2, wire(99)]], 'me', 'b')).toBeUndefined(); // different seq: not comparable
    expect(forkedOrigin(mine, [['me', 5, wire(5)]], 'me', 'me')).toBe('me');
    expect(forkedOrigin(mine, [['me', 2, wire(2)]], 'me', 'me')).toBeUndefined();
  });
});
