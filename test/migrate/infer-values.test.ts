/** What --infer reads from values: date order from evidence, phone countries, source names. */
import { describe, expect, it } from 'vitest';
import { dateFinding, phoneFinding, sourceNameFrom } from '../../src/migrate/mapping/infer-values.js';

describe('date order from the values', () => {
  it('decides day first or month first from a part above 12, and says when it cannot', () => {
    expect(dateFinding(['01-02-2024', '25-12-2023'])).toMatchObject({ format: 'dd-MM-yyyy', decision: 'day first: dd-MM-yyyy' });
    expect(dateFinding(['02/01/2024', '12/25/2023 14:30'])).toBeUndefined(); // a time on some rows only
    expect(dateFinding(['02/01/2024 09:00', '12/25/2023 14:30'])).toMatchObject({ format: 'MM/dd/yyyy HH:mm', decision: 'month first: MM/dd/yyyy HH:mm' });
    expect(dateFinding(['01.02.24', '03.04.24'])).toMatchObject({ format: 'dd.MM.yy', ambiguous: true });
    expect(dateFinding(['01/02/2024'])).toMatchObject({ format: 'MM/dd/yyyy', ambiguous: true });
    expect(dateFinding(['2024-05-31', '2024-05-31T10:00:00Z'])).toMatchObject({ format: undefined, decision: 'ISO 8601 dates' });
    // Both orders are contradicted: not one date format.
    expect(dateFinding(['13-01-2024', '01-13-2024'])).toBeUndefined();
    expect(dateFinding(['01-02-2024', '01.02.2024'])).toBeUndefined();
    expect(dateFinding(['n/a'])).toBeUndefined();
  });
});

describe('phone numbers', () => {
  it('finds the one country that makes national numbers valid, and counts the rest', () => {
    expect(phoneFinding(['+49 30 1234567', '+1 212 555 0100'])).toMatchObject({ country: undefined, invalid: 0, ambiguous: false });
    expect(phoneFinding(['(212) 555-0100', '+44 20 7946 0018', 'call me'], 'US')).toMatchObject({ country: 'US', invalid: 1 });
    expect(phoneFinding(['nothing', 'here'])).toMatchObject({ country: undefined, invalid: 2, ambiguous: true });
  });
});

describe('source names from file names', () => {
  it.each([
    ['customers-2024-05.csv', 'customers'],
    ['customers-2024-06.csv', 'customers'],
    ['crm_export_20240501_v2.csv', 'crm_export'],
    ['Kunden Mai 2024.csv', 'Kunden'],
    ['export (1).json', 'export'],
    ['contacts2024Q1.ndjson', 'contacts'],
    ['2024-05-01.csv', 'import'],
  ])('%s → %s', (file, name) => {
    expect(sourceNameFrom(file)).toBe(name);
  });
});
