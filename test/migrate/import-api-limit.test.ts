/**
 * `crmsync import --api` against the real HTTP API's 1 MiB request limit: a row larger
 * than the limit is rejected (naming its row and line and saying it exceeds the
 * limit) and the rest are imported; batches whose bytes outgrow the limit (multi-byte
 * text) are split so no request exceeds it; a node answering 413 to a smaller limit than
 * the importer assumed makes it split and retry down to one row.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiServer, MAX_BODY_BYTES, type ApiServer } from '../../src/api/server.js';
import type { CrmNode } from '../../src/index.js';
import { API_BODY_LIMIT_BYTES } from '../../src/migrate/import/http-batches.js';
import { httpSink, importRecordId, memoryRejects, openSource, parseMapping, runImport, type MappingInput } from '../../src/migrate/import/index.js';
import { crmsync, initDataDir, PROCESS_TIMEOUT_MS } from './cli-process.js';
import { nodeOfDataDir } from './helpers.js';
import { tempDirs } from './import-helpers.js';

const dirs = tempDirs();
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  await dirs.cleanup();
});

const TOKEN = 'test-token-0123456789';
/** Custom columns of the file; the big row fills them all (600 × 2,000 characters ≈ 1.2 MB). */
const WIDE = 600;

/** A CSV with `rows` ordinary rows (notes of 3,000 '€', 9 KB each) and, as row 3 (line 4), one row larger than 1 MiB. */
async function writeFiles(dir: string, rows: number): Promise<{ csv: string; mapping: string }> {
  const columns = Array.from({ length: WIDE }, (_, i) => `c${i}`);
  const lines = [['id', 'name', 'notes', ...columns].join(',')];
  for (let i = 1; i <= rows; i++) {
    lines.push([String(i), `Person ${i}`, '€'.repeat(3000), ...columns.map(() => '')].join(','));
    if (i === 2) lines.push(['big', 'Big Row', 'x', ...columns.map(() => 'y'.repeat(2000))].join(','));
  }
  const csv = join(dir, 'wide.csv');
  await writeFile(csv, `${lines.join('\n')}\n`);
  const mapping: MappingInput = {
    sourceName: 'wide', key: { column: 'id' },
    fields: { name: { column: 'name' }, notes: { column: 'notes' }, ...Object.fromEntries(columns.map((c) => [`custom.${c}`, { column: c }])) },
  };
  const mappingFile = join(dir, 'wide.mapping.json');
  await writeFile(mappingFile, JSON.stringify(mapping));
  return { csv, mapping: mappingFile };
}

async function serve(dataDir: string, nodeId: string): Promise<{ node: CrmNode; server: ApiServer }> {
  const node = await nodeOfDataDir(dataDir, nodeId);
  const server = await createApiServer(node, { token: TOKEN });
  cleanup.push(() => node.close(), () => server.close());
  return { node, server };
}

describe('import --api and the request body limit', () => {
  it('assumes the API server\'s own limit', () => {
    expect(API_BODY_LIMIT_BYTES).toBe(MAX_BODY_BYTES);
  });

  it('rejects the row larger than the limit, imports the rest, exit 6', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const dir = await dirs.make();
    const files = await writeFiles(dir, 4);
    const dataDir = await initDataDir(join(dir, 'node'), 'limit');
    const { node, server } = await serve(dataDir, 'limit');
    const rejects = join(dir, 'r.ndjson');
    const result = await crmsync(['import', files.csv, '--mapping', files.mapping, '-d', dataDir, '--api', server.url, '--token', TOKEN, '--rejects', rejects]);
    expect(result.code).toBe(6);
    expect(result.stdout).toMatch(/created\s+4/);
    expect(result.stdout).toContain("rejected row 3 (line 4): (row): the row is 1.15 MiB as JSON and it exceeds the node's request limit of 1.00 MiB");
    const [reject] = (await readFile(rejects, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(reject).toMatchObject({ row: 3, line: 4, key: 'big', field: '(row)', reason: expect.stringContaining('exceeds the node\'s request limit') });
    expect(await node.records.get(importRecordId('wide', '4'))).toMatchObject({ name: 'Person 4' });
    expect(await node.records.get(importRecordId('wide', 'big'))).toBeUndefined();
  });

  it('keeps every request under the limit, and splits and retries on 413 down to one row', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const dir = await dirs.make();
    const files = await writeFiles(dir, 200);
    const { node, server } = await serve(join(dir, 'node'), 'split');
    const mapping = parseMapping(JSON.parse(await readFile(files.mapping, 'utf8')));
    const run = async (maxBodyBytes?: number) => {
      const requests: { bytes: number; status: number }[] = [];
      const fetchSpy: typeof fetch = async (url, init) => {
        const response = await fetch(url, init);
        if (init?.method === 'POST') requests.push({ bytes: Buffer.byteLength(String(init.body)), status: response.status });
        return response;
      };
      const source = await openSource(files.csv);
      const rejects = memoryRejects();
      const sink = httpSink(server.url, TOKEN, { fetch: fetchSpy, ...(maxBodyBytes ? { maxBodyBytes } : {}) });
      const report = await runImport({ source, mapping, sink, sourceName: 'wide', rejects });
      await source.close();
      return { report, requests, rejects: rejects.entries };
    };

    // The importer's own batches are 512 Ki characters, ~1.5 MB of '€': split to fit.
    const first = await run();
    expect(first.report).toMatchObject({ read: 201, created: 200, rejected: 1 });
    expect(first.rejects).toMatchObject([{ row: 3, line: 4, field: '(row)' }]);
    expect(first.requests.every((r) => r.bytes <= MAX_BODY_BYTES && r.status === 200)).toBe(true);
    expect(first.requests.length).toBeGreaterThan(2);

    // Told the limit is 8 MiB, it sends too much, gets 413 and splits until one row remains.
    await node.records.update(importRecordId('wide', '1'), { name: 'Changed' });
    const second = await run(8 * 1024 * 1024);
    expect(second.report).toMatchObject({ read: 201, updated: 1, unchanged: 199, rejected: 1 });
    expect(second.rejects).toMatchObject([{ row: 3, line: 4, reason: expect.stringContaining('the node refused it as larger than its request limit') }]);
    expect(second.requests.some((r) => r.status === 413)).toBe(true);
    expect(second.requests.filter((r) => r.status === 200).every((r) => r.bytes <= MAX_BODY_BYTES)).toBe(true);
  });
});
