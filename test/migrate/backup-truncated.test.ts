/**
 * Backups of a truncated log (format version 3): the node no longer holds its log's
 * prefix, so the backup carries every record's whole document and the floors before the
 * entries. Restoring one into an empty node of the cluster gives the same records
 * (deleted ones included, and changes made after the truncation) and the same clock; a
 * log never truncated is still written as version 2; a forged floor is refused by the
 * node's signature check, and a node's own truncated history is refused before anything
 * is written.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNode, type CrmNode } from '../../src/index.js';
import { createTestCluster, type TestCluster } from '../../src/testing.js';
import { decodeFloors, encodeFloors } from '../../src/migrate/backup-document.js';
import { FLOORS_KIND } from '../../src/migrate/backup-format.js';
import { readBackup, verifyBackup } from '../../src/migrate/backup-reader.js';
import { writeBackupFile, type BackupStats } from '../../src/migrate/backup.js';
import { restoreBackup } from '../../src/migrate/restore.js';
import { listAll, snapshotOf, tempDir } from './helpers.js';
import { assemble, framesOf, memberAt, seed, truncatedMember } from './backup-helpers.js';

let dir: string;
let remove: () => Promise<void>;
let cluster: TestCluster;
let source: CrmNode;
let file: string;
let stats: BackupStats;
const open: CrmNode[] = [];

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  cluster = createTestCluster();
  source = await truncatedMember(cluster, dir, 'source');
  open.push(source);
  file = join(dir, 'truncated.crmbak');
  // Small blocks and pages: several document blocks, several pages of each.
  stats = await writeBackupFile(source, file, { blockBytes: 8 * 1024, pageDocuments: 7, pageEntries: 2 });
});
afterAll(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
  await remove();
});

async function member(name: string, nodeId = name): Promise<CrmNode> {
  const n = await memberAt(cluster, dir, name, nodeId);
  open.push(n);
  return n;
}

/** Every record of `node` (deleted ones included) read one by one with records.get. */
async function recordsOf(node: CrmNode, ids: readonly string[]) {
  return Promise.all(ids.map(async (id) => [id, await node.records.get(id)] as const));
}

describe('a backup of a truncated log', () => {
  it('holds the records as documents, the floors, then the entries after them (format version 3)', async () => {
    const { logStart, floors } = source.exportFloors();
    expect(logStart).toBeGreaterThan(1);
    expect(stats).toMatchObject({ version: 3, documents: 122, entries: 5, clock: (await source.status()).clock });
    expect(stats.documentBlocks).toBeGreaterThan(1);
    expect(gunzipSync(await readFile(file)).readUInt16BE(8)).toBe(3);
    const kinds: string[] = [];
    for await (const frame of readBackup(createReadStream(file))) {
      kinds.push(frame.kind);
      if (frame.kind === 'floors') {
        expect(frame.floors.logStart).toBe(logStart);
        expect(frame.floors.floors.map((f) => ({ ...f, sig: Buffer.from(f.sig).toString('hex') })))
          .toEqual(floors.map((f) => ({ ...f, sig: Buffer.from(f.sig).toString('hex') })));
      }
      if (frame.kind === 'block') for (const { localSeq } of frame.entries) expect(localSeq).toBeGreaterThanOrEqual(logStart);
    }
    const order = kinds.join(' ').replace(/(documents )+/, 'documents… ').replace(/(block )+/, 'block… ');
    expect(order).toBe('header documents… floors block… trailer');
    expect(await verifyBackup(createReadStream(file))).toMatchObject({ version: 3, documents: 122, entries: 5, floors: { logStart } });
  });

  it('restores into an empty node of the cluster: every record (deleted ones and later edits too) and the clock equal the source\'s', async () => {
    const target = await member('target');
    const result = await restoreBackup(target, () => createReadStream(file));
    expect(result).toMatchObject({ adopted: 122, applied: 5, alreadyPresent: 0, backup: { documents: 122, entries: 5 } });
    const ids = (await listAll(source)).map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining(['c-00004', 'c-00006', 'late-1', 'late-2']));
    expect(await recordsOf(target, ids)).toEqual(await recordsOf(source, ids));
    expect(await target.records.get('c-00005')).toMatchObject({ title: 'after the truncation' });
    expect(await snapshotOf(target)).toEqual(await snapshotOf(source));
    expect((await target.status()).clock).toEqual((await source.status()).clock);
    // Restoring it again changes nothing.
    expect(await restoreBackup(target, () => createReadStream(file))).toMatchObject({ adopted: 0, applied: 0, alreadyPresent: 5 });
    expect(await snapshotOf(target)).toEqual(await snapshotOf(source));
  });

  it('counts, in a dry run, only the entries after the floors as to apply', async () => {
    const target = await member('dry');
    expect(await restoreBackup(target, () => createReadStream(file), { dryRun: true })).toMatchObject({ dryRun: true, applied: 5, adopted: 122 });
    expect((await target.status()).clock).toEqual({});
  });

  it('is refused with ERR_SIGNATURE when a floor\'s signature is forged: nothing is raised, and the node keeps what it held', async () => {
    const { header, version, frames } = await framesOf(await readFile(file));
    const forged = frames.map((f) => {
      if (f.kind !== FLOORS_KIND) return f;
      const floors = decodeFloors(f.items[0]!);
      const sig = Uint8Array.from(floors.floors[0]!.sig);
      sig[0] = sig[0]! ^ 0x01;
      return { kind: f.kind, items: [encodeFloors({ ...floors, floors: [{ ...floors.floors[0]!, sig }, ...floors.floors.slice(1)] })] };
    });
    const bytes = assemble(header, version, forged);
    await expect(verifyBackup([bytes])).resolves.toMatchObject({ version: 3 });
    const target = await member('forged-target');
    await target.records.create({ id: 'mine', name: 'Target record' });
    const mine = await target.records.get('mine');
    const refused = restoreBackup(target, () => [bytes]);
    await expect(refused).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
    await expect(refused).rejects.toThrow(/backup floors refused: .*no floor was raised/);
    expect((await target.status()).clock).toEqual({ 'forged-target': 1 });
    expect(await target.records.get('mine')).toEqual(mine);
    // The genuine file completes the restore (the documents merged before merge again as unchanged).
    await restoreBackup(target, () => createReadStream(file));
    expect(await target.records.get('c-00005')).toEqual(await source.records.get('c-00005'));
  });

  it('restores into a fresh directory under the source\'s own id, which takes its own floor and writes on', async () => {
    const again = await openNode({ ...cluster.member('source'), dataDir: join(dir, 'again'), listen: false });
    open.push(again);
    await restoreBackup(again, () => createReadStream(file));
    expect((await snapshotOf(again)).records).toEqual((await snapshotOf(source)).records);
    expect((await again.status()).clock).toEqual((await source.status()).clock);
    const own = (await again.status()).clock.source!;
    await again.records.update('c-00003', { notes: 'written after its own restore' });
    expect((await again.status()).clock.source).toBe(own + 1);
    // What it wrote on chains onto the restored history: a new member verifies all of it.
    const after = join(dir, 'again.crmbak');
    await writeBackupFile(again, after);
    const other = await member('other-after-own');
    await restoreBackup(other, () => createReadStream(after));
    expect(await other.records.get('c-00003')).toMatchObject({ notes: 'written after its own restore' });
  });
});

describe('a backup of a log never truncated', () => {
  it('is still written as version 2, and restores as before', async () => {
    const plain = await member('plain');
    await seed(plain, 30);
    await plain.records.delete('c-00002');
    expect(plain.exportFloors()).toEqual({ logStart: 1, floors: [] });
    const path = join(dir, 'plain.crmbak');
    const written = await writeBackupFile(plain, path);
    expect(written).toMatchObject({ version: 2, documents: 0, documentBlocks: 0, entries: 31 });
    expect(gunzipSync(await readFile(path)).readUInt16BE(8)).toBe(2);
    const target = await member('plain-target');
    expect(await restoreBackup(target, () => createReadStream(path))).toMatchObject({ adopted: 0, applied: 31, backup: { documents: 0 } });
    expect(await snapshotOf(target)).toEqual(await snapshotOf(plain));
  });
});
