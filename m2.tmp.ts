import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openNode } from './src/index.js';
import { createTestCluster } from './src/testing.js';
import { makeRecord } from './bench/data.js';
const N = Number(process.argv[2] ?? 5000);
const dir = mkdtempSync(join(tmpdir(), 'perf-'));
const cluster = createTestCluster();
const a = await openNode({ ...cluster.member('a'), dataDir: join(dir, 'a'), listen: false });
for (let i = 0; i < N; i += 500) {
  const items = [];
  for (let j = i; j < Math.min(N, i + 500); j++) { const r = makeRecord(j, 1); const { id, ...fields } = r; items.push({ id: id!, fields }); }
  await a.records.upsertMany(items);
}
const entries = await a.exportEntries(0, N);
const b = await openNode({ ...cluster.member('b'), dataDir: join(dir, 'b'), listen: false });
const t = performance.now();
for (let i = 0; i < entries.length; i += 1000) {
  let end = Math.min(entries.length, i + 1000);
  while (end < entries.length && !entries[end - 1]!.boundary) end++;
  const r = await b.importEntries(entries.slice(i, end));
  if (r.accepted !== end - i) throw new Error(`accepted ${r.accepted} of ${end - i}`);
  i = end - 1000;
}
console.log('ingest', (performance.now() - t).toFixed(0), 'ms for', entries.length, (await b.status()).records);
await a.close(); await b.close();
