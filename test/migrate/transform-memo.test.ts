import { isValid, parse as parseDate } from 'date-fns';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/index.js';
import { parseMapping } from '../../src/migrate/import/index.js';
import { applyTransform, KeepRawValue, PARSE_MEMO_ENTRIES, TransformError, type Value } from '../../src/migrate/mapping/transforms.js';

// Dates and phones are remembered per text (transforms.ts, PARSE_MEMO_ENTRIES): these
// tests check that a remembered answer is always the answer the parser gives, also after
// the memo has filled up and started again, and for values that fail.

const m = parseMapping({ key: { column: 'id' }, defaults: { phoneCountry: 'DE' }, fields: {}, lookups: {} });

/** The outcome of a step: its value, or the class and message of its error. */
function outcome(step: Parameters<typeof applyTransform>[0], value: Value): unknown {
  try {
    return applyTransform(step, value, m);
  } catch (err) {
    if (err instanceof KeepRawValue) return { kept: err.raw, keepIn: err.keepIn, reason: err.message };
    if (err instanceof TransformError) return { rejected: err.message };
    throw err;
  }
}

/** date-fns directly: the day of a dd.MM.yyyy text as ISO, or undefined. */
function referenceDay(text: string): string | undefined {
  const parsed = parseDate(text, 'dd.MM.yyyy', new Date(0));
  return isValid(parsed) ? new Date(Date.UTC(parsed.getFullYear(), parsed.getMonth(), parsed.getDate())).toISOString().slice(0, 10) : undefined;
}

/** libphonenumber directly: E.164, or undefined. */
function referencePhone(text: string): string | undefined {
  const phone = parsePhoneNumberFromString(text, 'DE');
  return phone && phone.isValid() ? phone.number : undefined;
}

describe('remembered parses', () => {
  it('give the parser\'s own answer for dates, through more distinct values than the memo holds', () => {
    const rnd = seededRandom(7);
    const pad = (n: number) => String(n).padStart(2, '0');
    const texts = Array.from({ length: PARSE_MEMO_ENTRIES * 2 + 500 }, (_, i) => {
      // Days 1 to 31 of every month: some do not exist (31.02.), and those must keep failing.
      const day = 1 + Math.floor(rnd() * 31);
      return `${pad(day)}.${pad(1 + (i % 12))}.${1900 + Math.floor(rnd() * 200)}`;
    });
    let rejected = 0;
    // Each text twice, the second time long after the first (the memo has started again
    // in between for most of them), and a few straight after (a hit).
    for (const text of [...texts, ...texts, ...texts.slice(0, 300)]) {
      const expected = referenceDay(text);
      const got = outcome({ date: { format: 'dd.MM.yyyy' } }, ` ${text} `);
      if (expected === undefined) {
        rejected++;
        expect(got).toEqual({ rejected: `"${text}" is not a date in the format dd.MM.yyyy` });
      } else expect(got).toBe(expected);
    }
    expect(rejected).toBeGreaterThan(0);
  });

  it('keep a date\'s time of day per format, and the same text read in another format reads differently', () => {
    expect(outcome({ date: { format: 'dd.MM.yyyy' } }, '03.04.2024')).toBe('2024-04-03');
    expect(outcome({ date: { format: 'MM.dd.yyyy' } }, '03.04.2024')).toBe('2024-03-04');
    expect(outcome({ date: { format: "dd.MM.yyyy 'T' HH:mm" } }, '03.04.2024 T 10:30')).toBe('2024-04-03T10:30:00.000Z');
    expect(outcome({ date: { format: "dd.MM.yyyy 'at noon'" } }, '03.04.2024 at noon')).toBe('2024-04-03');
    expect(outcome('date', '2024-04-03')).toBe('2024-04-03');
    expect(outcome('date', '2024-04-03 10:30')).toBe('2024-04-03T10:30:00.000Z');
    expect(outcome('date', '1712140200000')).toBe('2024-04-03T10:30:00.000Z');
    expect(outcome({ date: { format: 'dd.MM.yyyy' } }, '2024-04-03')).toEqual({ rejected: '"2024-04-03" is not a date in the format dd.MM.yyyy' });
  });

  it('give libphonenumber\'s answer for phones, valid and not, rejected or kept as the step says', () => {
    const rnd = seededRandom(11);
    const texts = Array.from({ length: PARSE_MEMO_ENTRIES + 700 }, (_, i) =>
      i % 7 === 0 ? `0${Math.floor(rnd() * 1000)}` : `030 ${1000000 + Math.floor(rnd() * 8999999)}`);
    let invalid = 0;
    for (const text of [...texts, ...texts.slice(0, 1000)]) {
      const expected = referencePhone(text);
      const reason = `"${text}" is not a valid phone number (default country DE)`;
      if (expected === undefined) {
        invalid++;
        expect(outcome('phone', text)).toEqual({ rejected: reason });
        // The same remembered failure, under a step that keeps invalid numbers raw.
        expect(outcome({ phone: { invalid: 'keep', keepIn: 'custom.tel' } }, text)).toEqual({ kept: text, keepIn: 'custom.tel', reason });
      } else expect(outcome('phone', text)).toBe(expected);
    }
    expect(invalid).toBeGreaterThan(0);
    // The default country is part of what is remembered: the same text, another country.
    expect(outcome('phone', '020 7946 0018')).toBe('+492079460018');
    expect(outcome({ phone: { defaultCountry: 'GB' } }, '020 7946 0018')).toBe('+442079460018');
  });
});

describe('lookup tables', () => {
  it('match trimmed and case-blind, the first of equal source values winning, then the "*" fallback', () => {
    const tables = parseMapping({
      key: { column: 'id' }, fields: {},
      lookups: { stage: { ' Client ': 'customer', client: 'lead', Prospect: 'lead', '*': 'other' }, strict: { a: 'x' } },
    });
    const look = (table: string, value: string) => {
      try {
        return applyTransform({ lookup: table }, value, tables);
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(look('stage', 'CLIENT')).toBe('customer');
    expect(look('stage', '  prospect ')).toBe('lead');
    expect(look('stage', 'Mars')).toBe('other');
    expect(look('strict', ' A ')).toBe('x');
    expect(look('strict', 'b')).toBe('"b" is not in lookup table "strict" (add it, or a "*" entry as the fallback)');
    expect(look('missing', 'b')).toBe('"b" is not in lookup table "missing" (add it, or a "*" entry as the fallback)');
  });
});
