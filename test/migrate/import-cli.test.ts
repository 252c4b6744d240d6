/** `crmsync import` through the commander program, in process, with a recording Io. */
import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/program.js';
import type { ImportReport, MappingInput } from '../../src/migrate/import/index.js';
import { memoryIo } from '../cli/helpers.js';
import { file, LEGACY_HEADER, tempDirs } from './import-helpers.js';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const CSV = [
  ['Customer ID', 'First Name', 'Last Name', 'E-mail', 'Phone 1', 'Company', 'Status', 'Subscription Date'].join(';'),
  '1;Ada;Lovelace;ada@example.com;+44 20 7946 0018;Engines;Client;24.12.2023',
  '2;Bob;Smith;bob@example.com;;Acme;Prospect;01.02.2024',
  '3;Eve;Evil;nope;;Acme;Client;02.02.2024',
].join('\n') + '\n';

describe('crmsync import', () => {
  it('--infer prints a mapping; --dry-run writes nothing; the import prints its accounting', async () => {
    const dir = await dirs.make();
    const csv = await file(dir, 'legacy.csv', CSV);
    const env = { CRMSYNC_DATA_DIR: `${dir}/node` };
    const initIo = memoryIo({ env, cwd: dir });
    expect(await run(['init', '--node-id', 'cli-node', '--json'], initIo)).toBe(0);

    const inferIo = memoryIo({ env, cwd: dir });
    expect(await run(['import', '--infer', 'legacy.csv'], inferIo)).toBe(0);
    const mapping = JSON.parse(inferIo.stdout) as MappingInput;
    expect(mapping.fields['custom.subscriptionDate']).toEqual({ column: 'Subscription Date', transforms: [{ date: { format: 'dd.MM.yyyy' } }] });
    await file(dir, 'mapping.json', JSON.stringify(mapping));

    const dryIo = memoryIo({ env, cwd: dir });
    expect(await run(['import', csv, '--mapping', 'mapping.json', '--dry-run', '--json', '--max-rejects', '1'], dryIo)).toBe(0);
    expect(JSON.parse(dryIo.stdout)).toMatchObject({ dryRun: true, read: 3, created: 2, rejected: 1, rejectsFile: `${dir}/legacy.rejects.ndjson` });
    // Nothing written: not even the database was left behind.
    expect(await readdir(`${dir}/node`)).not.toContain('db');

    const io = memoryIo({ env, cwd: dir });
    expect(await run(['import', 'legacy.csv', '--mapping', 'mapping.json'], io)).toBe(6);
    expect(io.stderr).toContain(`error ERR_REJECTED: 1 of 3 rows were rejected; the others were imported; the rejected rows are in ${dir}/legacy.rejects.ndjson\nhint: `);
    expect(io.stdout).toMatch(/rows read\s+3/);
    expect(io.stdout).toMatch(/created\s+2/);
    expect(io.stdout).toMatch(/rejected\s+1\s+→ .*legacy\.rejects\.ndjson/);
    expect(io.stdout).toContain('rejected row 3 (line 4): email:');

    // With --json: the accounting is stdout's one document, the error stderr's one line.
    const jsonIo = memoryIo({ env, cwd: dir });
    expect(await run(['import', 'legacy.csv', '--mapping', 'mapping.json', '--json'], jsonIo)).toBe(6);
    expect(JSON.parse(jsonIo.stdout) as ImportReport).toMatchObject({ read: 3, unchanged: 2, rejected: 1 });
    expect(jsonIo.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(jsonIo.stderr)).toEqual({ error: { code: 'ERR_REJECTED', message: expect.stringMatching(/^1 of 3 rows were rejected/), hint: expect.any(String) } });

    const againIo = memoryIo({ env, cwd: dir });
    expect(await run(['import', 'legacy.csv', '--mapping', 'mapping.json', '--json', '--rejects', 'r.csv', '--max-rejects', '1'], againIo)).toBe(0);
    expect(JSON.parse(againIo.stdout) as ImportReport).toMatchObject({ created: 0, updated: 0, unchanged: 2, rejected: 1 });
    expect((await readdir(dir)).sort()).toEqual(['legacy.csv', 'legacy.rejects.ndjson', 'mapping.json', 'node', 'r.csv']);
  });

  it('refuses a missing mapping, an unknown column and an unknown format with usage errors', async () => {
    const dir = await dirs.make();
    await file(dir, 'x.csv', `${LEGACY_HEADER.join(',')}\n1,Ada,Lovelace,ada@example.com,,Acme,Client\n`);
    await file(dir, 'bad.json', JSON.stringify({ key: { column: 'Nope' }, fields: { name: { column: 'First Name' } } }));
    const env = { CRMSYNC_DATA_DIR: `${dir}/node` };
    expect(await run(['init', '--node-id', 'n1'], memoryIo({ env, cwd: dir }))).toBe(0);
    const noMapping = memoryIo({ env, cwd: dir });
    expect(await run(['import', 'x.csv'], noMapping)).toBe(2);
    expect(noMapping.stderr).toContain('crmsync import --infer x.csv');
    const badColumn = memoryIo({ env, cwd: dir });
    expect(await run(['import', 'x.csv', '--mapping', 'bad.json'], badColumn)).toBe(2);
    expect(badColumn.stderr).toContain('the mapping names column(s) the source does not have: Nope');
    const badFormat = memoryIo({ env, cwd: dir });
    expect(await run(['import', 'x.csv', '--mapping', 'bad.json', '--format', 'xlsx'], badFormat)).toBe(2);
  });
});
