import { afterEach, describe, expect, it } from 'vitest';
import { createApiServer } from '../../src/api/server.js';
import type { CrmNode } from '../../src/index.js';
import { CrmsyncError, type RecordPatchLike } from '../../src/index.js';
import { httpSink, importRecordId, nodeSink, parseState, predict, stateKey, type ImportSink } from '../../src/migrate/import/index.js';
import { addsUp, listAll, file, importFile, LEGACY_HEADER, memoryNode, tempDirs } from './import-helpers.js';

const dirs = tempDirs();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await dirs.cleanup();
});
const node = async () => {
  const n = await memoryNode();
  cleanups.push(() => n.close());
  return n;
};

const row = (id: number, company: string, updated: string) => [`${id}`, 'Per', `Son ${id}`, `p${id}@example.com`, '', company, 'Client', updated];
const csv = (rows: string[][]) => [[...LEGACY_HEADER, 'Updated'], ...rows].map((r) => r.join(',')).join('\n') + '\n';

describe('dry run', () => {
  it('reports what would change and writes nothing', async () => {
    const dir = await dirs.make();
    const n = await node();
    const before = await file(dir, 'v1.csv', csv([row(1, 'A', '2024-01-01'), row(2, 'B', '2024-01-01')]));
    await importFile(n, before);
    const status = await n.status();
    const after = await file(dir, 'v2.csv', csv([row(1, 'A', '2024-01-01'), row(2, 'Changed', '2024-01-02'), row(3, 'C', '2024-01-02'), row(4, 'D', 'x').map((c, i) => (i === 3 ? 'bad' : c))]));
    const dry = await importFile(n, after, undefined, { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, read: 4, created: 1, updated: 1, unchanged: 1, rejected: 1 });
    expect(await n.status()).toEqual(status);
    expect(await n.getState(stateKey('legacy'))).toMatchObject({ run: null });
    const real = await importFile(n, after);
    expect(real).toMatchObject({ created: dry.created, updated: dry.updated, unchanged: dry.unchanged, rejected: dry.rejected });
  });

  it('predicts the very result the engine and the bulk route report for a bad item', async () => {
    const n = await node();
    const api = await createApiServer(n, { token: 'secret-token' });
    cleanups.push(() => api.close());
    const bad = { id: 'p1', fields: { name: '', email: 'nope', colour: 'red' } as RecordPatchLike };
    const direct = await nodeSink(n).upsertMany([bad], { author: 'import:t', state: {} });
    expect(direct[0]).toMatchObject({
      status: 'rejected',
      error: { code: 'ERR_VALIDATION', details: expect.arrayContaining([{ field: '(root)', message: 'unknown field(s) colour' }]) },
    });
    expect(await httpSink(api.url, 'secret-token').upsertMany([bad], { author: 'import:t', state: {} })).toEqual(direct);
    expect(predict(bad.id, bad.fields, undefined)).toEqual(direct[0]);
  });
});

describe('incremental', () => {
  it('imports only rows above the stored watermark; the watermark moves with the last batch', async () => {
    const dir = await dirs.make();
    const n = await node();
    const v1 = await file(dir, 'v1.csv', csv([row(1, 'A', '2024-01-01'), row(2, 'B', '2024-01-02'), row(3, 'C', '2024-01-03')]));
    const first = await importFile(n, v1, undefined, { incremental: true, watermark: { column: 'Updated' } });
    expect(first).toMatchObject({ read: 3, created: 3, watermark: { before: null, after: Date.UTC(2024, 0, 3) } });
    expect(parseState(await n.getState(stateKey('legacy')))).toMatchObject({ watermark: Date.UTC(2024, 0, 3), run: null });
    // Rows need not be in watermark order: row 1 changed last.
    const v2 = await file(dir, 'v2.csv', csv([row(1, 'A2', '2024-02-05'), row(2, 'B', '2024-01-02'), row(3, 'C', '2024-01-03'), row(4, 'D', '2024-02-01')]));
    const second = await importFile(n, v2, undefined, { incremental: true, watermark: { column: 'Updated' }, batchRows: 1 });
    expect(addsUp(second)).toBe(true);
    expect(second).toMatchObject({ scanned: 4, read: 2, updated: 1, created: 1, skipped: { notNewer: 2 }, watermark: { after: Date.UTC(2024, 1, 5) } });
    expect(await n.records.get(importRecordId('legacy', '1'))).toMatchObject({ company: 'A2' });
    const v3 = await file(dir, 'v3.csv', csv([row(5, 'E', 'not a date')]));
    expect(await importFile(n, v3, undefined, { incremental: true, watermark: { column: 'Updated' } })).toMatchObject({ read: 1, rejected: 1 });
  });
});

describe('HTTP sink', () => {
  it('imports into a running node through POST /v1/import/batch, idempotently, and resumes from its state route', async () => {
    const dir = await dirs.make();
    const n = await node();
    const api = await createApiServer(n, { token: 'secret-token' });
    cleanups.push(() => api.close());
    const path = await file(dir, 'api.csv', csv(Array.from({ length: 25 }, (_, i) => row(i + 1, 'Api', '2024-01-01')).concat([row(26, 'Bad', '2024-01-01').map((c, i) => (i === 3 ? 'nope' : c))])));
    const sink = httpSink(api.url, 'secret-token');
    const first = await importFile(n, path, undefined, { sink, batchRows: 10 });
    expect(first).toMatchObject({ read: 26, created: 25, rejected: 1 });
    expect((await listAll(n)).length).toBe(25);
    const history = await n.records.history(importRecordId('legacy', '3'));
    expect(history.map((h) => h.author)).toEqual(['import:legacy']);
    expect(await importFile(n, path, undefined, { sink })).toMatchObject({ created: 0, updated: 0, unchanged: 25 });
    expect(await importFile(n, path, undefined, { sink, dryRun: true })).toMatchObject({ unchanged: 25, rejected: 1 });
    expect(await sink.getState('import:legacy')).toMatchObject({ version: 1, run: null });
    await expect(httpSink(api.url, 'wrong').getState('import:legacy')).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    await expect(sink.upsertMany([], { author: 'mallory', state: {} })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });
});

describe('a failing write', () => {
  it('fails the run with the storage error, keeps what was durable, and the next run resumes', async () => {
    const dir = await dirs.make();
    const n = await node();
    const path = await file(dir, 'f.csv', csv(Array.from({ length: 30 }, (_, i) => row(i + 1, 'F', '2024-01-01'))));
    let calls = 0;
    const inner = nodeSink(n);
    const failing: ImportSink = {
      ...inner,
      upsertMany: (items, options) => (++calls === 2 ? Promise.reject(new CrmsyncError('ERR_STORAGE', 'disk full')) : inner.upsertMany(items, options)),
    };
    await expect(importFile(n, path, undefined, { sink: failing, batchRows: 10 })).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    expect(await listAll(n)).toHaveLength(10);
    const resumed = await importFile(n, path, undefined, { batchRows: 10 });
    expect(resumed).toMatchObject({ resumedAfterRow: 10, read: 20, created: 20, skipped: { alreadyCommitted: 10 } });
    expect(await listAll(n)).toHaveLength(30);
  });
});
