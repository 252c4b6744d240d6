import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LoggedEntry } from '../../src/crdt/change-entry.js';
import { createValueCodec } from '../../src/store/codec.js';
import { fromLogValue, LOG_FIELDS, positionOf, toLogValue, type LogValue } from '../../src/store/log-codec.js';

const codec = createValueCodec();

const entry = (fields: string[]): LoggedEntry => ({
  origin: 'node-a' as never, seq: 7, chain: 'ab'.repeat(32), record: 'cust-1' as never, change: new Uint8Array([1, 2, 3]), time: 1_800_000_000_000, fields,
});
const stored = (fields: string[]) => codec.unpack<LogValue>(codec.pack(toLogValue(entry(fields))));

describe('log entry codec (schema 3)', () => {
  it('pins the field bits: they are part of the storage format', () => {
    expect(LOG_FIELDS).toEqual([
      'name', 'email', 'phone', 'company', 'title', 'owner', 'territory', 'stage',
      'address.street', 'address.city', 'address.region', 'address.postcode', 'address.country',
      'tags', 'notes', 'interactions', 'deleted',
    ]);
    expect(LOG_FIELDS.length).toBeLessThanOrEqual(31); // bit 31 would make the mask negative
  });

  it('stores the fields of a created record as one number, and reads them back in order', () => {
    const fields = ['name', 'email', 'company', 'address.city', 'tags', 'notes'];
    const value = stored(fields);
    expect(typeof value.f).toBe('number');
    expect(fromLogValue(value, 1).fields).toEqual(fields);
    expect(fromLogValue(stored([]), 1).fields).toEqual([]);
  });

  it('keeps names it cannot write as bits, and reads schema 2 names as they are (seeded)', () => {
    const field = fc.oneof(fc.constantFrom(...LOG_FIELDS), fc.string({ maxLength: 12 }).map((s) => `custom.${s}`));
    let bits = 0;
    fc.assert(
      fc.property(fc.uniqueArray(field, { maxLength: 8 }), (fields) => {
        const value = stored(fields);
        if (typeof value.f === 'number') bits++;
        expect(fromLogValue(value, 1).fields).toEqual(fields);
        expect(fromLogValue({ ...value, f: fields }, 1).fields).toEqual(fields); // schema 2
      }),
      { seed: 20261201, numRuns: 2000 },
    );
    expect(bits).toBeGreaterThan(100);
  });

  it('reads origin index values of both schemas', () => {
    expect(positionOf(codec.unpack(codec.pack(42)))).toBe(42);
    expect(positionOf(codec.unpack(codec.pack({ l: 42, h: new Uint8Array(32) })))).toBe(42);
  });
});
