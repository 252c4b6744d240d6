import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import { openNode } from './src/index.js';
import { createTestCluster } from './src/testing.js';
import { makeRecord } from './bench/data.js';
const N = Number(process.argv[2] ?? 5000);
const file = `/tmp/entries-${N}.bin`;
if (!existsSync(file)) {
  const dir = mkdtempSync(join(tmpdir(), 'perf-'));
  const cluster = createTestCluster();
  const member = (id: string) => cluster.member(id);
  const ma = member('a'); const mb = member('b');
  const a = await openNode({ ...ma, dataDir: join(dir, 'a'), listen: false });
  for (let i = 0; i < N; i += 500) {
    const items = [];
    for (let j = i; j < Math.min(N, i + 500); j++) { const r = makeRecord(j, 1); const { id, ...fields } = r; items.push({ id: id!, fields }); }
    await a.records.upsertMany(items);
  }
  writeFileSync(file, pack({ entries: await a.exportEntries(0, N), mb }));
  await a.close();
  console.log('wrote', file);
  process.exit(0);
}
const { entries, mb } = unpack(readFileSync(file)) as { entries: any[]; mb: any };
const dir = mkdtempSync(join(tmpdir(), 'perf-'));
const b = await openNode({ ...mb, dataDir: join(dir, 'b'), listen: false });
const t = performance.now();
for (let i = 0; i < entries.length;) {
  let end = Math.min(entries.length, i + 1000);
  while (end < entries.length && !entries[end - 1]!.boundary) end++;
  const r = await b.importEntries(entries.slice(i, end));
  if (r.accepted !== end - i) throw new Error(`accepted ${r.accepted} of ${end - i}`);
  i = end;
}
console.log('ingest', (performance.now() - t).toFixed(0), 'ms for', entries.length, (await b.status()).records);
await b.close();
