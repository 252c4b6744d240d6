/**
 * Real CSV files as the `crmsync` executable meets them: a broken quote (LF and CRLF)
 * rejects its own row only, with the line it starts on, its raw text and what is
 * wrong; mixed line endings; empty, binary and header-only files refused with a clear
 * message before anything is created. Exit codes: 6 when rows were rejected (more than
 * --max-rejects), 0 when within it, 2 when the file cannot be imported at all.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { importRecordId, type ImportReport } from '../../src/migrate/import/index.js';
import { crmsync, fixture, initDataDir, PROCESS_TIMEOUT_MS, tree } from './cli-process.js';
import { tempDirs } from './import-helpers.js';
import { nodeOfDataDir } from './helpers.js';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const MAPPING = fixture('legacy.mapping.json');
const BROKEN = 'unclosed quote opened on line 6 (the next quote, on line 7, is followed by "A" instead of a delimiter)';

async function rejectsOf(path: string): Promise<Record<string, unknown>[]> {
  return (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('CSV files with problems, through the executable', () => {
  it('a bad quote rejects only its row (LF): line, raw text and reason; exit 6', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const dir = await dirs.make();
    const dataDir = await initDataDir(join(dir, 'node'), 'csv-lf');
    const rejects = join(dir, 'r.ndjson');
    const result = await crmsync(['import', fixture('bad-quote.csv'), '--mapping', MAPPING, '-d', dataDir, '--rejects', rejects, '--source-name', 'legacy']);
    expect(result.code).toBe(6);
    expect(result.stdout).toMatch(/rows read\s+6/);
    expect(result.stdout).toMatch(/created\s+5/);
    expect(result.stdout).toContain(`rejected row 4 (line 6): (row): ${BROKEN}: "4,Di,\\"Ross,di@example.com,,Acme,Client"`);
    expect(result.stderr).toContain(`error ERR_REJECTED: 1 of 6 rows were rejected; the others were imported; the rejected rows are in ${rejects}`);
    expect(result.stderr).toContain('hint: ');
    expect(await rejectsOf(rejects)).toEqual([{ row: 4, line: 6, field: '(row)', reason: BROKEN, raw: '4,Di,"Ross,di@example.com,,Acme,Client' }]);
    const node = await nodeOfDataDir(dataDir, 'csv-lf');
    try {
      expect(await node.records.get(importRecordId('legacy', '5'))).toMatchObject({ name: 'Eve Stone', company: 'Acme, Inc.' });
      expect(await node.records.get(importRecordId('legacy', '2'))).toMatchObject({ company: 'Line one line two' });
    } finally {
      await node.close();
    }
  });

  it('the same file with CRLF line ends names the same line; --max-rejects 1 accepts it (exit 0)', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const dir = await dirs.make();
    const dataDir = await initDataDir(join(dir, 'node'), 'csv-crlf');
    const rejects = join(dir, 'r.ndjson');
    const result = await crmsync(['import', fixture('bad-quote-crlf.csv'), '--mapping', MAPPING, '-d', dataDir, '--rejects', rejects, '--max-rejects', '1', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout) as ImportReport).toMatchObject({ read: 6, created: 5, rejected: 1, sampleRejects: [{ line: 6, reason: BROKEN }] });
    expect(await rejectsOf(rejects)).toEqual([{ row: 4, line: 6, field: '(row)', reason: BROKEN, raw: '4,Di,"Ross,di@example.com,,Acme,Client' }]);
  });

  it('reads a file with mixed LF and CRLF line ends', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const dir = await dirs.make();
    const dataDir = await initDataDir(join(dir, 'node'), 'csv-mixed');
    const result = await crmsync(['import', fixture('mixed-endings.csv'), '--mapping', MAPPING, '-d', dataDir, '--json', '--source-name', 'mixed']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout) as ImportReport).toMatchObject({ read: 5, created: 5, rejected: 0 });
    const node = await nodeOfDataDir(dataDir, 'csv-mixed');
    try {
      expect(await node.records.get(importRecordId('mixed', '2'))).toMatchObject({ name: 'Bob Smith', company: 'Two lines' });
      expect(await node.records.get(importRecordId('mixed', '5'))).toMatchObject({ name: 'Eve Stone', stage: 'customer' });
    } finally {
      await node.close();
    }
  });

  it.each([
    ['empty.csv', 'is empty (0 bytes): nothing to import'],
    ['header-only.csv', 'has a header row but no data rows: nothing to import'],
    ['binary.csv', 'is not a text file (it holds NUL bytes)'],
    ['workbook.csv', 'is a ZIP archive (an Excel .xlsx workbook?), not a text file'],
  ])('refuses %s with a clear message, exit 2, and creates nothing', { timeout: PROCESS_TIMEOUT_MS }, async (name, message) => {
    const dir = await dirs.make();
    const dataDir = await initDataDir(join(dir, 'node'), 'csv-bad');
    const before = await tree(dataDir);
    const result = await crmsync(['import', fixture(name), '--mapping', MAPPING, '-d', dataDir]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${fixture(name)} ${message}`);
    // Only printable text: no byte of the file is echoed.
    expect(result.stderr).toMatch(/^[\t\n\x20-\x7e]*$/);
    expect(await tree(dataDir)).toEqual(before);
  });
});

describe('exit status of a dry run', () => {
  it('says so and exits 6 when every row would be rejected; --max-rejects is checked', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const dir = await dirs.make();
    const dataDir = await initDataDir(join(dir, 'node'), 'dry');
    const before = await tree(dataDir);
    // The legacy file against a mapping that requires a column every row leaves empty.
    const mapping = join(dir, 'strict.json');
    const strict = JSON.parse(await readFile(MAPPING, 'utf8')) as { fields: Record<string, unknown> };
    strict.fields['custom.fax'] = { column: 'Phone 1', required: true, transforms: ['phone'] };
    await writeFile(mapping, JSON.stringify(strict));
    const rejects = join(dir, 'dry.ndjson');
    const result = await crmsync(['import', fixture('mixed-endings.csv'), '--mapping', mapping, '-d', dataDir, '--dry-run', '--rejects', rejects]);
    expect(result.code).toBe(6);
    expect(result.stdout).toMatch(/dry run: nothing written/);
    expect(result.stderr).toContain(`error ERR_REJECTED: every row would be rejected (5 of 5): nothing would be imported; the rejected rows are in ${rejects}`);
    expect(await rejectsOf(rejects)).toHaveLength(5);
    const bad = await crmsync(['import', fixture('mixed-endings.csv'), '--mapping', mapping, '-d', dataDir, '--dry-run', '--max-rejects', 'some']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--max-rejects some is not a number of rows');
    // A dry run into a directory without a database leaves none behind.
    expect(await tree(dataDir)).toEqual(before);
  });
});
