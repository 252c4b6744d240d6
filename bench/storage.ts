/**
 * `node dist/bench/storage.js [--edits 1000000] [--records 10000] [--seed 1]` (also the
 * last phase of `npm run bench`, `--storage-edits`): storage after edit churn. One node
 * (fsynced, no peers) gets `records` records, then `edits` field edits spread over them,
 * then 20% of them deleted; then its clock is moved past the log and tombstone retention
 * (a single-member cluster: every entry is held by every member), so the lifecycle
 * truncates the log and collects the tombstones, as a node does once a month by default.
 * Its data directory and change log are then compared with a fresh node loaded with the
 * same final live records. Reported: bytes on disk (as left, and after a full LevelDB
 * compaction), log entries held, the time of the churn and of the truncation, and the
 * factors.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { openNode, seededRandom, STAGES, type CrmNode, type NodeStatus } from '../src/index.js';
import { realTimers } from '../src/timers.js';
import { createTestCluster } from '../src/testing.js';
import { bytes, int, ms, renderTable, type Row } from './table.js';
import { benchOptions, wholeNumber } from './args.js';

const USAGE = 'node dist/bench/storage.js [--edits 1000000] [--records 10000] [--seed 1]';
const opts = benchOptions(USAGE, { edits: { type: 'string', default: '1000000' }, records: { type: 'string', default: '10000' }, seed: { type: 'string', default: '1' } });
const EDITS = wholeNumber(USAGE, '--edits', opts.edits, 0, 'edits');
const RECORDS = wholeNumber(USAGE, '--records', opts.records, 10, 'records');
const SEED = wholeNumber(USAGE, '--seed', opts.seed, 0);
/** Share of the records deleted at the end. */
const DELETED_SHARE = 0.2;
/** Items per upsertMany call (one durable commit each). */
const BATCH = 500;
/** Retention of log entries and tombstones for the churned node; its clock then jumps past it. */
const RETENTION_MS = 60_000;
const log = (msg: string) => process.stderr.write(`[bench-storage] ${msg}\n`);
const du = (dir: string) => Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);

type Fields = Record<string, unknown>;

/** One random field edit: what a sales team changes all day. */
function edit(rnd: () => number, i: number): Fields {
  switch (Math.floor(rnd() * 5)) {
    case 0: return { stage: STAGES[Math.floor(rnd() * STAGES.length)] };
    case 1: return { phone: `+49 30 ${1_000_000 + Math.floor(rnd() * 8_999_999)}` };
    case 2: return { owner: `rep-${Math.floor(rnd() * 50)}` };
    case 3: return { title: `Title ${i % 97}` };
    default: return { custom: { score: Math.floor(rnd() * 1000) } };
  }
}

async function upsertAll(node: CrmNode, items: { id: string; fields: Fields }[]): Promise<void> {
  for (let i = 0; i < items.length; i += BATCH) {
    const results = await node.records.upsertMany(items.slice(i, i + BATCH) as never);
    const bad = results.find((r) => r.status === 'rejected');
    if (bad) throw new Error(`upsert rejected: ${bad.error?.message ?? ''}`);
  }
}

/** Disk bytes of a closed node's directory after a full LevelDB compaction (garbage dropped). */
async function compactedBytes(dir: string): Promise<number> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  // `level` is classic-level on Node; its type does not list compactRange.
  await (db as unknown as { compactRange(start: string, end: string): Promise<void> }).compactRange('\u0000', '\uffff');
  await db.close();
  return du(dir);
}

/** Log entries a node still holds. */
const held = (status: NodeStatus) => status.lastLocalSeq - status.lifecycle.logStart + 1;

/** Waits until the node collected `tombstones` and its truncation stopped moving (two passes without progress). */
async function settled(node: CrmNode, tombstones: number): Promise<void> {
  let last = -1;
  let still = 0;
  for (;;) {
    const { lifecycle } = await node.status();
    if (lifecycle.collected >= tombstones && lifecycle.logStart === last) {
      if (++still >= 3) return;
    } else still = 0;
    last = lifecycle.logStart;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'crmsync-bench-storage-'));
  const rnd = seededRandom(SEED);
  const cluster = createTestCluster();
  const final = new Map<string, Fields>();
  try {
    const churnDir = join(root, 'churn');
    // Its own clock, moved past the retention once the churn is done (timers stay real).
    let offset = 0;
    const timers = { now: () => Date.now() + offset, after: realTimers.after };
    const lifecycle = { logRetentionMs: RETENTION_MS, tombstoneRetentionMs: RETENTION_MS, lifecycleIntervalMs: 100, maxTruncatedPerPass: 1_000_000, truncateStepEntries: 50_000 };
    const churn = await openNode({ dataDir: churnDir, listen: false, ...cluster.member('churn'), timers, limits: lifecycle });
    const t0 = performance.now();
    const ids = Array.from({ length: RECORDS }, (_, i) => `c-${String(i).padStart(6, '0')}`);
    for (const id of ids) final.set(id, { name: `Customer ${id}`, email: `${id}@example.com`, territory: ['north', 'south', 'emea'][ids.indexOf(id) % 3]! });
    await upsertAll(churn, ids.map((id) => ({ id, fields: final.get(id)! })));
    log(`${int(RECORDS)} records created; ${int(EDITS)} edits`);
    for (let done = 0; done < EDITS; done += BATCH) {
      const items = Array.from({ length: Math.min(BATCH, EDITS - done) }, (_, k) => {
        const id = ids[Math.floor(rnd() * RECORDS)]!;
        const fields = edit(rnd, done + k);
        final.set(id, { ...final.get(id)!, ...fields, ...(fields.custom ? { custom: { ...(final.get(id)!.custom as Fields | undefined), ...(fields.custom as Fields) } } : {}) });
        return { id, fields };
      });
      await upsertAll(churn, items);
      if (done % 100_000 === 0 && done > 0) log(`${int(done)} edits`);
    }
    const doomed = ids.filter(() => rnd() < DELETED_SHARE);
    for (let i = 0; i < doomed.length; i += 50) await Promise.all(doomed.slice(i, i + 50).map((id) => churn.records.delete(id)));
    for (const id of doomed) final.delete(id);
    const churnMs = performance.now() - t0;
    const entriesBefore = (await churn.status()).lastLocalSeq;
    offset = 2 * RETENTION_MS;
    const t1 = performance.now();
    await settled(churn, doomed.length);
    const truncateMs = performance.now() - t1;
    const churnStatus = await churn.status();
    log(`truncated ${int(churnStatus.lifecycle.truncated)} of ${int(entriesBefore)} entries, collected ${int(churnStatus.lifecycle.collected)} tombstones in ${ms(truncateMs)}`);
    await churn.close();
    const churnDisk = du(churnDir);
    const churnCompacted = await compactedBytes(churnDir);

    const freshDir = join(root, 'fresh');
    const fresh = await openNode({ dataDir: freshDir, listen: false, ...cluster.member('fresh') });
    await upsertAll(fresh, [...final].map(([id, fields]) => ({ id, fields })));
    const freshStatus = await fresh.status();
    await fresh.close();
    const freshDisk = du(freshDir);
    const freshCompacted = await compactedBytes(freshDir);

    const factor = (a: number, b: number) => `${(a / b).toFixed(1)}x`;
    const rows: Row[] = [
      ['churned node', `${int(RECORDS)} records, ${int(EDITS)} edits, ${int(doomed.length)} deleted; then truncated`, `${ms(churnMs)} + ${ms(truncateMs)}`, bytes(churnDisk), bytes(churnCompacted), `${int(held(churnStatus))} of ${int(entriesBefore)}`],
      ['fresh node', `the ${int(final.size)} live records loaded once`, '-', bytes(freshDisk), bytes(freshCompacted), int(held(freshStatus))],
      ['factor', 'churned / fresh', '-', factor(churnDisk, freshDisk), factor(churnCompacted, freshCompacted), factor(Math.max(1, held(churnStatus)), held(freshStatus))],
    ];
    console.log(`\ncrmsync storage after churn (seed ${SEED})\n`);
    console.log(renderTable(['node', 'workload', 'time (churn + truncation)', 'disk as left', 'disk compacted', 'log entries held'], rows));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
