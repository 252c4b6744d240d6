/**
 * Export through an import mapping run in reverse: a CSV imported with a mapping,
 * exported with the same mapping, imports again as "nothing changed", and into an empty
 * node as the same records.
 */
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CrmNode, RecordView } from '../../src/index.js';
import { mappingMapper } from '../../src/migrate/export-mapping.js';
import { exportRecords, nodePages } from '../../src/migrate/export.js';
import { nodeSink, openSource, parseMapping, runImport } from '../../src/migrate/import/index.js';
import { listAll, nodeAt, tempDir } from './helpers.js';

let dir: string;
let remove: () => Promise<void>;
const nodes: CrmNode[] = [];
beforeEach(async () => {
  ({ dir, remove } = await tempDir('crmsync-export-map-'));
});
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
  await remove();
});

const mapping = parseMapping({
  sourceName: 'legacy',
  key: { column: 'Customer ID' },
  fields: {
    name: { columns: ['First Name', 'Last Name'] },
    email: { column: 'E-mail', transforms: ['email'] },
    company: { column: 'Company' },
    stage: { column: 'Status', transforms: [{ lookup: 'stages' }] },
    'custom.legacyId': { column: 'Customer ID' },
  },
  lookups: { stages: { Prospect: 'lead', Client: 'customer' } },
});

const LEGACY = [
  'Customer ID,First Name,Last Name,E-mail,Company,Status',
  '17,Ada,Lovelace,ADA@example.com,"Engines, Ltd.",Prospect',
  '18,Grace,Hopper,grace@example.com,"The ""Navy""",Client',
  '19,Alan,Turing,alan@example.com,"Bletchley\nPark",Prospect',
].join('\r\n');

async function importFile(node: CrmNode, path: string) {
  return runImport({ source: await openSource(path), mapping, sink: nodeSink(node), sourceName: 'legacy' });
}

const mapped = (v: RecordView) => ({ id: v.id, name: v.name, email: v.email, company: v.company, stage: v.stage, custom: v.custom });

describe('export with a mapping', () => {
  it('writes the source columns back, and re-imports as unchanged', async () => {
    const a = await nodeAt(join(dir, 'a'), 'a');
    nodes.push(a);
    const legacy = join(dir, 'legacy.csv');
    await writeFile(legacy, LEGACY);
    expect(await importFile(a, legacy)).toMatchObject({ created: 3, rejected: 0 });

    const exported = join(dir, 'export.csv');
    const out = createWriteStream(exported);
    const result = await exportRecords(nodePages(a), out, { format: 'csv', mapper: mappingMapper(mapping) });
    out.end();
    await finished(out);
    expect(result.columns).toEqual(['First Name', 'Last Name', 'E-mail', 'Company', 'Status', 'Customer ID']);
    const rows = parse(await readFile(exported, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows.find((r) => r['Customer ID'] === '18')).toEqual({
      'First Name': 'Grace', 'Last Name': 'Hopper', 'E-mail': 'grace@example.com', Company: 'The "Navy"', Status: 'Client', 'Customer ID': '18',
    });
    expect(rows.find((r) => r['Customer ID'] === '19')!.Company).toBe('Bletchley\nPark');

    expect(await importFile(a, exported)).toMatchObject({ created: 0, updated: 0, unchanged: 3, rejected: 0 });
    const b = await nodeAt(join(dir, 'b'), 'b');
    nodes.push(b);
    expect(await importFile(b, exported)).toMatchObject({ created: 3 });
    expect((await listAll(b)).map(mapped)).toEqual((await listAll(a)).map(mapped));
  });
});
