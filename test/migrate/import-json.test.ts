import { describe, expect, it } from 'vitest';
import { importRecordId, type MappingInput } from '../../src/migrate/import/index.js';
import { addsUp, file, importFile, importHarness } from './import-helpers.js';

const { dirs, node } = importHarness();

/** An API dump: nested objects are read as dotted columns. */
const DUMP_MAPPING: MappingInput = {
  key: { column: 'id' },
  fields: {
    name: { column: 'fullName', transforms: ['collapse', 'title'] },
    email: { column: 'contact.email', transforms: ['email'] },
    'address.city': { column: 'contact.address.city' },
    tags: { column: 'labels' },
    interactions: { column: 'touches', transforms: ['integer'] },
    'custom.vip': { column: 'vip', transforms: ['boolean'] },
    'custom.signedUp': { column: 'signedUp', transforms: [{ date: { format: 'dd/MM/yyyy' } }] },
  },
};

const people = [
  { id: 'a-1', fullName: 'ada  LOVELACE', contact: { email: 'Ada@Example.com', address: { city: 'London' } }, labels: ['vip', 'math'], touches: '3', vip: 'yes', signedUp: '10/12/1843' },
  { id: 'a-2', fullName: "mary o'brien-smith", contact: { email: 'mary@example.com' }, labels: [], touches: 0, vip: false, signedUp: '01/01/2020' },
  { id: 'a-3', fullName: 'No Mail', contact: { email: 'not mail' } },
];

describe('JSON and NDJSON import', () => {
  it('streams a JSON array of nested objects', async () => {
    const dir = await dirs.make();
    const path = await file(dir, 'dump.json', JSON.stringify(people, null, 2));
    const n = await node();
    const report = await importFile(n, path, DUMP_MAPPING);
    expect(addsUp(report)).toBe(true);
    expect(report).toMatchObject({ read: 3, created: 2, rejected: 1 });
    expect(report.rejects[0]).toMatchObject({ row: 3, field: 'email' });
    expect(await n.records.get(importRecordId('legacy', 'a-1'))).toMatchObject({
      name: 'Ada Lovelace', email: 'ada@example.com', address: { city: 'London' }, tags: ['math', 'vip'], interactions: 3,
      custom: { vip: true, signedUp: '1843-12-10' },
    });
    expect(await n.records.get(importRecordId('legacy', 'a-2'))).toMatchObject({ name: "Mary O'Brien-Smith", interactions: 0, custom: { vip: false } });
  });

  it('rejects a JSON array element that is not an object, and refuses a broken document', async () => {
    const dir = await dirs.make();
    const mixed = await file(dir, 'mixed.json', JSON.stringify([people[0], 42, null]));
    const report = await importFile(await node(), mixed, DUMP_MAPPING);
    expect(report).toMatchObject({ read: 3, created: 1, rejected: 2 });
    expect(report.rejects.map((r) => r.reason)).toEqual(['array element 2 is number, not an object', 'array element 3 is null, not an object']);
    const broken = await file(dir, 'broken.json', '[{"id": "x", "fullName": "X"}, {"id": ');
    await expect(importFile(await node(), broken, DUMP_MAPPING)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('reads NDJSON line by line; a bad line is a rejected row with its line number', async () => {
    const dir = await dirs.make();
    const lines = [JSON.stringify(people[0]), '', '{"id": "b-2", "fullName": "Half', JSON.stringify(people[1]), '[1,2]'];
    const path = await file(dir, 'dump.ndjson', `\ufeff${lines.join('\r\n')}\r\n`);
    const n = await node();
    const report = await importFile(n, path, DUMP_MAPPING);
    expect(addsUp(report)).toBe(true);
    expect(report).toMatchObject({ read: 4, created: 2, rejected: 2 });
    expect(report.rejects).toMatchObject([
      { row: 2, line: 3, field: '(row)', reason: expect.stringContaining('invalid JSON') },
      { row: 4, line: 5, reason: 'line holds an array, not an object' },
    ]);
    expect(await importFile(n, path, DUMP_MAPPING)).toMatchObject({ created: 0, updated: 0, unchanged: 2, rejected: 2 });
  });
});
