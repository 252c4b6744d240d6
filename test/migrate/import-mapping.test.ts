import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { RecordView } from '../../src/index.js';
import { inferMapping, mapRow, parseMapping, reverseColumns, reverseMap } from '../../src/migrate/import/index.js';
import { applyTransform, parseDateValue, splitName, titleCase } from '../../src/migrate/mapping/transforms.js';

const m = parseMapping({ key: { column: 'id' }, defaults: { phoneCountry: 'GB' }, fields: {}, lookups: { t: { North: 'n', '*': 'other' } } });

describe('transforms', () => {
  it('cleans text, names, e-mails and phones', () => {
    expect(applyTransform('collapse', '  a \t b  ', m)).toBe('a b');
    expect(titleCase("o'NEIL-smith jr")).toBe("O'Neil-Smith Jr");
    expect(splitName('Lovelace, Ada')).toEqual({ first: 'Ada', last: 'Lovelace' });
    expect(splitName('Ada King Lovelace')).toEqual({ first: 'Ada King', last: 'Lovelace' });
    expect(applyTransform('email', ' Ada@Example.COM ', m)).toBe('ada@example.com');
    expect(() => applyTransform('email', 'ada@', m)).toThrow('not a valid e-mail');
    expect(applyTransform('phone', '020 7946 0018', m)).toBe('+442079460018');
    expect(applyTransform({ phone: { defaultCountry: 'DE' } }, '(030) 123 4567', m)).toBe('+49301234567');
    expect(() => applyTransform('phone', '12', m)).toThrow('not a valid phone number');
  });

  it('parses dates in a stated format as UTC, whatever the machine time zone', () => {
    expect(parseDateValue('24.12.2023', 'dd.MM.yyyy')).toBe(Date.UTC(2023, 11, 24));
    expect(parseDateValue('12/24/2023 18:30', 'MM/dd/yyyy HH:mm')).toBe(Date.UTC(2023, 11, 24, 18, 30));
    expect(parseDateValue('2023-12-24')).toBe(Date.UTC(2023, 11, 24));
    expect(parseDateValue('2023-12-24T10:00:00+02:00')).toBe(Date.UTC(2023, 11, 24, 8));
    expect(() => parseDateValue('31.02.2023', 'dd.MM.yyyy')).toThrow('not a date in the format dd.MM.yyyy');
  });

  it('converts numbers and booleans, looks up tables with a fallback', () => {
    expect(applyTransform('number', '1,5', m)).toBe(1.5);
    expect(() => applyTransform('integer', '1.5', m)).toThrow('not an integer');
    expect(applyTransform('boolean', 'Ja', m)).toBe(true);
    expect(applyTransform({ lookup: 't' }, ' north ', m)).toBe('n');
    expect(applyTransform({ lookup: 't' }, 'Mars', m)).toBe('other');
    expect(applyTransform('tags', 'a, b;c', m)).toEqual(['a', 'b', 'c']);
  });
});

describe('mapping', () => {
  it('validates the file with paths to each mistake', () => {
    expect(() => parseMapping({ fields: { nmae: { column: 'x' } } })).toThrow(/fields\.nmae: unknown record field/);
    expect(() => parseMapping({ key: { column: 'id' }, fields: { name: { column: 'a', const: 'b' } } })).toThrow(/exactly one of column, columns or const/);
    expect(() => parseMapping({ key: { column: 'id' }, fields: { stage: { column: 's', transforms: [{ lookup: 'x' }] } }, lookups: { x: { a: 'nope' } } })).toThrow(/values must be stages/);
    expect(() => parseMapping({ fields: { name: { column: 'n' } } })).toThrow(/key: the key is the e-mail/);
  });

  it('maps a row: joins, constants, defaults, empty cells left alone or cleared, custom fields', () => {
    const mapping = parseMapping({
      key: { column: 'id' },
      fields: {
        name: { columns: ['first', 'last'] },
        territory: { const: 'emea' },
        owner: { column: 'owner', default: 'unassigned' },
        title: { column: 'title', empty: 'clear' },
        company: { column: 'company' },
        'custom.score': { column: 'score', transforms: ['number'] },
      },
    });
    expect(mapRow({ id: ' 7 ', first: 'Ada', last: '', owner: '', title: ' ', company: '', score: '4.5' }, mapping)).toEqual({
      ok: true, key: '7', kept: [], patch: { name: 'Ada', territory: 'emea', owner: 'unassigned', title: null, custom: { score: 4.5 } },
    });
    expect(mapRow({ id: '8', score: 'high' }, mapping)).toEqual({ ok: false, field: 'custom.score', reason: '"high" is not a number' });
  });

  it('runs in reverse for export: lookups inverted, dates formatted, joined names split', () => {
    const mapping = parseMapping({
      key: { column: 'Customer ID' },
      fields: {
        name: { columns: ['First Name', 'Last Name'] },
        'custom.firstName': { column: 'First Name', transforms: ['firstName'] },
        email: { column: 'E-mail', transforms: ['email'] },
        stage: { column: 'Status', transforms: [{ lookup: 's' }] },
        'custom.since': { column: 'Since', transforms: [{ date: { format: 'dd.MM.yyyy' } }] },
        'custom.sourceId': { column: 'Customer ID' },
        territory: { const: 'emea' },
      },
      lookups: { s: { Prospect: 'lead', Client: 'customer' } },
    });
    const view = {
      id: 'imp_x', name: 'Ada King Lovelace', email: 'ada@example.com', stage: 'customer', address: {}, tags: [], notes: '', interactions: 0,
      custom: { since: Date.UTC(2024, 2, 1), sourceId: '42', firstName: 'Ada' }, createdAt: 0, updatedAt: 0, deleted: false, conflicts: [],
    } as unknown as RecordView;
    expect(reverseColumns(mapping)).toEqual(['First Name', 'Last Name', 'E-mail', 'Status', 'Since', 'Customer ID']);
    expect(reverseMap(view, mapping)).toEqual({
      'First Name': 'Ada King', 'Last Name': 'Lovelace', 'E-mail': 'ada@example.com', Status: 'Client', Since: '01.03.2024', 'Customer ID': '42',
    });
    const back = mapRow(reverseMap(view, mapping), mapping);
    expect(back).toMatchObject({ ok: true, key: '42', patch: { name: 'Ada King Lovelace', stage: 'customer', custom: { since: '2024-03-01' } } });
    // Dates are stored as ISO text; one stored as ms by an older import is formatted the same.
    expect(reverseMap({ ...view, custom: { ...view.custom, since: '2024-03-01' } }, mapping).Since).toBe('01.03.2024');
  });
});

describe('--infer', () => {
  it('proposes a mapping for typical headers', () => {
    const headers = ['Customer No', 'First Name', 'Last Name', 'E-mail', 'Phone 1', 'Phone 2', 'Company', 'Job Title', 'Status', 'Street', 'City', 'ZIP', 'Country', 'Subscription Date', 'Updated At', 'Favourite Colour'];
    const samples = [{ 'Subscription Date': '24.12.2023', 'Updated At': '2024-01-01T10:00:00Z' }, { 'Subscription Date': '01.02.2024', 'Updated At': '2024-01-02T10:00:00Z' }];
    const mapping = inferMapping(headers, samples);
    expect(mapping.key).toEqual({ column: 'Customer No' });
    expect(mapping.watermark).toEqual({ column: 'Updated At' });
    expect(mapping.fields).toMatchObject({
      name: { columns: ['First Name', 'Last Name'] },
      email: { column: 'E-mail', transforms: ['email'] },
      phone: { column: 'Phone 1', transforms: [{ phone: { invalid: 'keep' } }] },
      'custom.phone2': { column: 'Phone 2', transforms: [{ phone: { invalid: 'keep' } }] },
      company: { column: 'Company' },
      title: { column: 'Job Title' },
      stage: { column: 'Status', transforms: [{ lookup: 'stages' }] },
      'address.street': { column: 'Street' },
      'address.city': { column: 'City' },
      'address.postcode': { column: 'ZIP' },
      'address.country': { column: 'Country' },
      'custom.subscriptionDate': { column: 'Subscription Date', transforms: [{ date: { format: 'dd.MM.yyyy' } }] },
      'custom.updatedAt': { column: 'Updated At', transforms: ['date'] },
      'custom.favouriteColour': { column: 'Favourite Colour', transforms: ['trim'] },
      'custom.sourceId': { column: 'Customer No' },
    });
    // What it proposes is a valid mapping once a phone country is chosen.
    expect(() => parseMapping({ ...mapping, defaults: { phoneCountry: 'US' } })).not.toThrow();
    expect(inferMapping(['Name', 'Email']).key).toEqual({ field: 'email' });
    expect(inferMapping(['Name', 'Email']).fields.name).toEqual({ column: 'Name', transforms: ['collapse'] });
  });
});

describe('docs/migration.md', () => {
  it('shows a mapping that validates', () => {
    const doc = readFileSync(new URL('../../docs/migration.md', import.meta.url), 'utf8');
    // The first unindented JSON block is the mapping example (indented ones are fragments).
    const example = /\n```json\n([\s\S]*?)```/.exec(doc)![1]!;
    const mapping = parseMapping(JSON.parse(example));
    expect(mapRow({ 'Customer ID': '9', 'First Name': 'ada', 'Last Name': 'Lovelace', 'E-mail': 'A@X.org', 'Phone 1': '030 1234567', Status: 'client', Region: 'süd', 'Full Name': 'Ada Lovelace', City: 'berlin' }, mapping))
      .toMatchObject({ ok: true, key: '9', patch: { stage: 'customer', territory: 'south', owner: 'unassigned', address: { city: 'Berlin' }, custom: { firstName: 'Ada', importedFrom: 'legacy-crm' } } });
  });
});
