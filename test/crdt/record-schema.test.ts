/**
 * upsertMany creates a record from a validated patch without parsing it again as an
 * input when `patchIsInput` says the patch already is one (record-schema.ts). Random
 * patches, valid and not, hold that shortcut to the input schema itself.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { patchIsInput, recordInputSchema, recordPatchSchema } from '../../src/crdt/record-schema.js';

const text = fc.oneof(fc.constantFrom('Ada', '  Ada  ', '', ' ', 'A'.repeat(201), 'ALICE@EXAMPLE.COM ', '+49 30 1234567', 'lead', 'won'), fc.string({ maxLength: 12 }));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
/** Mostly `valid` (most patches pass), sometimes any text. */
const field = (...valid: string[]) => maybe(fc.option(fc.oneof({ arbitrary: fc.constantFrom(...valid), weight: 8 }, { arbitrary: text, weight: 1 }), { freq: 8 }));
const fieldsArb = fc.record({
  name: maybe(fc.oneof({ arbitrary: fc.constantFrom('Ada', '  Ada  '), weight: 8 }, { arbitrary: text, weight: 1 })),
  email: field('ALICE@EXAMPLE.COM ', 'a@b.example'), phone: field('+49 30 1234567'), company: field('Acme', ' Acme '),
  stage: field('lead', 'won'), territory: field('North'),
  address: maybe(fc.option(fc.record({ city: field('Berlin'), country: maybe(fc.constantFrom('DE', 'x'.repeat(57))) }))),
  tags: maybe(fc.array(fc.constantFrom('vip', ' vip ', 'a,b', 'trade fair'), { maxLength: 3 })),
  interactions: maybe(fc.integer({ min: -1, max: 5 })),
  notes: maybe(fc.string({ maxLength: 20 })),
  custom: maybe(fc.dictionary(fc.constantFrom('tier', 'score', ''), fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.boolean(), fc.constant(null)))),
  reopen: maybe(fc.boolean()),
}, { requiredKeys: [] });
/** Keys only a patch may have, in one patch of five or so. */
const patchOnlyArb = fc.record({
  addTags: maybe(fc.array(fc.constantFrom('vip', 'new'), { maxLength: 2 })),
  removeTags: maybe(fc.array(fc.constantFrom('vip'), { maxLength: 1 })),
  incrementInteractions: maybe(fc.integer({ min: -3, max: 3 })),
}, { requiredKeys: [] });
const patchArb = fc.tuple(fieldsArb, fc.option(patchOnlyArb, { freq: 5 })).map(([fields, extra]) => ({ ...fields, ...extra }));

describe('patchIsInput', () => {
  it('says a validated patch is a valid input exactly when the input schema takes it (seeded)', () => {
    let asIs = 0;
    let parsed = 0;
    fc.assert(
      fc.property(patchArb, (raw) => {
        const patch = recordPatchSchema.safeParse(raw);
        if (!patch.success) return;
        parsed++;
        const input = recordInputSchema.safeParse({ ...patch.data, id: 'cust-1' });
        const shortcut = patchIsInput(patch.data);
        if (shortcut) asIs++;
        // The shortcut may only skip a parse that would succeed; the other way round a caller parses.
        if (shortcut) expect(input.success).toBe(true);
        if (input.success) expect(shortcut).toBe(true);
      }),
      { seed: 20261201, numRuns: 3000 },
    );
    expect(parsed).toBeGreaterThan(300);
    expect(asIs).toBeGreaterThan(100);
  });
});
