/**
 * The backup and restore commands against a stopped node's data directory
 * (in-process command functions with a recording Io) and against a running node
 * through the real HTTP API (createApiServer on port 0). A directory without a database
 * restored into joins the backup's cluster; one of another cluster is refused.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiServer, type ApiServer } from '../../src/api/server.js';
import type { CrmNode, StoredEntry } from '../../src/index.js';
import { backup, restore, verifyBackupFile } from '../../src/cli/commands/backup.js';
import { init } from '../../src/cli/commands/init.js';
import { dataDirPaths } from '../../src/config/files.js';
import { writeBackupFile } from '../../src/migrate/backup.js';
import { createTestCluster, type TestCluster } from '../../src/testing.js';
import { memoryIo } from '../cli/helpers.js';
import { customer, nodeAt, snapshotOf, tempDir } from './helpers.js';
import { allEntries, buildBackup, memberAt, trustOf } from './backup-helpers.js';

let dir: string;
let remove: () => Promise<void>;
let cluster: TestCluster;
const cleanup: (() => Promise<void>)[] = [];

beforeEach(async () => {
  ({ dir, remove } = await tempDir('crmsync-migrate-cli-'));
  cluster = createTestCluster();
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  await remove();
});

/** `crmsync init` of a data dir; returns its path. */
async function initDir(name: string): Promise<string> {
  const dataDir = join(dir, name);
  await init({ dataDir, nodeId: name, listen: '127.0.0.1:0', api: '127.0.0.1:0' }, memoryIo());
  return dataDir;
}

/** Opens the node of an initialised data dir in this process. */
async function openDir(dataDir: string, nodeId: string): Promise<CrmNode> {
  const node = await nodeAt(dataDataDb(dataDir), nodeId);
  cleanup.push(() => node.close());
  return node;
}
const dataDataDb = (dataDir: string) => dataDirPaths(dataDir).db;

async function seed(node: CrmNode, n: number): Promise<void> {
  await node.records.upsertMany(Array.from({ length: n }, (_, i) => {
    const { id, ...fields } = customer(i, { notes: `note, "quoted"\nsecond line ${i}` });
    return { id, fields };
  }));
}

/** `crmsync backup` of a stopped node "berlin" (its own cluster) holding `rows` customers; returns the file. */
async function stoppedNodeBackup(rows: number, name: string): Promise<string> {
  const berlin = await initDir('berlin');
  const node = await nodeAt(dataDataDb(berlin), 'berlin');
  await seed(node, rows);
  await node.close();
  const file = join(dir, name);
  await backup(file, { dataDir: berlin }, memoryIo());
  return file;
}

describe('with a stopped node\'s data directory', () => {
  it('backs up, and restores into a new directory', async () => {
    const berlin = await initDir('berlin');
    const node = await nodeAt(dataDataDb(berlin), 'berlin');
    await seed(node, 25);
    await node.records.delete('c-00004');
    const expected = await snapshotOf(node);
    await node.close();

    const file = join(dir, 'berlin.crmbak');
    const io = memoryIo({ cwd: dir });
    const made = await backup('berlin.crmbak', { dataDir: berlin, json: true }, io);
    expect(JSON.parse(io.stdout)).toEqual(made);
    expect(made).toMatchObject({ file, nodeId: 'berlin', entries: 26, verified: true, clock: expected.clock, founder: expect.stringMatching(/^ed25519:/) });
    expect(await verifyBackupFile(file, {}, memoryIo())).toMatchObject({ entries: 26 });

    const restoredDir = join(dir, 'restored');
    const restoreIo = memoryIo();
    const result = await restore(file, { dataDir: restoredDir, nodeId: 'restored' }, restoreIo);
    expect(result).toMatchObject({ applied: 26, alreadyPresent: 0, records: { live: 24, deleted: 1 } });
    expect(restoreIo.stdout).toMatch(/applied\s+26/);
    const again = await restore(file, { dataDir: restoredDir }, memoryIo());
    expect(again).toMatchObject({ applied: 0, alreadyPresent: 26 });
    const restored = await openDir(restoredDir, 'restored');
    expect(await snapshotOf(restored)).toEqual(expected);
    // The new database joined the backup's cluster, with a key of its own (not yet granted).
    expect(restored.trust.view()).toMatchObject({ founder: made.founder, self: { node: 'restored', role: null } });
  });

  it('refuses a backup of another cluster into a directory with a database, which keeps its records', async () => {
    const file = await stoppedNodeBackup(5, 'berlin.crmbak');
    const other = await initDir('other');
    const keeper = await nodeAt(dataDataDb(other), 'other');
    await keeper.records.create({ id: 'mine', name: 'Mine' });
    const before = await snapshotOf(keeper);
    await keeper.close();
    for (const dryRun of [true, false]) {
      await expect(restore(file, { dataDir: other, dryRun }, memoryIo())).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringMatching(/the backup is of the cluster founded by/) });
    }
    expect(await snapshotOf(await openDir(other, 'other'))).toEqual(before);
  });

  it('says "use --api" while the node is running, and refuses a missing database', async () => {
    const berlin = await initDir('berlin');
    await openDir(berlin, 'berlin');
    await expect(backup(join(dir, 'x.crmbak'), { dataDir: berlin }, memoryIo())).rejects.toThrow(/the node on .* is running; use --api/);
    await expect(backup(join(dir, 'y.crmbak'), { dataDir: join(dir, 'nowhere') }, memoryIo())).rejects.toThrow(/no crmsync database/);
    await expect(restore(join(dir, 'missing.crmbak'), { dataDir: berlin }, memoryIo())).rejects.toThrow(/no backup file/);
  });

  it('refuses a corrupted file before opening anything for writing', async () => {
    const file = await stoppedNodeBackup(10, 'b.crmbak');
    const bytes = await readFile(file);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    await writeFile(file, bytes);
    const target = await initDir('target');
    await expect(restore(file, { dataDir: target }, memoryIo())).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    await expect(verifyBackupFile(file, {}, memoryIo())).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    const opened = await openDir(target, 'target');
    expect((await opened.status()).lastLocalSeq).toBe(0);
  });
});

describe('through the HTTP API of a running node', () => {
  const TOKEN = 'test-token-0123456789';

  async function serve(name: string): Promise<{ node: CrmNode; server: ApiServer }> {
    const node = await memberAt(cluster, dir, name);
    const server = await createApiServer(node, { token: TOKEN });
    cleanup.push(() => node.close());
    cleanup.push(() => server.close());
    return { node, server };
  }

  it('backs up while records are written, restores into another running node, refuses corruption', async () => {
    const source = await serve('source');
    await seed(source.node, 200);
    let stop = false;
    const writer = (async () => {
      let n = 0;
      while (!stop) await source.node.records.create({ id: `live-${n++}`, name: `Live ${n}` });
      return n;
    })();
    const file = join(dir, 'api.crmbak');
    const made = await backup(file, { api: source.server.url, apiToken: TOKEN, json: true }, memoryIo());
    stop = true;
    expect(await writer).toBeGreaterThan(0);
    expect(made.entries).toBeGreaterThanOrEqual(200);

    const target = await serve('target');
    await target.node.records.create({ id: 'mine', name: 'Target only' });
    const before = await snapshotOf(target.node);
    const bytes = await readFile(file);
    const corrupt = join(dir, 'corrupt.crmbak');
    await writeFile(corrupt, bytes.subarray(0, bytes.length - 100));
    const flags = { api: target.server.url, apiToken: TOKEN };
    await expect(restore(corrupt, flags, memoryIo())).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    expect(await snapshotOf(target.node)).toEqual(before);

    const dry = await restore(file, { ...flags, dryRun: true }, memoryIo());
    expect(dry).toMatchObject({ dryRun: true, applied: made.entries });
    expect(await snapshotOf(target.node)).toEqual(before);
    const result = await restore(file, flags, memoryIo());
    expect(result).toMatchObject({ applied: made.entries, alreadyPresent: 0, records: { live: made.entries + 1 } });
    const after = await snapshotOf(target.node);
    expect(after.clock).toEqual({ ...made.clock, target: 1 });
    expect(await target.node.records.get('c-00010')).toEqual(await source.node.records.get('c-00010'));
    expect(await restore(file, flags, memoryIo())).toMatchObject({ applied: 0, alreadyPresent: made.entries });

  });

  it('answers 401 without the token, 422 for a file that is not a backup or fails its signatures, 400 for another cluster or version 1', async () => {
    const { node, server } = await serve('node');
    const noAuth = await fetch(`${server.url}/v1/backup`);
    expect(noAuth.status).toBe(401);
    const upload = async (body: string | Buffer) => {
      const res = await fetch(`${server.url}/v1/restore`, {
        method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' }, body,
      });
      return { status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code };
    };
    expect(await upload('id,name\n1,Ann\n')).toEqual({ status: 422, code: 'ERR_CORRUPT' });
    // A member's backup with one change altered and every hash recomputed: refused by its signatures.
    const writer = await memberAt(cluster, dir, 'writer');
    cleanup.push(() => writer.close());
    await seed(writer, 3);
    const [first, ...rest] = await allEntries(writer);
    const altered = buildBackup({ header: trustOf(writer), entries: [{ ...first!, record: 'c-99999' as StoredEntry['record'] }, ...rest] });
    expect(await upload(altered)).toEqual({ status: 422, code: 'ERR_SIGNATURE' });
    // A backup of another cluster, and one of format version 1.
    const foreign = await memberAt(createTestCluster(), dir, 'foreign');
    cleanup.push(() => foreign.close());
    await seed(foreign, 2);
    await writeBackupFile(foreign, join(dir, 'foreign.crmbak'));
    const foreignBytes = await readFile(join(dir, 'foreign.crmbak'));
    expect(await upload(foreignBytes)).toEqual({ status: 400, code: 'ERR_VALIDATION' });
    const inner = gunzipSync(foreignBytes);
    inner.writeUInt16BE(1, 8);
    expect(await upload(gzipSync(inner))).toEqual({ status: 400, code: 'ERR_VALIDATION' });
    expect((await node.status()).lastLocalSeq).toBe(0);
    const backupResponse = await fetch(`${server.url}/v1/backup`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(backupResponse.headers.get('content-type')).toBe('application/gzip');
    const body = Buffer.from(await backupResponse.arrayBuffer());
    expect(body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  });
});
