/**
 * A typical customer export, as a user meets it through the executable: `--infer`
 * decides date order from the values (and says when it cannot), makes phone numbers
 * lenient with a default country, proposes a source name without the file's date, and
 * explains itself on stderr. The proposed mapping imports the May file as it is, the
 * June file lands on the same records, dates are stored and exported as ISO text,
 * phone extensions survive, and exported CSV escapes formula-leading cells.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer } from '../../src/api/server.js';
import { run } from '../../src/cli/program.js';
import { importRecordId, type ImportReport, type MappingInput } from '../../src/migrate/import/index.js';
import { memoryIo } from '../cli/helpers.js';
import { crmsync, fixture, initDataDir, PROCESS_TIMEOUT_MS } from './cli-process.js';
import { nodeOfDataDir } from './helpers.js';
import { tempDirs } from './import-helpers.js';

const dirs = tempDirs();
let dir: string;
let dataDir: string;
let mappingFile: string;
beforeAll(async () => {
  dir = await dirs.make();
  dataDir = await initDataDir(join(dir, 'node'), 'infer');
  mappingFile = join(dir, 'customers.mapping.json');
});
afterAll(() => dirs.cleanup());

const MAY = fixture('customers-2024-05.csv');
const JUNE = fixture('customers-2024-06.csv');
const id = (key: string) => importRecordId('customers', key);

describe('a typical customer export', () => {
  it('--infer proposes a mapping and says what it decided and why', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const result = await crmsync(['import', '--infer', MAY]);
    expect(result.code).toBe(0);
    const mapping = JSON.parse(result.stdout) as MappingInput;
    expect(mapping.sourceName).toBe('customers');
    expect(mapping.defaults).toEqual({ phoneCountry: 'DE' });
    expect(mapping.fields).toMatchObject({
      phone: { column: 'Phone', transforms: [{ phone: { invalid: 'keep' } }] },
      'custom.signupDate': { column: 'Signup Date', transforms: [{ date: { format: 'dd-MM-yyyy' } }] },
      'custom.lastContact': { column: 'Last Contact', transforms: [{ date: { format: 'MM/dd/yyyy' } }] },
    });
    expect(mapping.decisions).toEqual(expect.arrayContaining([
      expect.objectContaining({ field: 'sourceName', decision: '"customers"' }),
      expect.objectContaining({ field: 'custom.signupDate', decision: 'day first: dd-MM-yyyy', why: expect.stringContaining('3 of 6 sample values have a first part above 12') }),
      expect.objectContaining({ field: 'custom.lastContact', ambiguous: true, why: expect.stringContaining('cannot tell day and month apart') }),
      expect.objectContaining({ field: 'phone', why: expect.stringContaining('2 of 6 sample values would not normalise') }),
    ]));
    expect(result.stderr).toContain('sourceName: "customers" (the file name customers-2024-05.csv without dates and numbers');
    expect(result.stderr).toContain('custom.signupDate ← "Signup Date": day first: dd-MM-yyyy');
    expect(result.stderr).toContain('CHECK custom.lastContact ← "Last Contact": assumed month first: MM/dd/yyyy');
    expect(result.stderr).toContain('1 decision could not be made from the values');
    await writeFile(mappingFile, result.stdout);
  });

  it('imports the May export as it is, keeping phone numbers it cannot normalise', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const result = await crmsync(['import', MAY, '--mapping', mappingFile, '-d', dataDir, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout) as ImportReport).toMatchObject({
      sourceName: 'customers', read: 6, created: 6, rejected: 0, keptRaw: [{ field: 'phone', keptIn: 'custom.phone_raw', rows: 2 }],
    });
  });

  it('imports the June export onto the same records: one new customer, one changed', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const result = await crmsync(['import', JUNE, '--mapping', mappingFile, '-d', dataDir, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout) as ImportReport).toMatchObject({ read: 7, created: 1, updated: 1, unchanged: 5, rejected: 0 });
  });

  it('stores dates as ISO text and phone extensions in libphonenumber notation; shows them so', async () => {
    const node = await nodeOfDataDir(dataDir, 'infer');
    const server = await createApiServer(node, { token: 'test-token-0123456789' });
    try {
      expect(await node.records.get(id('C-002'))).toMatchObject({
        phone: '+12125550100 ext. 123', company: 'Acme Corp', stage: 'customer', custom: { signupDate: '2023-02-05', lastContact: '2024-11-06' },
      });
      expect(await node.records.get(id('C-004'))).toMatchObject({ phone: '+49891234567 ext. 44', stage: 'churned' });
      expect(await node.records.get(id('C-007'))).toMatchObject({ phone: '+49407654321 ext. 12' });
      const chloe = await node.records.get(id('C-003'));
      expect(chloe?.phone).toBeUndefined();
      expect(chloe?.custom).toMatchObject({ phone_raw: 'ask reception', signupDate: '2023-03-17' });
      const io = memoryIo();
      expect(await run(['records', 'get', id('C-001'), '--api', server.url, '--token', 'test-token-0123456789'], io)).toBe(0);
      expect(io.stdout).toContain('2023-01-31');
      expect(io.stdout).not.toMatch(/16751\d{8}/);
      // The record schema takes libphonenumber's extension notation from any writer.
      const put = memoryIo();
      expect(await run(['records', 'put', 'ext-1', '--data', '{"name":"Ext","phone":"+1 212 555 0100 ext. 44"}', '--api', server.url, '--token', 'test-token-0123456789'], put)).toBe(0);
      expect(await node.records.get('ext-1')).toMatchObject({ phone: '+1 212 555 0100 ext. 44' });
      await node.records.delete('ext-1'); // not one of the export's customers
    } finally {
      await server.close();
      await node.close();
    }
  });

  it('exports ISO dates and escaped formula-leading cells by default; --no-escape-formulas keeps them', { timeout: PROCESS_TIMEOUT_MS * 2 }, async () => {
    const plain = await crmsync(['export', '-d', dataDir]);
    expect(plain.code).toBe(0);
    const rows = parse(plain.stdout, { columns: true }) as Record<string, string>[];
    const bob = rows.find((r) => r.id === id('C-002'))!;
    expect(bob).toMatchObject({ phone: "'+12125550100 ext. 123", 'custom.signupDate': '2023-02-05', 'custom.lastContact': '2024-11-06' });

    const raw = join(dir, 'raw.csv');
    expect((await crmsync(['export', '-d', dataDir, '--mapping', mappingFile, '--no-escape-formulas', '--out', raw])).code).toBe(0);
    const back = parse(await readFile(raw, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(back.find((r) => r['Customer No'] === 'C-002')).toMatchObject({ Phone: '+12125550100 ext. 123', 'Signup Date': '05-02-2023', 'Last Contact': '11/06/2024' });

    // The default (escaped) export imports back onto the same records, unchanged.
    const escaped = join(dir, 'escaped.csv');
    expect((await crmsync(['export', '-d', dataDir, '--mapping', mappingFile, '--out', escaped])).code).toBe(0);
    expect(await readFile(escaped, 'utf8')).toContain("'+12125550100 ext. 123");
    const again = await crmsync(['import', escaped, '--mapping', mappingFile, '-d', dataDir, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout) as ImportReport).toMatchObject({ read: 7, created: 0, updated: 0, unchanged: 7 });
  });
});
