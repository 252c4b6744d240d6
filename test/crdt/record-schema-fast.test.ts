/**
 * Every fast check (record-schema.ts, FAST_CHECKS) must give its schema's verdict: a
 * receiver decides with them whether a peer's change stays inside the record schema,
 * and a check that disagreed with zod would let nodes judge the same change differently.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastCheckedSchemas, recordViewSchema, STAGES, valueFits } from '../../src/crdt/record-schema.js';

const WHITESPACE = [' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u1680', '\u2000', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff', '\u200b', '\u180e'];

/** Strings around every length limit and pattern the schemas have, and plain random ones. */
const stringArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
  fc.tuple(fc.constantFrom(...WHITESPACE, ''), fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom(...WHITESPACE, '')).map(([a, b, c]) => a + b + c),
  fc.tuple(fc.constantFrom(19, 20, 21, 55, 56, 57, 63, 64, 65, 99, 100, 101, 199, 200, 201, 253, 254, 255), fc.constantFrom('a', 'é', '😀', ' ', 'İ'), fc.constantFrom('', ' ', 'x'))
    .map(([n, unit, edge]) => edge + unit.repeat(Math.ceil(n / unit.length)).slice(0, n) + edge),
  // E-mail addresses, good and bad, in any case and padded; the Kelvin sign lower-cases to an ASCII k.
  fc.tuple(fc.string({ unit: fc.constantFrom('a', 'B', '.', '_', "'", '+', '-', '1', ' ', 'ä', '\u212a', '\u0130'), maxLength: 12 }), fc.constantFrom('@', '@@', ''),
    fc.string({ unit: fc.constantFrom('x', 'Y', '-', '.', '9', '\u212a'), maxLength: 10 }), fc.constantFrom('.com', '.c', '.DE', '', '.example'))
    .map(([local, at, domain, tld]) => local + at + domain + tld),
  fc.tuple(fc.constantFrom('', ' ', '+'), fc.string({ unit: fc.constantFrom('0', '7', ' ', '(', ')', '.', '/', '-', 'a'), maxLength: 36 }), fc.constantFrom('', ' ext. 44', 'x44', ';ext=4', ' EXT 12345678901'))
    .map(([a, b, c]) => a + b + c),
  fc.constantFrom(...STAGES, 'Lead', ' lead', 'won ', ''),
);
const valueArb = fc.oneof(stringArb, stringArb, fc.constantFrom<unknown>(null, undefined, 0, 1, true, false, {}, [], ['a'], new String('a')), fc.double());

describe('fast checks of the record schema', () => {
  it('cover the atomic fields, address parts, name and tags a receiver checks', () => {
    // text(max) ×10, the view's name and tag, e-mail, phone, stage: more than a handful.
    expect(fastCheckedSchemas().length).toBeGreaterThanOrEqual(10);
    const shape = recordViewSchema.shape;
    for (const schema of [shape.email, shape.phone, shape.stage, shape.company, shape.name, shape.address.shape.postcode, shape.tags.element]) {
      expect(fastCheckedSchemas().some(([s]) => s === schema || s === (schema as { unwrap?: () => unknown }).unwrap?.())).toBe(true);
    }
  });

  it('give the verdict of the schema they stand for, on random and hostile values', () => {
    const checks = fastCheckedSchemas();
    fc.assert(fc.property(valueArb, (value) => {
      for (const [schema, check] of checks) expect([schema.description, check(value)]).toEqual([schema.description, schema.safeParse(value).success]);
    }), { seed: 9090, numRuns: 4000 });
  });

  it('valueFits says what safeParse says, optional schemas and undefined included', () => {
    const shape = recordViewSchema.shape;
    const schemas = [shape.email, shape.phone, shape.stage, shape.title, shape.name, shape.address.shape.city, shape.tags.element, shape.notes];
    fc.assert(fc.property(valueArb, (value) => {
      for (const schema of schemas) expect(valueFits(schema, value)).toBe(schema.safeParse(value).success);
    }), { seed: 9191, numRuns: 2000 });
  });
});
