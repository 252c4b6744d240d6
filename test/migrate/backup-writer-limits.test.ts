/**
 * A backup no reader would take is never written: a header with more trust statements
 * or more bytes than a reader accepts is refused with ERR_VALIDATION before the first
 * byte, and writing the file fails without touching the previous backup at that path.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { headerFrame, MAX_HEADER_BYTES, MAX_HEADER_STATEMENTS } from '../../src/migrate/backup-format.js';
import { verifyBackup } from '../../src/migrate/backup-reader.js';
import { writeBackupFile, type BackupSource } from '../../src/migrate/backup.js';
import { createTestCluster, type TestCluster } from '../../src/testing.js';
import { tempDir } from './helpers.js';
import { memberAt, seed } from './backup-helpers.js';

let dir: string;
let remove: () => Promise<void>;
let cluster: TestCluster;
let node: CrmNode;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('crmsync-backup-limits-'));
  cluster = createTestCluster();
  node = await memberAt(cluster, dir, 'source');
  await seed(node, 5);
});
afterAll(async () => {
  await node.close();
  await remove();
});

const header = (trust: unknown[]) => ({ nodeId: 'source', createdAt: 1, founder: cluster.founder.fingerprint, trust, clock: {}, lastLocalSeq: 0 });

describe('a backup header larger than a reader accepts', () => {
  it('is refused before any byte is produced: too many statements, or too many bytes', () => {
    const many = Array.from({ length: MAX_HEADER_STATEMENTS + 1 }, () => ({ op: 'grant', node: 'source' }));
    expect(() => headerFrame(header(many))).toThrow(expect.objectContaining({ code: 'ERR_VALIDATION', message: expect.stringMatching(/more than the 10000 a backup header holds/) }));
    const huge = [{ op: 'grant', node: 'source', padding: 'x'.repeat(MAX_HEADER_BYTES) }];
    expect(() => headerFrame(header(huge))).toThrow(expect.objectContaining({ code: 'ERR_VALIDATION', message: expect.stringMatching(/more than the \d+ a reader accepts/) }));
    // The largest header a reader takes is still written.
    expect(() => headerFrame(header(many.slice(1)))).not.toThrow();
  });

  it('fails the backup file and leaves the previous backup at that path as it was', async () => {
    const path = join(dir, 'source.crmbak');
    await writeBackupFile(node, path);
    const previous = await readFile(path);
    const oversized: BackupSource = {
      status: () => node.status(),
      exportEntries: (after, limit) => node.exportEntries(after, limit),
      exportFloors: () => node.exportFloors(),
      exportDocuments: (after, limit) => node.exportDocuments(after, limit),
      exportTrust: () => Array.from({ length: MAX_HEADER_STATEMENTS + 1 }, () => node.exportTrust()[0]),
      trust: node.trust,
    };
    await expect(writeBackupFile(oversized, path)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(await readFile(path)).toEqual(previous);
    expect(await readdir(dir)).not.toContain('source.crmbak.tmp');
    await expect(verifyBackup([previous])).resolves.toMatchObject({ entries: 5 });
  });
});
