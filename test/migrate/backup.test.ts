/**
 * Backup and restore through the library functions, on real LevelDB directories:
 * a backup taken while writes go on holds exactly the state at its start; restoring it
 * into an empty node reproduces that state; restoring into a node that moved on
 * merges both sides; restoring twice changes nothing.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { writeBackupFile, type BackupStats } from '../../src/migrate/backup.js';
import { readBackup, verifyBackup } from '../../src/migrate/backup-reader.js';
import { restoreBackup } from '../../src/migrate/restore.js';
import { customer, listAll, nodeAt, snapshotOf, tempDir } from './helpers.js';

let dir: string;
let remove: () => Promise<void>;
const open: CrmNode[] = [];

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
  await remove();
});

async function node(name: string, nodeId = name): Promise<CrmNode> {
  const n = await nodeAt(join(dir, name), nodeId);
  open.push(n);
  return n;
}

async function seed(n: CrmNode, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i += 50) {
    const items = Array.from({ length: Math.min(50, from + count - i) }, (_, k) => {
      const { id, ...fields } = customer(i + k, { notes: `line one, "quoted"\nline two ${i + k}` });
      return { id, fields };
    });
    await n.records.upsertMany(items);
  }
}

const fileOf = (path: string) => () => createReadStream(path);

describe('backup and restore', () => {
  it('backs up a node while it is being written and restores exactly the state at the start', async () => {
    const source = await node('source');
    await seed(source, 200);
    await source.records.delete('c-00007');
    await source.records.update('c-00008', { addTags: ['vip'], incrementInteractions: 3 });
    const atStart = await snapshotOf(source);
    const file = join(dir, 'source.crmbak');
    let writer: Promise<number> | undefined;
    let finished = false;
    const concurrentWrites = async () => {
      let n = 0;
      while (!finished) {
        // c-00007 is deleted: an update of it would fail (and did, whenever the writer got that far).
        const i = n % 200 === 7 ? 8 : n % 200;
        await source.records.update(`c-${String(i).padStart(5, '0')}`, { title: `title ${n}` });
        await source.records.create({ id: `late-${n}`, name: `Late ${n}` });
        n++;
      }
      return n;
    };
    // Small blocks and pages so the backup takes many steps while the writer runs.
    const stats = await writeBackupFile(source, file, {
      blockBytes: 8 * 1024, pageEntries: 20,
      onProgress: () => {
        writer ??= concurrentWrites();
      },
    });
    finished = true;
    const written = await writer!;
    expect(written).toBeGreaterThan(0);
    expect(stats.clock).toEqual(atStart.clock);
    expect(stats.entries).toBe(Object.values(atStart.clock).reduce((a, b) => a + b, 0));
    expect(stats.blocks).toBeGreaterThan(1);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await source.status()).clock).not.toEqual(atStart.clock);

    const target = await node('target');
    const result = await restoreBackup(target, fileOf(file));
    expect(result).toMatchObject({ applied: stats.entries, alreadyPresent: 0, dryRun: false, records: atStart.counts });
    const restored = await snapshotOf(target);
    expect(restored.clock).toEqual(atStart.clock);
    expect(restored.records).toEqual(atStart.records);
    expect(restored.counts).toEqual(atStart.counts);
  });

  it('is idempotent: restoring the same backup again applies nothing and changes nothing', async () => {
    const source = await node('source');
    await seed(source, 60);
    const file = join(dir, 'b.crmbak');
    const stats = await writeBackupFile(source, file);
    const target = await node('target');
    await restoreBackup(target, fileOf(file));
    const once = await snapshotOf(target);
    const again = await restoreBackup(target, fileOf(file));
    expect(again).toMatchObject({ applied: 0, alreadyPresent: stats.entries });
    expect(await snapshotOf(target)).toEqual(once);
    // Restoring a node's own backup into itself is a no-op too.
    const self = await restoreBackup(source, fileOf(file));
    expect(self.applied).toBe(0);
  });

  it('merges into a node that has diverged: both sides keep their edits', async () => {
    const a = await node('a');
    await seed(a, 40);
    const first = join(dir, 'a1.crmbak');
    await writeBackupFile(a, first);
    const b = await node('b');
    await restoreBackup(b, fileOf(first));
    // Both sides move on independently: different fields of one record, a new record each,
    // and the same field of another record (a conflict both values of which survive).
    await a.records.update('c-00001', { email: 'new-a@example.com' });
    await b.records.update('c-00001', { phone: '+49 30 1234567' });
    await a.records.create({ id: 'only-a', name: 'Only A' });
    await b.records.create({ id: 'only-b', name: 'Only B' });
    await a.records.update('c-00002', { stage: 'won' });
    await b.records.update('c-00002', { stage: 'lost' });
    const second = join(dir, 'a2.crmbak');
    await writeBackupFile(a, second);

    const dry = await restoreBackup(b, fileOf(second), { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, applied: 3 });
    const result = await restoreBackup(b, fileOf(second));
    expect(result.applied).toBe(3);
    const merged = await b.records.get('c-00001');
    expect(merged).toMatchObject({ email: 'new-a@example.com', phone: '+49 30 1234567' });
    expect(await b.records.get('only-a')).toMatchObject({ name: 'Only A' });
    expect(await b.records.get('only-b')).toMatchObject({ name: 'Only B' });
    const conflicted = await b.records.get('c-00002');
    expect(conflicted!.conflicts).toContain('stage');
    const values = (await b.records.conflicts('c-00002')).find((c) => c.field === 'stage')!.values.map((v) => v.value).sort();
    expect(values).toEqual(['lost', 'won']);
    expect(result.records.live).toBe(42);

    // And the other way round: B's backup into A gives A the same records.
    const fromB = join(dir, 'b.crmbak');
    await writeBackupFile(b, fromB);
    await restoreBackup(a, fileOf(fromB));
    expect(await listAll(a)).toEqual(await listAll(b));
  });

  it('restores a node\'s own backup into a fresh directory of the same id, which then writes on', async () => {
    const a = await node('a', 'same-id');
    await seed(a, 10);
    const file = join(dir, 'a.crmbak');
    await writeBackupFile(a, file);
    const fresh = await node('fresh', 'same-id');
    await restoreBackup(fresh, fileOf(file));
    expect(await listAll(fresh)).toEqual(await listAll(a));
    const clock = (await fresh.status()).clock['same-id']!;
    await fresh.records.update('c-00001', { stage: 'won' });
    expect((await fresh.status()).clock['same-id']).toBe(clock + 1);
  });

  it('writes an empty node as a valid backup', async () => {
    const a = await node('a');
    const file = join(dir, 'empty.crmbak');
    const stats = await writeBackupFile(a, file);
    expect(stats).toMatchObject({ entries: 0, blocks: 0, clock: {}, lastLocalSeq: 0 });
    const summary = await verifyBackup(createReadStream(file));
    expect(summary).toMatchObject({ entries: 0, blocks: 0, header: { nodeId: 'a' } });
    const target = await node('target');
    expect(await restoreBackup(target, fileOf(file))).toMatchObject({ applied: 0, records: { live: 0, deleted: 0 } });
  });

  it('reads back header, blocks and trailer in order', async () => {
    const a = await node('a');
    await seed(a, 30);
    const file = join(dir, 'a.crmbak');
    const stats: BackupStats = await writeBackupFile(a, file, { blockBytes: 4096 });
    const kinds: string[] = [];
    let entries = 0;
    for await (const frame of readBackup([await readFile(file)])) {
      kinds.push(frame.kind);
      if (frame.kind === 'block') entries += frame.entries.length;
    }
    expect(kinds[0]).toBe('header');
    expect(kinds.at(-1)).toBe('trailer');
    expect(kinds.filter((k) => k === 'block')).toHaveLength(stats.blocks);
    expect(entries).toBe(stats.entries);
  });
});
