/**
 * Made the deflate dictionary of small frames (src/sync/frame-dictionary.ts) once:
 * `npx tsx scripts/frame-dictionary.ts` prints a new one as base64. The dictionary in
 * the source is frozen: both ends of a connection must hold the same bytes, so a new one
 * needs a new encoding name, never an edit of the old one (test/sync/frame-dictionary.test.ts
 * pins its hash). Its output differs from run to run (actor ids, times, hashes); that is
 * expected, and why the result is kept as data rather than rebuilt.
 *
 * What it holds: the frames a live session sends most, from a real node, neutral values,
 * the least common first (deflate reaches the end of a dictionary with the shortest
 * distances): a full record's creation, one single-field edit of each kind without its
 * signature and chain hash (random, never matched), then an ack and a whole edit frame.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openNode, type RecordPatchLike } from '../src/index.js';
import { createTestCluster } from '../src/testing.js';
import { openLevelStore } from '../src/store/level-store.js';
import { encodeMessage } from '../src/sync/codec.js';
import { Level } from 'level';
import type { StoredEntry } from '../src/crdt/change-entry.js';

const RECORD = {
  name: 'Example Person', email: 'person@example.com', phone: '+49 30 1234567', company: 'Example Company GmbH',
  title: 'Head of Sales', owner: 'owner', territory: 'Territory', stage: 'lead' as const,
  address: { street: 'Example Street 1', city: 'City', region: 'Region', postcode: '12345', country: 'DE' },
  tags: ['customer'], notes: 'called about the renewal', custom: { segment: 'enterprise' },
};

/** One edit of each kind, the most common (atomic text fields) last. */
const EDITS: RecordPatchLike[] = [
  { custom: { segment: 'smb' } }, { notes: 'follow up next week' }, { tags: ['customer', 'vip'] }, { address: { city: 'Other City' } },
  { name: 'Other Person' }, { email: 'other@example.com' }, { stage: 'qualified' }, { territory: 'Other' }, { owner: 'other' },
  { phone: '+49 30 7654321' }, { company: 'Other Company AG' }, { title: 'Head of Purchasing' },
];

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'frame-dictionary-'));
  try {
    const cluster = createTestCluster();
    const node = await openNode({ dataDir: join(dir, 'node'), ...cluster.member('node-0') });
    await node.records.upsertMany([{ id: 'cust-0000001', fields: RECORD }]);
    for (const edit of EDITS) await node.records.update('cust-0000001', edit);
    await node.close();
    const store = await openLevelStore(new Level<string, Uint8Array>(join(dir, 'node'), { keyEncoding: 'utf8', valueEncoding: 'view' }), {
      logTailSize: 100, groupCommitMax: 100, sync: true,
      createIdentity: () => { throw new Error('the node wrote its identity'); },
    });
    const entries = await store.readLog(1, 100, 1 << 20);
    await store.close();
    const frame = (entry: StoredEntry, whole: boolean) => encodeMessage({
      type: 'changes', epoch: 1, batch: entry.seq,
      entries: [{ origin: entry.origin, seq: entry.seq, record: entry.record, change: entry.change, ...(whole ? { sig: entry.sig!, prev: entry.chain } : {}) }],
    });
    const last = entries[entries.length - 1]!;
    const parts = [
      ...entries.map((entry) => frame(entry, false)),
      encodeMessage({ type: 'ack', batch: last.seq, clock: [[last.origin, last.seq, Buffer.from(last.chain, 'hex')]] }),
      frame(last, true),
    ];
    process.stdout.write(`${Buffer.concat(parts).toString('base64')}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
