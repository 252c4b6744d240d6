import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyView } from '../../src/crdt/record-state.js';
import type { RecordView } from '../../src/crdt/record-schema.js';
import { encodeIndexValue, indexDelta, indexKeysOf, MAX_TEXT_TOKENS, textTokens, type TextSource } from '../../src/store/indexes.js';
import type { RecordId } from '../../src/types.js';

// Few values per field, so that pairs of views often share some and differ in others:
// unchanged name with a changed stage, the same token from two fields, '/' and '%' in values.
const text = fc.constantFrom(undefined, '', 'Ada Lovelace', 'ada', 'Grace / Hopper', 'Émile Zoë', '100% Acme', 'Acme Corp', '株式会社 東京', '😀 emoji');
const email = fc.constantFrom(undefined, 'ada@acme.com', 'ADA@acme.com', 'grace@globex.example', 'x@y', 'ada.lovelace@acme.com');
const view = fc.record({
  id: fc.constantFrom('cust-1', 'cust-2'),
  name: text.map((t) => t ?? ''),
  company: text,
  email,
  territory: fc.constantFrom(undefined, 'emea', 'apac', 'a/b'),
  owner: fc.constantFrom(undefined, 'alice', 'bob'),
  stage: fc.constantFrom<RecordView['stage']>(undefined, 'lead', 'won'),
  updatedAt: fc.constantFrom(0, 1, 1_796_141_255_228),
  conflicts: fc.constantFrom<string[]>([], ['title'], ['title', 'stage']),
}).map(({ id, company, email: mail, territory, owner, stage, ...rest }): RecordView => ({
  ...emptyView(id as RecordId), ...rest,
  ...(company !== undefined ? { company } : {}), ...(mail !== undefined ? { email: mail } : {}),
  ...(territory !== undefined ? { territory } : {}), ...(owner !== undefined ? { owner } : {}), ...(stage !== undefined ? { stage } : {}),
}));

/** The keys the store holds after applying a delta to the keys of `before`. */
function applied(before: RecordView | undefined, after: RecordView): Set<string> {
  const keys = indexKeysOf(before);
  const { removed, added } = indexDelta(before, after);
  for (const key of removed) {
    expect(keys.has(key)).toBe(true); // never deletes a key it did not put
    keys.delete(key);
  }
  for (const key of added) {
    expect(keys.has(key)).toBe(false); // never puts a key already there
    keys.add(key);
  }
  return keys;
}

describe('indexDelta', () => {
  it('turns the keys of any view into exactly the keys of any next view (seeded)', () => {
    // The next view takes each field from `other` or keeps it: most pairs share some fields.
    const FIELDS = ['id', 'name', 'company', 'email', 'territory', 'owner', 'stage', 'updatedAt', 'conflicts'] as const;
    const next = (before: RecordView, other: RecordView, take: boolean[]): RecordView => {
      const after: Record<string, unknown> = { ...before };
      FIELDS.forEach((field, i) => {
        if (!take[i]) return;
        if (other[field] === undefined) delete after[field];
        else after[field] = other[field];
      });
      return after as RecordView;
    };
    let unchangedText = 0;
    fc.assert(
      fc.property(fc.boolean(), view, view, fc.array(fc.boolean(), { minLength: FIELDS.length, maxLength: FIELDS.length }), (fresh, before, other, take) => {
        const after = next(before, other, take);
        if (fresh) {
          expect([...applied(undefined, after)].sort()).toEqual([...indexKeysOf(after)].sort());
          return;
        }
        if (before.id === after.id && before.name === after.name && before.company === after.company && before.email === after.email) unchangedText++;
        expect([...applied(before, after)].sort()).toEqual([...indexKeysOf(after)].sort());
      }),
      { seed: 20261201, numRuns: 5000 },
    );
    // The shortcut (tokens not derived again) must have been taken often, not only the full path.
    expect(unchangedText).toBeGreaterThan(200);
  });

  it('leaves the search keys alone when only an equality field changes', () => {
    const before: RecordView = { ...emptyView('cust-1' as RecordId), name: 'Ada Lovelace', email: 'ada@acme.com', stage: 'lead', updatedAt: 1 };
    const after: RecordView = { ...before, stage: 'won', updatedAt: 2 };
    expect(indexDelta(before, after)).toEqual({
      removed: ['stage/lead/cust-1', `updated/${'1'.padStart(12, '0')}/cust-1`],
      added: ['stage/won/cust-1', `updated/${'2'.padStart(12, '0')}/cust-1`],
    });
  });

  it('indexes the first MAX_TEXT_TOKENS search tokens of a long name, in order, and no more', () => {
    // Each token an index write: the cap bounds what one change may cost (src/limits.ts).
    const words = Array.from({ length: MAX_TEXT_TOKENS + 20 }, (_, i) => `word${i}`);
    const long: RecordView = { ...emptyView('cust-1' as RecordId), name: words.join(' '), email: 'ada@acme.com' };
    expect(textTokens(long)).toEqual(words.slice(0, MAX_TEXT_TOKENS));
    const textKeys = [...indexKeysOf(long)].filter((key) => key.startsWith('text/'));
    expect(textKeys).toEqual(words.slice(0, MAX_TEXT_TOKENS).map((word) => `text/${word}/cust-1`));
    expect(indexDelta(undefined, long).added.filter((key) => key.startsWith('text/'))).toEqual(textKeys);
  });

  it('finds the words the Unicode path finds, and encodes values as encodeURIComponent does, in any text (seeded)', () => {
    // The fast paths (ASCII words without NFKC or the Unicode split; values needing no
    // escape as they are) against what they shortcut. Characters chosen to hit the edges:
    // separators, digits, 'K' (Kelvin) and 'İ' whose lower case is or is not ASCII, a
    // ligature and a full-width letter that NFKC changes, a lone surrogate, an emoji.
    const char = fc.constantFrom(...'aZ09 ._-~*()!\'/%@+,é\u212aİﬁＡ\ud800😀東'.split(''), 'x', 'Y', ' ');
    const textOf = fc.string({ unit: char, maxLength: 24 });
    const wordsOf = (value: string | undefined) => (value ?? '').toLowerCase().normalize('NFKC').split(/[^\p{L}\p{N}]+/u).filter((w) => w.length >= 2);
    fc.assert(fc.property(textOf, fc.option(textOf, { nil: undefined }), (name, company) => {
      const source: TextSource = { id: 'cust-1' as RecordId, name, ...(company !== undefined ? { company } : {}) };
      expect(textTokens(source)).toEqual([...new Set([...wordsOf(name), ...wordsOf(company)])].slice(0, MAX_TEXT_TOKENS));
    }), { seed: 20261204, numRuns: 2_000 });
    fc.assert(fc.property(textOf, (value) => {
      let expected: string | Error;
      try {
        expected = encodeURIComponent(value);
      } catch (err) {
        expected = err as Error; // a lone surrogate: both throw
      }
      if (expected instanceof Error) expect(() => encodeIndexValue(value)).toThrow(URIError);
      else expect(encodeIndexValue(value)).toBe(expected);
    }), { seed: 20261204, numRuns: 2_000 });
  });
});
