/**
 * Import progress as a user of the `crmsync` executable meets it with stderr piped (a log,
 * CI): plain progress lines on stderr, never on stdout, none with --json; and a bad
 * --progress-every names the flag. import-progress.test.ts covers the formatting and the
 * terminal bar with an injected clock.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IMPORT_BATCH_ROWS } from '../../src/migrate/import/index.js';
import { crmsync, fixture, initDataDir, PROCESS_TIMEOUT_MS } from './cli-process.js';
import { tempDirs } from './import-helpers.js';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** Rows enough for three batches, so a line after every batch shows up more than once. */
const ROWS = IMPORT_BATCH_ROWS * 2 + 200;

function customersCsv(rows: number): string {
  const lines = ['Customer ID,First Name,Last Name,E-mail,Phone 1,Company,Status'];
  for (let i = 1; i <= rows; i++) lines.push(`${i},First${i},Last${i},c${i}@example.com,,Company ${i % 17},Client`);
  return `${lines.join('\n')}\n`;
}

// Rows scanned, rate, how far through the file (no bar: that is for a terminal), the accounting so far.
const PROGRESS_LINE = /^import customers: [\d,]+ rows {2}[\d,]+ rows\/s {2}\d+% {2}ETA \d+:\d\d {2}\(created [\d,]+, updated 0, unchanged 0, rejected 0\)$/;

describe('import progress in a crmsync process', () => {
  it('prints plain progress lines on stderr at --progress-every, the accounting on stdout, no progress with --json', { timeout: PROCESS_TIMEOUT_MS * 2 }, async () => {
    const dir = await dirs.make();
    const dataDir = await initDataDir(join(dir, 'node'), 'progress');
    const csv = join(dir, 'customers.csv');
    await writeFile(csv, customersCsv(ROWS));
    const mapping = fixture('legacy.mapping.json');
    const common = ['--mapping', mapping, '--source-name', 'customers', '--rejects', join(dir, 'rejects.ndjson'), '-d', dataDir];

    const plain = await crmsync(['import', csv, ...common, '--progress-every', '0']);
    expect(plain.code, plain.stderr).toBe(0);
    const progress = plain.stderr.split('\n').filter((line) => line.startsWith('import customers:'));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const line of progress) expect(line).toMatch(PROGRESS_LINE);
    expect(progress.at(-1)).toContain(`created ${ROWS.toLocaleString('en-US')}`);
    expect(plain.stdout.split('\n').filter((line) => line.startsWith('import customers:'))).toEqual([]);
    expect(plain.stdout).toMatch(new RegExp(`^rows read +${ROWS}$`, 'm'));

    // --json: the accounting alone on stdout, nothing on stderr.
    const json = await crmsync(['import', csv, ...common, '--progress-every', '0', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toMatchObject({ read: ROWS, unchanged: ROWS, rejected: 0 });

    const bad = await crmsync(['import', csv, ...common, '--progress-every', 'often']);
    expect([bad.code, bad.stdout]).toEqual([2, '']);
    expect(bad.stderr).toContain('--progress-every often is not a number of seconds');
  });
});
