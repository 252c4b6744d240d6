import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { changesAhead, clockOf, compareClocks, mergeClocks, type VectorClock } from '../../src/crdt/vector-clock.js';

const clockArb = fc
  .array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.nat({ max: 20 })), { maxLength: 6 })
  .map((entries) => clockOf(entries));

const same = (a: VectorClock, b: VectorClock) => compareClocks(a, b) === 'equal';

describe('vector clock laws', () => {
  it('merge is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(clockArb, clockArb, clockArb, (a, b, c) => {
        expect(same(mergeClocks(a, b), mergeClocks(b, a))).toBe(true);
        expect(same(mergeClocks(mergeClocks(a, b), c), mergeClocks(a, mergeClocks(b, c)))).toBe(true);
        expect(same(mergeClocks(a, a), a)).toBe(true);
      }),
    );
  });

  it('compare is consistent with merge and antisymmetric', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        const order = compareClocks(a, b);
        const reverse = { equal: 'equal', before: 'after', after: 'before', concurrent: 'concurrent' }[order];
        expect(compareClocks(b, a)).toBe(reverse);
        const merged = mergeClocks(a, b);
        if (order === 'before' || order === 'equal') expect(same(merged, b)).toBe(true);
        if (order === 'after' || order === 'equal') expect(same(merged, a)).toBe(true);
        expect(['before', 'equal']).toContain(compareClocks(a, merged));
      }),
    );
  });

  it('changesAhead counts exactly what merging would add', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        const total = (c: VectorClock) => [...c.values()].reduce((x, y) => x + y, 0);
        expect(changesAhead(a, b)).toBe(total(mergeClocks(a, b)) - total(b));
        expect(changesAhead(a, b) === 0).toBe(['before', 'equal'].includes(compareClocks(a, b)));
      }),
    );
  });
});
