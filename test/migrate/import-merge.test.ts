/**
 * An import merging with a concurrent edit on another node: two nodes on real LevelDB
 * directories, synced over WebSockets on 127.0.0.1. The import on A changes the phone
 * of records while a user on B changes their owner; after sync both changes are kept
 * on both nodes, and the import's changes carry the import author.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openNode, type CrmNode } from '../../src/index.js';
import { createTestCluster } from '../../src/testing.js';
import { importRecordId } from '../../src/migrate/import/index.js';
import { nextChange, TEST_LIMITS, waitForConvergence } from '../integration/helpers.js';
import { file, importFile, LEGACY_HEADER, tempDirs } from './import-helpers.js';

const dirs = tempDirs();
const nodes: CrmNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
  await dirs.cleanup();
});

const rows = (phone: (i: number) => string) =>
  [LEGACY_HEADER, ...Array.from({ length: 20 }, (_, i) => [`${i + 1}`, 'Mer', `Ge ${i + 1}`, `m${i + 1}@example.com`, phone(i + 1), 'Acme', 'Client'])]
    .map((r) => r.join(',')).join('\n') + '\n';

describe('import during live edits', () => {
  it('keeps both the imported field and a concurrent edit of another field on another node', async () => {
    const dir = await dirs.make();
    const cluster = createTestCluster();
    const a = await openNode({ ...cluster.member('node-a'), dataDir: `${dir}/a`, limits: TEST_LIMITS });
    nodes.push(a);
    const b = await openNode({ ...cluster.member('node-b'), dataDir: `${dir}/b`, peers: [a.url!], limits: TEST_LIMITS });
    nodes.push(b);
    const v1 = await file(dir, 'v1.csv', rows((i) => `030 100${String(i).padStart(4, '0')}`));
    expect(await importFile(a, v1)).toMatchObject({ created: 20 });
    await waitForConvergence([a, b]);

    // B's user edits owners while A imports new phone numbers; neither has seen the other.
    const ids = Array.from({ length: 20 }, (_, i) => importRecordId('legacy', `${i + 1}`));
    const v2 = await file(dir, 'v2.csv', rows((i) => `030 200${String(i).padStart(4, '0')}`));
    const lastImported = nextChange(b, (e) => e.id === ids[19] && e.view.phone === '+49302000020');
    const [report] = await Promise.all([
      importFile(a, v2),
      Promise.all(ids.map((id, i) => b.records.update(id, { owner: `rep-${i % 3}` }))),
    ]);
    // Every row updated a record that already existed (a remote change to it becoming
    // durable during the batch once made the engine think one was new).
    expect(report).toMatchObject({ read: 20, created: 0, updated: 20, unchanged: 0, rejected: 0 });
    await lastImported;
    const converged = await waitForConvergence([a, b]);
    for (const [i, id] of ids.entries()) {
      const record = converged.records.find((r) => r.id === id)!;
      expect(record).toMatchObject({ owner: `rep-${i % 3}`, phone: `+49302000${String(i + 1).padStart(3, '0')}`, name: `Mer Ge ${i + 1}` });
      expect(record.conflicts).toEqual([]);
    }
    expect((await a.status()).records.live).toBe(20);
    expect((await b.status()).records.live).toBe(20);
    const history = await b.records.history(ids[0]!);
    expect(history.map((h) => h.author ?? null)).toEqual(expect.arrayContaining(['import:legacy']));
    expect(history.filter((h) => h.author === 'import:legacy')).toHaveLength(2);
  });
});
