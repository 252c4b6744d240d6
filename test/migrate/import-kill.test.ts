/**
 * Resume after a kill: a real importer process is SIGKILLed after some batches are
 * durable, then the same import runs again through the real CLI. The final node holds
 * every good row once, the rejects file every bad row once, and the resumed run's
 * accounting adds up to exactly the rows the killed run had not committed.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeOfDataDir } from './helpers.js';
import { importRecordId, type ImportReport } from '../../src/migrate/import/index.js';
import { addsUp, listAll, LEGACY_HEADER, LEGACY_MAPPING, tempDirs } from './import-helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/import-child.ts', import.meta.url));
const CLI = join(ROOT, 'bin/crmsync.js');
const ROWS = 1500;
const isBad = (i: number) => i % 97 === 0; // rows with an invalid e-mail

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('an import killed mid-run', () => {
  it('continues from its last durable batch: no duplicates, no gaps, accounting adds up', async () => {
    const dir = await dirs.make();
    const csv = join(dir, 'legacy.csv');
    const mapping = join(dir, 'mapping.json');
    const rejects = join(dir, 'rejects.ndjson');
    const lines = [LEGACY_HEADER.join(',')];
    for (let i = 1; i <= ROWS; i++) lines.push([`${i}`, 'Kill', `Test ${i}`, isBad(i) ? `bad-${i}` : `k${i}@example.com`, '', 'Acme', 'Client'].join(','));
    await writeFile(csv, `${lines.join('\n')}\n`);
    await writeFile(mapping, JSON.stringify(LEGACY_MAPPING));
    expect((await run([CLI, 'init', '--data-dir', dir, '--node-id', 'killed', '--json'])).code).toBe(0);

    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, csv, dir, 'killed', mapping, rejects], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    for await (const line of createInterface({ input: child.stdout })) {
      if (line.startsWith('done')) throw new Error('the import finished before it could be killed');
      if (line === 'committed 4') break;
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const resumed = await run([CLI, 'import', csv, '--mapping', mapping, '--data-dir', dir, '--source-name', 'legacy', '--rejects', rejects, '--max-rejects', '1000', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const report = JSON.parse(resumed.stdout) as ImportReport;
    expect(addsUp(report)).toBe(true);
    const after = report.resumedAfterRow!;
    expect(after).toBeGreaterThanOrEqual(200);
    expect(after).toBeLessThan(ROWS);
    const remaining = Array.from({ length: ROWS - after }, (_, k) => after + 1 + k);
    expect(report).toMatchObject({
      completed: true, scanned: ROWS, read: ROWS - after, skipped: { alreadyCommitted: after, notNewer: 0 },
      created: remaining.filter((i) => !isBad(i)).length, updated: 0, unchanged: 0, rejected: remaining.filter(isBad).length,
    });

    const rejected = (await readFile(rejects, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { row: number });
    const badRows = Array.from({ length: ROWS }, (_, k) => k + 1).filter(isBad);
    expect(rejected.map((r) => r.row)).toEqual(badRows);

    const node = await nodeOfDataDir(dir);
    try {
      const records = await listAll(node);
      expect(records).toHaveLength(ROWS - badRows.length);
      expect((await node.status()).records.live).toBe(ROWS - badRows.length);
      expect(await node.records.get(importRecordId('legacy', String(ROWS)))).toMatchObject({ name: `Kill Test ${ROWS}` });
    } finally {
      await node.close();
    }
    const again = await run([CLI, 'import', csv, '--mapping', mapping, '--data-dir', dir, '--source-name', 'legacy', '--rejects', rejects, '--max-rejects', '1000', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ resumedAfterRow: null, created: 0, updated: 0, unchanged: ROWS - badRows.length });
  });
});
