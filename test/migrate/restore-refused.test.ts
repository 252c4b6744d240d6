/**
 * A refused `crmsync restore` leaves the target directory exactly as it was (the same
 * files with the same sizes, or still absent): a corrupt or version-1 backup is verified
 * before the directory is opened or created; a bad or mismatched node id is refused
 * before too; and a backup that verifies but fails in the node (altered entries that
 * fail their signatures, a node id the backup's cluster binds to another key) removes
 * the database it created.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataDirPaths } from '../../src/config/files.js';
import { writeBackupFile } from '../../src/migrate/backup.js';
import { createTestCluster } from '../../src/testing.js';
import { crmsync, initDataDir, PROCESS_TIMEOUT_MS, tree } from './cli-process.js';
import { customer, nodeAt } from './helpers.js';
import { allEntries, buildBackup, memberAt, trustOf } from './backup-helpers.js';
import { tempDirs } from './import-helpers.js';

const dirs = tempDirs();
let dir: string;
let good: string;
let corrupt: string;
let versionOne: string;
let altered: string;
/** A data directory with a database (node "keeper", from `crmsync init`). */
let existing: string;

beforeAll(async () => {
  dir = await dirs.make();
  const source = await memberAt(createTestCluster(), dir, 'source');
  await source.records.upsertMany(Array.from({ length: 5 }, (_, i) => {
    const { id, ...fields } = customer(i);
    return { id, fields };
  }));
  good = join(dir, 'good.crmbak');
  await writeBackupFile(source, good);
  // Every hash and count checks out, but the first change was altered: the file
  // verifies, and the node refuses the entries after the database was created.
  const [first, ...rest] = await allEntries(source);
  altered = join(dir, 'altered.crmbak');
  await writeFile(altered, buildBackup({ header: trustOf(source), entries: [{ ...first!, change: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }, ...rest] }));
  await source.close();
  const bytes = await readFile(good);
  bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x40;
  corrupt = join(dir, 'corrupt.crmbak');
  await writeFile(corrupt, bytes);
  const inner = gunzipSync(await readFile(good));
  inner.writeUInt16BE(1, 8);
  versionOne = join(dir, 'version-1.crmbak');
  await writeFile(versionOne, gzipSync(inner));
  existing = await initDataDir(join(dir, 'existing'), 'keeper');
  const keeper = await nodeAt(dataDirPaths(existing).db, 'keeper');
  await keeper.records.create({ id: 'mine', name: 'Mine' });
  await keeper.close();
});
afterAll(() => dirs.cleanup());

/** Runs a restore that must be refused with `code`, and checks the directory did not change. */
async function refused(dataDir: string, args: string[], code: number, message: RegExp): Promise<void> {
  const before = await tree(dataDir);
  const result = await crmsync(['restore', '-d', dataDir, ...args]);
  expect(result.stderr).toMatch(message);
  expect(result.code).toBe(code);
  expect(await tree(dataDir)).toEqual(before);
}

describe('a refused restore leaves the target directory as it was', () => {
  it('a corrupt backup: into a missing directory, an initialised one, one with a database', { timeout: PROCESS_TIMEOUT_MS * 3 }, async () => {
    await refused(join(dir, 'missing'), ['--node-id', 'fresh', corrupt], 1, /^error ERR_CORRUPT: /);
    expect(await tree(join(dir, 'missing'))).toBeNull();
    const initialised = await initDataDir(join(dir, 'initialised'), 'fresh');
    await refused(initialised, [corrupt], 1, /^error ERR_CORRUPT: /);
    await refused(existing, [corrupt], 1, /^error ERR_CORRUPT: /);
  });

  it('a node id that is invalid, or names another node than the directory\'s', { timeout: PROCESS_TIMEOUT_MS * 2 }, async () => {
    await refused(join(dir, 'missing-2'), ['--node-id', 'Not Valid!', good], 2, /^error ERR_VALIDATION: invalid configuration[\s\S]*node/);
    expect(await tree(join(dir, 'missing-2'))).toBeNull();
    await refused(existing, ['--node-id', 'someone-else', good], 2, /this data directory belongs to node "keeper" .*, not "someone-else"/);
  });

  it('a backup of format version 1: refused with the way to migrate, into a missing directory and one with a database', { timeout: PROCESS_TIMEOUT_MS * 2 }, async () => {
    const versionOneRefused = /^error ERR_VALIDATION: this is a backup of format version 1[\s\S]*crmsync export[\s\S]*crmsync import/;
    await refused(join(dir, 'missing-v1'), ['--node-id', 'fresh', versionOne], 2, versionOneRefused);
    expect(await tree(join(dir, 'missing-v1'))).toBeNull();
    await refused(existing, [versionOne], 2, versionOneRefused);
  });

  it('a backup whose entries were altered (hashes recomputed): refused by their signatures, the database it created removed', { timeout: PROCESS_TIMEOUT_MS * 2 }, async () => {
    await refused(join(dir, 'missing-3'), ['--node-id', 'fresh', altered], 1, /^error ERR_SIGNATURE: backup entries refused: entries of origin "source" .* not signed by that origin's key/);
    expect(await tree(join(dir, 'missing-3'))).toBeNull();
    const initialised = await initDataDir(join(dir, 'initialised-2'), 'fresh');
    await refused(initialised, [altered], 1, /^error ERR_SIGNATURE: /);
  });

  it('the backup\'s own node id for a new directory (a new key): refused, the database it created removed', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    await refused(join(dir, 'missing-4'), ['--node-id', 'source', good], 2, /^error ERR_VALIDATION: the backup's cluster binds node id "source" to another key/);
    expect(await tree(join(dir, 'missing-4'))).toBeNull();
  });

  it('and a good backup is still restored', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const result = await crmsync(['restore', '-d', join(dir, 'restored'), '--node-id', 'restored', good, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ applied: 5, records: { live: 5 } });
  });
});
