/**
 * Export columns and import targets follow the record schema: a field added there is
 * exported and importable without an edit in src/migrate (CONTRIBUTING.md, "Adding a
 * record field").
 */
import { describe, expect, it } from 'vitest';
import { ADDRESS_FIELDS, ATOMIC_FIELDS, type RecordView } from '../../src/index.js';
import { defaultColumns, defaultObject, defaultRow } from '../../src/migrate/export-columns.js';
import { inferMapping } from '../../src/migrate/mapping/infer.js';
import { parseMapping } from '../../src/migrate/mapping/load.js';
import { isTarget } from '../../src/migrate/mapping/schema.js';

const view = {
  id: 'r1', name: 'Ada', address: {}, tags: [], notes: '', interactions: 0, custom: {},
  createdAt: 0, updatedAt: 0, deleted: false, conflicts: [],
  ...Object.fromEntries(ATOMIC_FIELDS.filter((f) => f !== 'name').map((f) => [f, `${f} value`])),
} as unknown as RecordView;

describe('every atomic field of the record schema', () => {
  it('is a default export column and an NDJSON key, holding the value', () => {
    const columns = defaultColumns([]);
    const row = defaultRow(view);
    const object = defaultObject(view);
    for (const field of ATOMIC_FIELDS) {
      expect(columns).toContain(field);
      expect(row[field]).toBe(field === 'name' ? 'Ada' : `${field} value`);
      expect(object[field]).toBe(row[field]);
    }
    expect(columns.filter((c) => c.startsWith('address.'))).toEqual(ADDRESS_FIELDS.map((f) => `address.${f}`));
  });

  it('is a mapping target; a name that is no field is refused', () => {
    for (const field of ATOMIC_FIELDS) expect(isTarget(field)).toBe(true);
    expect(() => parseMapping({ fields: Object.fromEntries(ATOMIC_FIELDS.map((f) => [f, { column: f }])) })).not.toThrow();
    expect(() => parseMapping({ fields: { websight: { column: 'Web' } } })).toThrow(/unknown record field "websight"/);
  });

  it('is inferred from a column named after it', () => {
    const headers = ATOMIC_FIELDS.map((f) => f.toUpperCase());
    const { fields } = inferMapping(headers);
    for (const field of ATOMIC_FIELDS) expect(fields[field]).toMatchObject({ column: field.toUpperCase() });
  });
});
