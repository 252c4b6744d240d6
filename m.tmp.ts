import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openNode } from './src/index.js';
import { createTestCluster } from './src/testing.js';
import { makeRecord } from './bench/data.js';
const N = Number(process.argv[2] ?? 10000);
const dir = mkdtempSync(join(tmpdir(), 'perf-'));
const cluster = createTestCluster();
const a = await openNode({ ...cluster.member('a'), dataDir: join(dir, 'a') });
let t = performance.now();
for (let i = 0; i < N; i += 500) {
  const items = [];
  for (let j = i; j < Math.min(N, i + 500); j++) { const r = makeRecord(j, 1); const { id, ...fields } = r; items.push({ id: id!, fields }); }
  await a.records.upsertMany(items);
}
console.log('P1', (performance.now() - t).toFixed(0), 'ms');
const b = await openNode({ ...cluster.member('b'), dataDir: join(dir, 'b') });
t = performance.now();
b.addPeer(a.url!);
for (;;) { const s = await b.status(); if (s.records.live === N) break; await new Promise((r) => setTimeout(r, 20)); }
console.log('P2', (performance.now() - t).toFixed(0), 'ms', JSON.stringify((await b.status()).peers[0]?.stats));
await a.close(); await b.close();
