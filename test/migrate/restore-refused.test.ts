/**
 * A refused `crmsync restore` leaves the target directory exactly as it was (the same
 * files with the same sizes, or still absent): a corrupt backup is verified before the
 * directory is opened or created; a bad or mismatched node id is refused before too;
 * and a backup that verifies but fails while merging removes the database it created.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEntry } from '../../src/migrate/backup-entry.js';
import { blockFrame, ChainDigest, headerFrame, trailerFrame } from '../../src/migrate/backup-format.js';
import { writeBackupFile } from '../../src/migrate/backup.js';
import { crmsync, initDataDir, PROCESS_TIMEOUT_MS, tree } from './cli-process.js';
import { customer, nodeAt, nodeOfDataDir } from './helpers.js';
import { tempDirs } from './import-helpers.js';

const dirs = tempDirs();
let dir: string;
let good: string;
let corrupt: string;
let unmergeable: string;
/** A data directory with a database (node "keeper", from `crmsync init`). */
let existing: string;

beforeAll(async () => {
  dir = await dirs.make();
  const source = await nodeAt(join(dir, 'source'), 'source');
  await source.records.upsertMany(Array.from({ length: 5 }, (_, i) => {
    const { id, ...fields } = customer(i);
    return { id, fields };
  }));
  good = join(dir, 'good.crmbak');
  await writeBackupFile(source, good);
  // Every hash and count checks out, but the first change is not an Automerge change:
  // the file verifies, and the merge fails after the database was created.
  const [first] = await source.exportEntries(0, 1);
  await source.close();
  const encoded = [encodeEntry({ ...first!, change: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) })];
  const head = headerFrame({ nodeId: 'source', createdAt: 1, clock: { source: 1 }, lastLocalSeq: 1 });
  const block = blockFrame(encoded);
  const chain = new ChainDigest();
  chain.add(head.hash);
  chain.add(block.hash);
  unmergeable = join(dir, 'unmergeable.crmbak');
  await writeFile(unmergeable, gzipSync(Buffer.concat([head.bytes, block.bytes, trailerFrame(1, 1, chain.digest())])));
  const bytes = await readFile(good);
  bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x40;
  corrupt = join(dir, 'corrupt.crmbak');
  await writeFile(corrupt, bytes);
  existing = await initDataDir(join(dir, 'existing'), 'keeper');
  const keeper = await nodeOfDataDir(existing, 'keeper');
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

  it('a backup that verifies but cannot be merged: the database it created is removed', { timeout: PROCESS_TIMEOUT_MS * 2 }, async () => {
    await refused(join(dir, 'missing-3'), ['--node-id', 'fresh', unmergeable], 1, /malformed Automerge change/);
    expect(await tree(join(dir, 'missing-3'))).toBeNull();
    const initialised = await initDataDir(join(dir, 'initialised-2'), 'fresh');
    await refused(initialised, [unmergeable], 1, /malformed Automerge change/);
  });

  it('and a good backup is still restored', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const result = await crmsync(['restore', '-d', join(dir, 'restored'), '--node-id', 'restored', good, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ applied: 5, records: { live: 5 } });
  });
});
