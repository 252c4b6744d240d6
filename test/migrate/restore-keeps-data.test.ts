/**
 * Every kind of bad backup, fed to nodes that already hold data (their own records,
 * records restored from another member, trust statements): through restoreBackup, and
 * through POST /v1/restore of a running node. Each is refused with its error code and a
 * message that says what is wrong, and the node loses nothing it held: records, clock
 * and trust list are as before (an altered entry in a later batch leaves the verified
 * earlier batches merged, and everything held before unchanged). The node then still
 * writes and takes the genuine backup. The library tests run in order on one target,
 * each starting from what the one before left.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, type ApiServer } from '../../src/api/server.js';
import type { CrmNode, StoredEntry } from '../../src/index.js';
import { writeBackupFile } from '../../src/migrate/backup.js';
import { restoreBackup } from '../../src/migrate/restore.js';
import { createTestCluster, type TestCluster } from '../../src/testing.js';
import { customer, snapshotOf, tempDir } from './helpers.js';
import { allEntries, buildBackup, memberAt, seed, trustOf } from './backup-helpers.js';

const TOKEN = 'test-token-0123456789';
let dir: string;
let remove: () => Promise<void>;
const open: CrmNode[] = [];
/** A member holding its own records and those of member "peer". */
let target: CrmNode;
/** Five commits of 20 rows by member "source": a boundary every 20 entries. */
let entries: StoredEntry[];
/** The header fields of a file of the cluster: founder and source's trust statements. */
let sourceTrust: ReturnType<typeof trustOf>;
let good: Buffer;
/**
 * Bad files refused before anything is written: [what, bytes, code, message, whether a
 * dry run refuses it too (it checks the file and the cluster, not signatures)].
 */
let refusedBeforeWriting: [string, Buffer, string, RegExp, boolean][];
/** Member "orig" restored into a new directory with its key, which wrote before it synced. */
let recovered: CrmNode;
/** The original "orig" after it wrote on: a history the recovered node contradicts. */
let forkedFile: Buffer;

/** What a refused restore must leave as it was. */
async function stateOf(node: CrmNode) {
  return { ...(await snapshotOf(node)), trust: node.exportTrust() };
}

/** A member on a real LevelDB directory, closed after the file. */
async function member(cluster: TestCluster, name: string, nodeId = name): Promise<CrmNode> {
  const node = await memberAt(cluster, dir, name, nodeId);
  open.push(node);
  return node;
}

async function backupOf(node: CrmNode, name: string): Promise<Buffer> {
  await writeBackupFile(node, join(dir, name));
  return readFile(join(dir, name));
}

/** `entries` as a backup with entry `at` changed (every hash recomputed: it passes the file checks). */
function altered(at: number, change: (e: StoredEntry) => StoredEntry = flipChange): Buffer {
  return buildBackup({ header: sourceTrust, entries: entries.map((e, i) => (i === at ? change(e) : e)), blockEntries: 7 });
}

function flipChange(e: StoredEntry): StoredEntry {
  const change = Uint8Array.from(e.change);
  change[change.length >> 1] = change[change.length >> 1]! ^ 0x01;
  return { ...e, change };
}

/** The decompressed file with its format version replaced. */
function withVersion(bytes: Buffer, version: number): Buffer {
  const inner = Buffer.from(gunzipSync(bytes));
  inner.writeUInt16BE(version, 8);
  return gzipSync(inner);
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('crmsync-restore-keeps-'));
  const cluster = createTestCluster();
  // Created first, so the target knows neither "peer" nor "source" until a restore adds them.
  target = await member(cluster, 'target');
  await target.records.create({ id: 'mine-1', name: 'Mine one' });
  await target.records.create({ id: 'mine-2', name: 'Mine two' });
  await target.records.update('mine-1', { stage: 'won' });
  const peer = await member(cluster, 'peer');
  await seed(peer, 5, 500);
  const fromPeer = await backupOf(peer, 'peer.crmbak');
  await restoreBackup(target, () => [fromPeer]);

  const source = await member(cluster, 'source');
  for (let c = 0; c < 5; c++) await seed(source, 20, c * 20);
  entries = await allEntries(source);
  sourceTrust = trustOf(source);
  good = await backupOf(source, 'source.crmbak');

  const foreign = await member(createTestCluster(), 'foreign');
  await seed(foreign, 2);
  const [first, ...others] = trustOf(source).trust as Record<string, unknown>[];
  const flipped = Buffer.from(good);
  flipped[flipped.length >> 1] = flipped[flipped.length >> 1]! ^ 0x40;
  refusedBeforeWriting = [
    ['an empty file', Buffer.alloc(0), 'ERR_CORRUPT', /empty or truncated/, true],
    ['a file that is not a backup', Buffer.from('id,name\n1,Ann\n'), 'ERR_CORRUPT', /not a crmsync backup/, true],
    ['a truncated backup', good.subarray(0, good.length >> 1), 'ERR_CORRUPT', /truncated/, true],
    ['a backup with a flipped byte', flipped, 'ERR_CORRUPT', /backup file is corrupt/, true],
    ['a backup of format version 1', withVersion(good, 1), 'ERR_VALIDATION', /format version 1, .* unsigned: .*crmsync export .*crmsync import/, true],
    ['a backup of an unknown format version', withVersion(good, 4), 'ERR_CORRUPT', /format version 4 is not supported .* a newer crmsync wrote it/, true],
    ['a backup of another cluster', await backupOf(foreign, 'foreign.crmbak'), 'ERR_VALIDATION', /the backup is of the cluster founded by .*restore it into a node of its own cluster/, true],
    ['a backup whose trust statements were altered', buildBackup({ header: { ...trustOf(source), trust: [{ ...first, admin: true }, ...others] }, entries }),
      'ERR_CORRUPT', /trust statements do not verify.*nothing was restored/, false],
  ];

  // A node restored from its own backup with its key writes before it syncs: its history
  // and the original's part at seq 11.
  const orig = await member(cluster, 'orig-a', 'orig');
  await seed(orig, 10, 800);
  recovered = await member(cluster, 'orig-b', 'orig');
  const ownBackup = await backupOf(orig, 'orig-1.crmbak');
  await restoreBackup(recovered, () => [ownBackup]);
  await recovered.records.create({ id: 'written-after-recovery', name: 'Recovered' });
  await orig.records.create({ id: 'written-by-original', name: 'Original' });
  forkedFile = await backupOf(orig, 'orig-2.crmbak');
}, 120_000);
afterAll(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
  await remove();
});

describe('a node given a bad backup loses nothing it held', () => {
  it('refuses each damaged, foreign, version-1 or altered-trust file before writing anything', async () => {
    const before = await stateOf(target);
    expect(before.records.map((r) => r.id)).toEqual(expect.arrayContaining(['mine-1', 'mine-2', 'c-00500']));
    for (const [what, bytes, code, message, dryRunRefuses] of refusedBeforeWriting) {
      for (const dryRun of dryRunRefuses ? [true, false] : [false]) {
        const refused = restoreBackup(target, () => [bytes], { dryRun });
        await expect(refused, what).rejects.toMatchObject({ code });
        await expect(refused, what).rejects.toThrow(message);
      }
      expect(await stateOf(target), what).toEqual(before);
    }
  });

  it('refuses an altered entry in the first batch by its signature: none of it stored', async () => {
    const before = await stateOf(target);
    const refused = restoreBackup(target, () => [altered(5)], { batchEntries: 20 });
    await expect(refused).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
    await expect(refused).rejects.toThrow(/not signed by that origin's key .*nothing of this batch was stored \(0 entries/);
    const after = await stateOf(target);
    expect({ ...after, trust: undefined }).toEqual({ ...before, trust: undefined });
    // The statements verified and were added before the entries: the list only grew.
    expect(after.trust).toEqual(expect.arrayContaining(before.trust));
  });

  it('refuses an altered entry in a later batch: earlier batches merged, everything held before unchanged; then the genuine file completes', async () => {
    const before = await snapshotOf(target);
    const refused = restoreBackup(target, () => [altered(65)], { batchEntries: 20 });
    await expect(refused).rejects.toMatchObject({ code: 'ERR_SIGNATURE', message: expect.stringMatching(/60 entries of earlier batches were merged/) });
    const after = await snapshotOf(target);
    expect(after.records).toEqual(expect.arrayContaining(before.records));
    expect(after.clock).toEqual({ ...before.clock, source: 60 });
    expect(await target.records.get('c-00065')).toBeUndefined();
    await target.records.update('mine-2', { stage: 'qualified' });
    expect(await restoreBackup(target, () => [good])).toMatchObject({ applied: 40, alreadyPresent: 60 });
    expect(await target.records.get('mine-2')).toMatchObject({ stage: 'qualified' });
    expect(await target.records.get('c-00099')).toMatchObject({ id: 'c-00099', name: customer(99).name });
  });

  it('refuses a file that rewrites entries the node already holds', async () => {
    const before = await stateOf(target);
    expect(before.clock.source).toBe(100);
    for (const bytes of [altered(5), altered(99, (e) => ({ ...e, record: 'c-77777' as StoredEntry['record'] }))]) {
      await expect(restoreBackup(target, () => [bytes])).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
    }
    expect(await stateOf(target)).toEqual(before);
  });

  it('refuses a history of an origin that contradicts the one it holds (a fork), with the evidence', async () => {
    const before = await stateOf(recovered);
    const refused = restoreBackup(recovered, () => [forkedFile]);
    await expect(refused).rejects.toMatchObject({ code: 'ERR_ORIGIN_FORKED', evidence: { origin: 'orig', seq: 11 } });
    await expect(refused).rejects.toThrow(/signed two different histories .*nothing of this batch was stored/);
    expect(await stateOf(recovered)).toEqual(before);
    expect(await recovered.records.get('written-after-recovery')).toMatchObject({ name: 'Recovered' });
  });
});

describe('POST /v1/restore of a running node given a bad backup', () => {
  let server: ApiServer;
  beforeAll(async () => {
    server = await createApiServer(recovered, { token: TOKEN });
  });
  afterAll(() => server.close());

  const upload = async (body: Buffer, url = server.url) => {
    const res = await fetch(`${url}/v1/restore`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' }, body,
    });
    const { error } = (await res.json()) as { error?: { code: string; message: string } };
    return { status: res.status, code: error?.code, message: error?.message ?? '' };
  };

  it('answers each with its status and code, and the node keeps everything it held', async () => {
    const before = await stateOf(recovered);
    const status: Record<string, number> = { ERR_CORRUPT: 422, ERR_VALIDATION: 400 };
    for (const [what, bytes, code, message] of refusedBeforeWriting) {
      const answer = await upload(bytes);
      expect({ what, status: answer.status, code: answer.code }).toEqual({ what, status: status[code], code });
      expect(answer.message, what).toMatch(message);
      expect(await stateOf(recovered), what).toEqual(before);
    }
    expect(await upload(forkedFile)).toMatchObject({ status: 409, code: 'ERR_ORIGIN_FORKED' });
    expect(await stateOf(recovered)).toEqual(before);
    expect(await upload(altered(5))).toMatchObject({ status: 422, code: 'ERR_SIGNATURE' });
    const after = await snapshotOf(recovered);
    expect(after).toEqual((({ trust: _, ...rest }) => rest)(before));
    // Still a working node.
    await recovered.records.create({ id: 'after-uploads', name: 'Still writing' });
  });

  it('answers 413 for an upload over the limit: the node as it was, no staged file left', async () => {
    const staging = join(dir, 'staging');
    await mkdir(staging);
    const limited = await createApiServer(recovered, { token: TOKEN, restore: { maxUploadBytes: 1024, tmpDir: staging } });
    try {
      const before = await stateOf(recovered);
      expect(good.length).toBeGreaterThan(1024);
      expect(await upload(good, limited.url)).toMatchObject({ status: 413, code: 'ERR_VALIDATION', message: expect.stringMatching(/larger than 1024 bytes/) });
      expect(await stateOf(recovered)).toEqual(before);
      expect(await readdir(staging)).toEqual([]);
    } finally {
      await limited.close();
    }
  });
});
