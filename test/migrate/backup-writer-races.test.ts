/**
 * The backup writer against a log that moves under it: a truncation between reading the
 * floors and the first page of entries is read again; one that overtakes the backup (it
 * removed entries not read yet, or raised a floor above the header's clock) fails it
 * with ERR_STORAGE and leaves no file; and a node that holds entries at or below its
 * floors (kept from before a bootstrap from documents) is written without them.
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrmNode, StoredEntry } from '../../src/index.js';
import { createTestCluster, type TestCluster } from '../../src/testing.js';
import { changeDigest } from '../../src/crdt/change-entry.js';
import { verifyBackup } from '../../src/migrate/backup-reader.js';
import { writeBackupFile, type BackupSource } from '../../src/migrate/backup.js';
import { restoreBackup } from '../../src/migrate/restore.js';
import { snapshotOf, tempDir } from './helpers.js';
import { allEntries, memberAt, seed, truncatedMember } from './backup-helpers.js';

let dir: string;
let remove: () => Promise<void>;
let cluster: TestCluster;
let truncated: CrmNode;
const open: CrmNode[] = [];

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  cluster = createTestCluster();
  truncated = await truncatedMember(cluster, dir, 'truncated');
  open.push(truncated);
});
afterAll(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
  await remove();
});

async function member(name: string): Promise<CrmNode> {
  const n = await memberAt(cluster, dir, name);
  open.push(n);
  return n;
}

/** The node as a backup source, with some of its answers replaced. */
function sourceOf(node: CrmNode, replace: Partial<BackupSource> = {}): BackupSource {
  return {
    status: () => node.status(), exportTrust: () => node.exportTrust(), trust: node.trust,
    exportEntries: (after, limit) => node.exportEntries(after, limit),
    exportFloors: () => node.exportFloors(), exportDocuments: (after, limit) => node.exportDocuments(after, limit),
    ...replace,
  };
}

describe('a backup of a log truncated while it runs', () => {
  it('reads the floors and the first page again when the log start moved in between', async () => {
    let calls = 0;
    // The second reading (the first after the documents) is from before a truncation.
    const source = sourceOf(truncated, { exportFloors: () => (++calls === 2 ? { logStart: 1, floors: [] } : truncated.exportFloors()) });
    const file = join(dir, 'retried.crmbak');
    expect(await writeBackupFile(source, file, { pageEntries: 2 })).toMatchObject({ version: 3, entries: 5 });
    expect(calls).toBeGreaterThanOrEqual(5);
    const target = await member('retried-target');
    await restoreBackup(target, () => createReadStream(file));
    expect(await snapshotOf(target)).toEqual(await snapshotOf(truncated));
  });

  it('fails with ERR_STORAGE and writes no file when a truncation overtakes it', async () => {
    let pages = 0;
    // From the second page on, the page's first entry is gone: truncated after the backup read the floors.
    const overtaken = sourceOf(truncated, {
      exportEntries: async (after, limit) => (++pages >= 2 ? (await truncated.exportEntries(after, limit)).slice(1) : truncated.exportEntries(after, limit)),
    });
    // A floor above the clock the backup read: entries made after it started were truncated.
    const raised = sourceOf(truncated, {
      exportFloors: () => {
        const { logStart, floors } = truncated.exportFloors();
        return { logStart, floors: floors.map((f) => ({ ...f, seq: f.seq + 100 })) };
      },
    });
    for (const [name, source] of [['overtaken', overtaken], ['raised', raised]] as const) {
      const file = join(dir, `${name}.crmbak`);
      await expect(writeBackupFile(source, file, { pageEntries: 2 })).rejects.toMatchObject({ code: 'ERR_STORAGE', message: expect.stringMatching(/truncated its change log past the backup .*take the backup again/) });
      expect((await readdir(dir)).filter((f) => f.startsWith(name))).toEqual([]);
    }
  });
});

describe('a backup of a node that holds entries at or below its floors', () => {
  it('leaves them out (the documents hold them) and restores the same records and clock', async () => {
    // A node that bootstrapped from documents may keep an origin's entries from before: here
    // the floor is put at the end of the first of three commits of a never-truncated log.
    const node = await member('bootstrapped');
    await seed(node, 150);
    const entries = await allEntries(node);
    const at = entries.findIndex((e) => e.boundary && e.sig);
    const floorEntry: StoredEntry = entries[at]!;
    expect(at).toBeGreaterThan(0);
    const floor = {
      origin: floorEntry.origin, seq: floorEntry.seq, chain: floorEntry.chain, sig: floorEntry.sig!,
      prev: entries[at - 1]!.chain, record: floorEntry.record, digest: changeDigest(floorEntry.change),
    };
    const source = sourceOf(node, { exportFloors: () => ({ logStart: 1, floors: [floor] }) });
    const file = join(dir, 'bootstrapped.crmbak');
    const stats = await writeBackupFile(source, file, { pageEntries: 7 });
    expect(stats).toMatchObject({ version: 3, documents: 150, entries: entries.length - floorEntry.seq });
    expect(await verifyBackup(createReadStream(file))).toMatchObject({ floors: { logStart: 1, floors: [{ seq: floorEntry.seq }] } });
    const target = await member('bootstrapped-target');
    expect(await restoreBackup(target, () => createReadStream(file))).toMatchObject({ adopted: 150, applied: entries.length - floorEntry.seq });
    expect(await snapshotOf(target)).toEqual(await snapshotOf(node));
  });
});
