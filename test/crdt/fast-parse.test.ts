/**
 * Every fast parse (fast-parse.ts, registered beside its schema in record-schema.ts) must
 * give its schema's `safeParse` data whenever it answers: a caller's records are parsed
 * with them at the boundary, and a receiver decides with them whether a peer's change
 * stays inside the record schema; one that disagreed with zod would store what zod
 * refuses, or let nodes judge the same change differently. And on the ordinary values
 * they exist for, they must answer (else every write pays for zod again).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DECLINE, fastParse, registeredFastParses } from '../../src/crdt/fast-parse.js';
import { recordInputSchema, recordPatchSchema, recordViewSchema, STAGES, validate, valueFits } from '../../src/crdt/record-schema.js';
import { CrmsyncError } from '../../src/errors.js';

const WHITESPACE = [' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u1680', '\u2000', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff', '\u200b', '\u180e'];

/** Strings around every length limit and pattern the schemas have, and plain random ones. */
const stringArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
  fc.tuple(fc.constantFrom(...WHITESPACE, ''), fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom(...WHITESPACE, '')).map(([a, b, c]) => a + b + c),
  fc.tuple(fc.constantFrom(19, 20, 21, 55, 56, 57, 63, 64, 65, 99, 100, 101, 199, 200, 201, 253, 254, 255, 1999, 2000, 2001), fc.constantFrom('a', 'é', '😀', ' ', 'İ'), fc.constantFrom('', ' ', 'x'))
    .map(([n, unit, edge]) => edge + unit.repeat(Math.ceil(n / unit.length)).slice(0, n) + edge),
  // E-mail addresses, good and bad, in any case and padded; the Kelvin sign lower-cases to an ASCII k.
  fc.tuple(fc.string({ unit: fc.constantFrom('a', 'B', '.', '_', "'", '+', '-', '1', ' ', 'ä', '\u212a', '\u0130'), maxLength: 12 }), fc.constantFrom('@', '@@', ''),
    fc.string({ unit: fc.constantFrom('x', 'Y', '-', '.', '9', '\u212a'), maxLength: 10 }), fc.constantFrom('.com', '.c', '.DE', '', '.example'))
    .map(([local, at, domain, tld]) => local + at + domain + tld),
  fc.tuple(fc.constantFrom('', ' ', '+'), fc.string({ unit: fc.constantFrom('0', '7', ' ', '(', ')', '.', '/', '-', 'a'), maxLength: 36 }), fc.constantFrom('', ' ext. 44', 'x44', ';ext=4', ' EXT 12345678901'))
    .map(([a, b, c]) => a + b + c),
  fc.constantFrom(...STAGES, 'Lead', ' lead', 'won ', ''),
  // Tags: words and phrases, commas, doubled spaces, padding.
  fc.constantFrom('vip', ' vip ', 'a,b', 'trade fair', 'trade  fair', 'x'.repeat(64), 'x'.repeat(65), '😀'.repeat(64)),
);
const numberArb = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 0.5, 1e9, 1e9 + 1, -1e9, -1e9 - 1, 1e12, 1e12 + 1, 2 ** 53, NaN, Infinity, -Infinity),
  fc.integer(), fc.double(),
);
/** Objects a caller or a peer could hand over, ordinary and not. */
const oddObjectArb = fc.constantFrom<unknown>(
  Object.create(null), Object.assign(Object.create(null), { tier: 'gold' }), JSON.parse('{"__proto__": "x"}'), { [Symbol('s')]: 1 },
  new String('a'), new Map([['a', 1]]), new Date(0), Object.defineProperty({}, 'tier', { value: 'gold', enumerable: false }),
  Object.defineProperty({ name: 'Ada' }, 'email', { value: 'a@b.example', enumerable: false }),
  // eslint-disable-next-line no-sparse-arrays
  [, 'vip'], new (class Custom { tier = 'gold'; })(),
);
const leafArb = fc.oneof(stringArb, stringArb, numberArb, fc.constantFrom<unknown>(null, undefined, true, false, {}, [], ['a']));
const valueArb = fc.oneof({ arbitrary: leafArb, weight: 6 }, { arbitrary: oddObjectArb, weight: 1 },
  { arbitrary: fc.array(stringArb, { maxLength: 4 }), weight: 1 }, { arbitrary: fc.dictionary(stringArb, leafArb, { maxKeys: 3 }), weight: 1 });

const customKeyArb = fc.oneof(fc.constantFrom('tier', 'score', '', 'x'.repeat(64), 'x'.repeat(65), '😀'.repeat(64), 'constructor', 'toString', '1', '__proto__'), fc.string({ maxLength: 6 }));
const customValueArb = fc.oneof(stringArb, numberArb, fc.boolean(), fc.constantFrom<unknown>(null, undefined, {}, [], 'x'.repeat(2001)));
const ADDRESS_KEYS = ['street', 'city', 'region', 'postcode', 'country'];

/** A value for `key` of a patch or input: mostly what a caller would send, sometimes anything. */
function fieldArb(key: string): fc.Arbitrary<unknown> {
  const ordinary = (() => {
    switch (key) {
      case 'address': return fc.oneof(fc.constant(null), fc.dictionary(fc.constantFrom(...ADDRESS_KEYS, 'zip'), fc.oneof(stringArb, fc.constant(null)), { maxKeys: 4 }));
      case 'tags': case 'addTags': case 'removeTags':
        return fc.oneof(fc.array(stringArb, { maxLength: 4 }), fc.array(fc.constant('vip'), { minLength: 99, maxLength: 102 }));
      case 'notes': return fc.oneof(fc.string({ maxLength: 30 }), stringArb, fc.constant('é'.repeat(100_001)));
      case 'interactions': case 'incrementInteractions': return numberArb;
      case 'custom': return fc.oneof(fc.dictionary(customKeyArb, customValueArb, { maxKeys: 4 }), fc.constantFrom(JSON.parse('{"__proto__": 1, "tier": "a"}'), JSON.parse('{"tier": "a", "__proto__": null}')));
      case 'reopen': return fc.boolean();
      case 'id': return fc.string({ maxLength: 8 });
      case 'name': return fc.oneof(fc.constantFrom('Ada', ' Grace '), stringArb);
      case 'email': return fc.oneof(fc.constantFrom('ADA@Example.com ', 'a@b.example'), stringArb, fc.constant(null));
      case 'stage': return fc.oneof(fc.constantFrom(...STAGES), stringArb, fc.constant(null));
      default: return fc.oneof(fc.constantFrom('Acme', ' North ', '+49 30 1234567'), stringArb, fc.constant(null));
    }
  })();
  return fc.oneof({ arbitrary: ordinary, weight: 8 }, { arbitrary: valueArb, weight: 1 }, { arbitrary: fc.constant(undefined), weight: 1 });
}

const PATCH_KEYS = Object.keys(recordPatchSchema.shape);
/** Objects with some of a patch's keys (and an input's id, and keys neither knows), in any order. */
const patchLikeArb = fc.uniqueArray(fc.constantFrom(...PATCH_KEYS, 'id', 'deleted', 'unknown', '__proto__'), { maxLength: 8 })
  .chain((keys) => fc.tuple(...keys.map((key) => fieldArb(key).map((value) => [key, value] as const))))
  .map((pairs) => Object.fromEntries(pairs) as Record<string, unknown>);
const anyInputArb = fc.oneof({ arbitrary: patchLikeArb, weight: 8 }, { arbitrary: valueArb, weight: 1 });

/** What a record looks like to an application: valid, with ordinary keys and padding. */
const validRecordArb = fc.record({
  name: fc.constantFrom('Ada Lovelace', '  Grace Hopper ', 'Zoë', '李雷'),
  email: fc.constantFrom('ADA@Example.COM ', 'grace@navy.example', ' x.y+z@sub.example.org'),
  phone: fc.constantFrom('+49 30 1234567', '(030) 12-34 ext. 5', '555.1234 x44'),
  company: fc.constantFrom('Acme', ' Initech '), title: fc.constantFrom('CTO', 'Buyer'),
  owner: fc.constantFrom('alice', 'bob'), territory: fc.constantFrom('North', 'South-West'), stage: fc.constantFrom(...STAGES),
  address: fc.record({ street: fc.constantFrom('Main St 1'), city: fc.constantFrom('Berlin', ' Köln'), postcode: fc.constantFrom('10115'), country: fc.constantFrom('DE') }, { requiredKeys: [] }),
  tags: fc.array(fc.constantFrom('vip', ' trade fair ', 'q3'), { maxLength: 3 }),
  notes: fc.string({ maxLength: 40 }), interactions: fc.nat({ max: 1000 }),
  custom: fc.dictionary(fc.constantFrom('tier', 'score', 'source', 'Größe'), fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean()), { maxKeys: 3 }),
}, { requiredKeys: ['name'] });

/**
 * The data as a comparable structure: types, prototypes, keys in their order, numbers
 * by Object.is (-0 is not 0); `toEqual` on it catches any difference zod's data and a
 * fast parse's could have.
 */
function shape(value: unknown): unknown {
  if (typeof value === 'number') return ['number', Object.is(value, -0) ? '-0' : String(value)];
  if (typeof value !== 'object' || value === null) return [typeof value, value];
  const proto = Object.getPrototypeOf(value);
  const kind = Array.isArray(value) ? 'array' : proto === null ? 'null-proto' : proto === Object.prototype ? 'object' : 'other';
  return [kind, Reflect.ownKeys(value).map((key) => [String(key), shape((value as Record<PropertyKey, unknown>)[key])])];
}

/** The fast parse agrees with zod where it answers; returns whether it answered. */
function agrees(schema: z.ZodTypeAny, value: unknown): boolean {
  const fast = fastParse(schema, value);
  if (fast === DECLINE) return false;
  const zod = schema.safeParse(value);
  expect(zod.success).toBe(true);
  expect(shape(fast)).toEqual(shape(zod.data));
  return true;
}

describe('fast parses of the record schema', () => {
  it('cover the fields a caller writes and a receiver checks', () => {
    const registered = new Set(registeredFastParses().map(([schema]) => schema));
    const view = recordViewSchema.shape;
    const patch = recordPatchSchema.shape;
    const inner = (schema: z.ZodTypeAny): z.ZodTypeAny => (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable ? inner(schema.unwrap() as z.ZodTypeAny) : schema);
    for (const schema of [view.email, view.phone, view.stage, view.company, view.name, view.address.shape.postcode, view.tags.element, view.notes, view.custom,
      patch.tags, patch.notes, patch.interactions, patch.custom, patch.reopen, patch.incrementInteractions, patch.addTags, recordInputSchema.shape.id]) {
      expect(registered.has(inner(schema))).toBe(true);
    }
  });

  it('each registered parse gives its schema\'s data whenever it answers, and answers for every value the schema takes (seeded)', () => {
    const parses = registeredFastParses();
    let answered = 0;
    fc.assert(fc.property(valueArb, (value) => {
      for (const [schema, parse] of parses) {
        const zod = schema.safeParse(value);
        const fast = parse(value);
        if (fast !== DECLINE) {
          answered++;
          expect([schema.description, zod.success]).toEqual([schema.description, true]);
          expect(shape(fast)).toEqual(shape(zod.data));
        } else if (zod.success) {
          // Declined though zod takes it: only objects that are not plain, or keys zod drops.
          const odd = typeof value === 'object' && value !== null && !Array.isArray(value)
            && (![Object.prototype, null].includes(Object.getPrototypeOf(value)) || Object.prototype.hasOwnProperty.call(value, '__proto__') || Object.getOwnPropertySymbols(value).length > 0);
          expect([schema.description, value, odd]).toEqual([schema.description, value, true]);
        }
      }
    }), { seed: 9090, numRuns: 4000 });
    expect(answered).toBeGreaterThan(4000);
  });

  it('the patch and input schemas: the same data as zod whenever the fast parse answers, on random and hostile objects (seeded)', () => {
    const answered = { patch: 0, input: 0 };
    fc.assert(fc.property(anyInputArb, (value) => {
      if (agrees(recordPatchSchema, value)) answered.patch++;
      if (agrees(recordInputSchema, value)) answered.input++;
    }), { seed: 31337, numRuns: 6000 });
    // Both sides are exercised: answers, and declines that zod decides.
    expect(answered.patch).toBeGreaterThan(600);
    expect(answered.input).toBeGreaterThan(30); // an input needs a valid name; the next test covers valid inputs
    expect(answered.patch).toBeLessThan(5000);
  });

  it('answers for every ordinary valid record, as a patch and as an input (seeded)', () => {
    fc.assert(fc.property(validRecordArb, fc.string({ minLength: 1, maxLength: 8 }), (record, id) => {
      expect(agrees(recordPatchSchema, record)).toBe(true);
      expect(agrees(recordInputSchema, { id, ...record })).toBe(true);
    }), { seed: 4242, numRuns: 1500 });
  });

  it('declines schemas it cannot walk: refinements, objects that strip or pass through, fields without a fast parse', () => {
    const ada = { name: 'Ada' };
    expect(fastParse(recordPatchSchema, ada)).toEqual({ name: 'Ada' });
    expect(fastParse(recordPatchSchema.refine(() => false), ada)).toBe(DECLINE);
    expect(fastParse(recordPatchSchema.strip(), ada)).toBe(DECLINE);
    expect(fastParse(recordPatchSchema.passthrough(), ada)).toBe(DECLINE);
    expect(fastParse(z.object({ name: z.string() }).strict(), ada)).toBe(DECLINE);
    const extended = recordPatchSchema.extend({ extra: z.string().optional() });
    expect(fastParse(extended, ada)).toEqual({ name: 'Ada' }); // the unwalkable field is absent
    expect(fastParse(extended, { ...ada, extra: 'x' })).toBe(DECLINE);
    expect(extended.safeParse({ ...ada, extra: 'x' }).success).toBe(true);
  });

  it('validate: the fast data for ordinary records, zod\'s own field errors for the rest', () => {
    expect(validate(recordPatchSchema, { name: ' Ada ', email: 'ADA@EXAMPLE.COM', tags: [' vip '] }, 'record'))
      .toEqual({ name: 'Ada', email: 'ada@example.com', tags: ['vip'] });
    const failure = (() => {
      try {
        validate(recordPatchSchema, { name: ' ', email: 'nope', stage: 'Lead', tags: ['a,b'], colour: 'red' }, 'record');
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(CrmsyncError);
    expect((failure as CrmsyncError).code).toBe('ERR_VALIDATION');
    const fields = ((failure as CrmsyncError).details ?? []).map((d) => d.field).sort();
    expect(fields).toEqual(expect.arrayContaining(['email', 'name', 'stage', 'tags.0']));
  });

  it('valueFits says what safeParse says, optional schemas and undefined included (seeded)', () => {
    const view = recordViewSchema.shape;
    const schemas = [view.email, view.phone, view.stage, view.title, view.name, view.address.shape.city, view.tags.element, view.notes, view.custom, view.interactions];
    fc.assert(fc.property(valueArb, (value) => {
      for (const schema of schemas) expect(valueFits(schema, value)).toBe(schema.safeParse(value).success);
    }), { seed: 9191, numRuns: 2000 });
  });
});
