/**
 * Backup and restore through the library functions, on real LevelDB directories of
 * nodes in one test cluster: a backup taken while writes go on holds exactly the state
 * at its start; restoring it into a fresh node of the cluster reproduces that state
 * (its trust statements included); restoring into a node that moved on merges both
 * sides; restoring twice changes nothing; a node's own backup brings it back.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openNode, type ChangeEntry, type CrmNode } from '../../src/index.js';
import { createTestCluster, type TestCluster } from '../../src/testing.js';
import { writeBackupFile, type BackupStats } from '../../src/migrate/backup.js';
import { readBackup, verifyBackup } from '../../src/migrate/backup-reader.js';
import { restoreBackup, type RestoreTarget } from '../../src/migrate/restore.js';
import { listAll, snapshotOf, tempDir } from './helpers.js';
import { memberAt, seed } from './backup-helpers.js';

let dir: string;
let remove: () => Promise<void>;
let cluster: TestCluster;
const open: CrmNode[] = [];

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
  cluster = createTestCluster();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
  await remove();
});

/** Member `nodeId` of the test cluster on `dir/name`. */
async function node(name: string, nodeId = name): Promise<CrmNode> {
  const n = await memberAt(cluster, dir, name, nodeId);
  open.push(n);
  return n;
}

const fileOf = (path: string) => () => createReadStream(path);
/** A statement with its signature as hex (decoded bytes are Buffers, the node's are Uint8Arrays). */
const comparable = (s: unknown) => ({ ...(s as Record<string, unknown>), sig: Buffer.from((s as { sig: Uint8Array }).sig).toString('hex') });

describe('backup and restore', () => {
  it('backs up a node while it is being written and restores exactly the state at the start', async () => {
    const source = await node('source');
    await seed(source, 200, 0, (i) => ({ notes: `line one, "quoted"\nline two ${i}` }));
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
    expect(stats.founder).toBe(cluster.founder.fingerprint);
    expect(stats.entries).toBe(Object.values(atStart.clock).reduce((a, b) => a + b, 0));
    expect(stats.blocks).toBeGreaterThan(1);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await source.status()).clock).not.toEqual(atStart.clock);

    const target = await node('target');
    const result = await restoreBackup(target, fileOf(file));
    expect(result).toMatchObject({ applied: stats.entries, quarantined: 0, alreadyPresent: 0, dryRun: false, records: atStart.counts });
    const restored = await snapshotOf(target);
    expect(restored.clock).toEqual(atStart.clock);
    expect(restored.records).toEqual(atStart.records);
    expect(restored.counts).toEqual(atStart.counts);
  });

  it('restores into a fresh node of the cluster that had never heard of the source: identical records and clock', async () => {
    // The target's membership is issued before the source's grant exists: only the backup's trust statements name the source.
    const targetMember = cluster.member('target');
    const source = await node('source');
    await seed(source, 120);
    await source.records.update('c-00003', { stage: 'won', addTags: ['vip'] });
    await source.records.delete('c-00004');
    const file = join(dir, 'source.crmbak');
    const stats = await writeBackupFile(source, file);
    const target = await openNode({ ...targetMember, dataDir: join(dir, 'target'), listen: false });
    open.push(target);
    expect(target.trust.view().members.map((m) => m.node)).not.toContain('source');

    const result = await restoreBackup(target, fileOf(file));
    expect(result).toMatchObject({ applied: stats.entries, alreadyPresent: 0, backup: { founder: cluster.founder.fingerprint } });
    expect(await snapshotOf(target)).toEqual(await snapshotOf(source));
    expect(await target.records.history('c-00003')).toEqual(await source.records.history('c-00003'));
    expect(target.trust.view().members.map((m) => m.node)).toContain('source');
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

    // And the other way round: B's backup (A's entries relayed with A's signatures) into A.
    const fromB = join(dir, 'b.crmbak');
    await writeBackupFile(b, fromB);
    await restoreBackup(a, fileOf(fromB));
    expect(await listAll(a)).toEqual(await listAll(b));
  });

  it('restores a node\'s own backup into a fresh directory of the same id and key, which then writes on', async () => {
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
    // What it wrote on chains onto the restored history: another member verifies all of it.
    const after = join(dir, 'fresh.crmbak');
    await writeBackupFile(fresh, after);
    const other = await node('other');
    expect(await restoreBackup(other, fileOf(after))).toMatchObject({ applied: clock + 1 });
    expect(await other.records.get('c-00001')).toMatchObject({ stage: 'won' });
  });

  it('writes an empty node as a valid backup', async () => {
    const a = await node('a');
    const file = join(dir, 'empty.crmbak');
    const stats = await writeBackupFile(a, file);
    expect(stats).toMatchObject({ entries: 0, blocks: 0, clock: {}, lastLocalSeq: 0 });
    const summary = await verifyBackup(createReadStream(file));
    expect(summary).toMatchObject({ entries: 0, blocks: 0, header: { nodeId: 'a', founder: cluster.founder.fingerprint } });
    const target = await node('target');
    expect(await restoreBackup(target, fileOf(file))).toMatchObject({ applied: 0, records: { live: 0, deleted: 0 } });
  });

  it('reads back header (founder, trust statements), blocks (signatures, boundaries) and trailer in order', async () => {
    const a = await node('a');
    await seed(a, 30);
    const file = join(dir, 'a.crmbak');
    const stats: BackupStats = await writeBackupFile(a, file, { blockBytes: 4096 });
    const kinds: string[] = [];
    const boundaries: boolean[] = [];
    let signed = 0;
    for await (const frame of readBackup([await readFile(file)])) {
      kinds.push(frame.kind);
      if (frame.kind === 'header') {
        expect(frame.header.founder).toBe(cluster.founder.fingerprint);
        expect(frame.header.trust.map(comparable)).toEqual(a.exportTrust().map(comparable));
      }
      if (frame.kind !== 'block') continue;
      for (const { entry, boundary } of frame.entries) {
        boundaries.push(boundary);
        if (entry.sig) signed++;
        expect(Object.keys(entry).sort()).toEqual(['change', 'origin', 'record', 'seq', ...(entry.sig ? ['sig'] : [])].sort());
      }
    }
    expect(kinds[0]).toBe('header');
    expect(kinds.at(-1)).toBe('trailer');
    expect(kinds.filter((k) => k === 'block')).toHaveLength(stats.blocks);
    expect(boundaries).toHaveLength(stats.entries);
    // One commit of 30 rows: signed and a boundary at its end only (fewer than signEveryEntries).
    expect(boundaries.map((b, i) => (b ? i : -1)).filter((i) => i >= 0)).toEqual([29]);
    expect(signed).toBe(1);
  });

  it('restores a 10,000-row commit in batches that each end at a boundary, where each origin\'s last entry is signed', async () => {
    const source = await node('source');
    await seed(source, 100);
    await source.records.upsertMany(Array.from({ length: 10_000 }, (_, i) => ({ id: `big-${i}`, fields: { name: `Big ${i}` } })));
    await seed(source, 20, 100);
    const file = join(dir, 'big.crmbak');
    const stats = await writeBackupFile(source, file);
    const boundaryAt = new Set<string>();
    for await (const frame of readBackup(createReadStream(file))) {
      if (frame.kind === 'block') for (const { entry, boundary } of frame.entries) if (boundary) boundaryAt.add(`${entry.origin}/${entry.seq}`);
    }
    // 100 rows in 2 commits, 10,000 rows signed every 64 and at the end, 20 rows in one commit.
    expect(boundaryAt.size).toBe(2 + Math.ceil(10_000 / 64) + 1);

    const target = await node('target');
    const batches: ChangeEntry[][] = [];
    const recording: RestoreTarget = {
      status: () => target.status(), importTrust: (s) => target.importTrust(s), trust: target.trust,
      importDocuments: (d) => target.importDocuments(d), importFloors: (f) => target.importFloors(f),
      importEntries: (entries) => {
        batches.push(entries);
        return target.importEntries(entries);
      },
    };
    const result = await restoreBackup(recording, fileOf(file), { batchEntries: 200 });
    expect(result).toMatchObject({ applied: stats.entries, alreadyPresent: 0 });
    expect(batches.length).toBeGreaterThan(10_000 / 264);
    for (const batch of batches) {
      const last = batch.at(-1)!;
      expect(boundaryAt.has(`${last.origin}/${last.seq}`)).toBe(true);
      expect(last.sig).toBeInstanceOf(Uint8Array);
      // Reached at the first boundary after the size: never more than signEveryEntries past it.
      expect(batch.length).toBeLessThan(200 + 64);
    }
    expect(await snapshotOf(target)).toEqual(await snapshotOf(source));
  }, 120_000);
});

describe('a restore refused before anything is written', () => {
  it('refuses a backup of another cluster, dry run too, and leaves the node as it was', async () => {
    const source = await node('source');
    await seed(source, 20);
    const file = join(dir, 'source.crmbak');
    await writeBackupFile(source, file);
    const elsewhere = createTestCluster();
    const target = await memberAt(elsewhere, dir, 'target');
    open.push(target);
    await target.records.create({ id: 'mine', name: 'Mine' });
    const before = { snapshot: await snapshotOf(target), trust: target.exportTrust() };
    for (const dryRun of [true, false]) {
      const refused = restoreBackup(target, fileOf(file), { dryRun });
      await expect(refused).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
      await expect(refused).rejects.toThrow(/the backup is of the cluster founded by .*, this node belongs to the cluster founded by/);
    }
    expect({ snapshot: await snapshotOf(target), trust: target.exportTrust() }).toEqual(before);
  });

  it('refuses a node whose id the backup\'s cluster binds to another key', async () => {
    const source = await node('source');
    await seed(source, 5);
    const file = join(dir, 'source.crmbak');
    await writeBackupFile(source, file);
    await source.close();
    // Same cluster, same node id, but a key of its own (a lost data directory re-created without node.key).
    const impostor = await openNode({ dataDir: join(dir, 'again'), nodeId: 'source', listen: false, cluster: { founder: cluster.founder.fingerprint, statements: [] } });
    open.push(impostor);
    await expect(restoreBackup(impostor, fileOf(file))).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringMatching(/binds node id "source" to another key/) });
    expect((await impostor.status()).lastLocalSeq).toBe(0);
    expect(impostor.exportTrust()).toEqual([]);
  });
});
