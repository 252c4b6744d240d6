/**
 * Erasure (GDPR) across real nodes (LevelDB in temp dirs, sockets on 127.0.0.1): the
 * record leaves every node (document, view, history, change bodies, the files on disk),
 * the audit keeps who and when, and the id never comes back: not from a peer restored
 * from a backup taken before the erasure, not from that old backup restored on a node
 * that knows the erasure.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { writeBackupFile } from '../../src/migrate/backup.js';
import { restoreBackup } from '../../src/migrate/restore.js';
import { captureLog, Harness, testClock, waitForConvergence } from './helpers.js';

const PII = { name: 'Ada Lovelace', email: 'ada.lovelace@example.com', phone: '+44 20 7946 0000', notes: 'met at the Analytical Engine demo' };
const SECRET = /Lovelace|ada\.lovelace|Analytical/;

let harness: Harness;
afterEach(async () => {
  await harness.cleanup();
});

/**
 * The files of a directory whose bytes match `pattern` (to look for erased data on disk),
 * each with the bytes around the first match (printable, to tell which key held it).
 */
async function filesMatching(dir: string, pattern: RegExp): Promise<string[]> {
  const names = await readdir(dir);
  const texts = await Promise.all(names.map((name) => readFile(join(dir, name)).then((b) => b.toString('latin1'), () => '')));
  return names.flatMap((name, i) => {
    const at = texts[i]!.search(pattern);
    if (at < 0) return [];
    const around = texts[i]!.slice(Math.max(0, at - 80), at + 40).replace(/[^\x20-\x7e]/g, '.');
    return [`${name}: ${around}`];
  });
}

/** What a node still knows of a record: view, history and change bodies. */
async function traces(node: CrmNode, id: string) {
  const entries = (await node.exportEntries(0, 10_000)).filter((e) => e.record === id);
  return {
    view: await node.records.get(id),
    history: await node.records.history(id),
    bodies: entries.filter((e) => e.change.length > 0).length,
    stubs: entries.filter((e) => e.digest?.length === 64 && e.change.length === 0).length,
  };
}

async function pair(): Promise<{ a: CrmNode; b: CrmNode; dirA: string; dirB: string; log: ReturnType<typeof captureLog>; logB: ReturnType<typeof captureLog> }> {
  const log = captureLog();
  const logB = captureLog();
  const dirA = await harness.tempDir();
  const dirB = await harness.tempDir();
  const a = await harness.open({ dataDir: dirA, ...harness.cluster.member('a', { admin: true }), logger: log.logger });
  const b = await harness.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!], logger: logB.logger });
  return { a, b, dirA, dirB, log, logB };
}

describe('erasure', () => {
  it('removes the record from every node, its history, change bodies and files; the audit says who and when', async () => {
    harness = new Harness();
    const { a, b, dirA, dirB, log, logB } = await pair();
    await a.records.create({ id: 'c-ada', ...PII });
    await b.records.update('c-ada', { stage: 'qualified' }).catch(() => undefined);
    await a.records.create({ id: 'c-bob', name: 'Bob Keeps' });
    await waitForConvergence([a, b]);
    await b.records.update('c-ada', { stage: 'proposal', notes: 'Lovelace called back' });
    await waitForConvergence([a, b]);

    const erasure = await a.records.erase('c-ada');
    expect(erasure).toMatchObject({ node: 'a', subject: expect.stringMatching(/^[0-9a-f]{64}$/), at: expect.any(Number) });
    expect(JSON.stringify(erasure)).not.toContain('c-ada');
    await vi.waitFor(async () => expect((await traces(b, 'c-ada')).view).toBeUndefined(), { timeout: 20_000 });
    for (const node of [a, b]) {
      const left = await traces(node, 'c-ada');
      expect(left).toMatchObject({ view: undefined, history: [], bodies: 0 });
      expect(left.stubs).toBeGreaterThanOrEqual(2);
      expect(node.records.erasures()).toEqual([erasure]);
      expect((await node.records.get('c-bob'))?.name).toBe('Bob Keeps');
      expect((await node.status()).records).toMatchObject({ live: 1, deleted: 0 });
      await expect(node.records.put('c-ada', { name: 'Ada again' })).rejects.toMatchObject({ code: 'ERR_GONE' });
      await expect(node.records.upsertMany([{ id: 'c-ada', fields: { name: 'Ada again' } }])).resolves.toMatchObject([{ status: 'rejected', error: { code: 'ERR_GONE' } }]);
    }
    // Erasing again answers the first erasure.
    await expect(a.records.erase('c-ada')).resolves.toEqual(erasure);
    // Both nodes still verify and agree (chains hold with the stubs).
    await waitForConvergence([a, b]);
    expect((await b.verify()).problems).toBe(0);
    // Nothing of it on disk, in a backup taken now, or in a log line.
    await writeBackupFile(a, join(dirA, '..', 'after.crmbak'));
    expect(gunzipSync(await readFile(join(dirA, '..', 'after.crmbak'))).toString('latin1')).not.toMatch(SECRET);
    await vi.waitFor(async () => {
      expect(await filesMatching(dirA, SECRET), 'files of a (the eraser)').toEqual([]);
      const problems = logB.lines.filter((l) => (l.level ?? 0) >= 40).map((l) => l.msg);
      expect(await filesMatching(dirB, SECRET), `files of b (its warnings and errors: ${JSON.stringify(problems)})`).toEqual([]);
    }, { timeout: 20_000 });
    expect(log.lines.some((l) => l.msg === 'erasures applied')).toBe(true);
    expect(JSON.stringify(log.lines)).not.toMatch(/c-ada|Lovelace/);
  }, 60_000);

  it("reaches a laptop's own changes to a record that has left its subscription (kept whole for its peers)", async () => {
    harness = new Harness();
    const dirA = await harness.tempDir();
    const dirL = await harness.tempDir();
    const a = await harness.open({ dataDir: dirA, ...harness.cluster.member('a', { admin: true }) });
    const laptop = await harness.open({
      dataDir: dirL, ...harness.cluster.member('laptop', { role: 'laptop', scope: { territories: ['north', 'south'] } }),
      subscription: { territories: ['north'] }, peers: [a.url!],
    });
    await a.records.create({ id: 'c-ada', ...PII, territory: 'north' });
    await vi.waitFor(async () => expect(await laptop.records.get('c-ada')).toBeDefined(), { timeout: 20_000 });
    // The laptop's own edit, then its own move to another territory: the record leaves it,
    // its own two changes stay whole in its log (peers may still need them).
    await laptop.records.update('c-ada', { notes: 'Lovelace wants a second demo' });
    await laptop.records.update('c-ada', { territory: 'south' });
    await vi.waitFor(async () => expect((await a.records.get('c-ada'))?.territory).toBe('south'), { timeout: 20_000 });
    expect(await laptop.records.get('c-ada')).toBeUndefined();
    expect((await traces(laptop, 'c-ada')).bodies).toBe(2);

    await a.records.erase('c-ada');
    await vi.waitFor(() => expect(laptop.records.erasures()).toHaveLength(1), { timeout: 20_000 });
    await vi.waitFor(async () => expect((await traces(laptop, 'c-ada')).bodies).toBe(0), { timeout: 20_000 });
    await vi.waitFor(async () => expect(await filesMatching(dirL, SECRET)).toEqual([]), { timeout: 20_000 });
    expect((await laptop.verify()).problems).toBe(0);
  }, 60_000);

  it('a peer restored from a backup taken before the erasure reconnects: the record leaves it, and its offline edit does not bring it back', async () => {
    harness = new Harness();
    const { a, b, dirB } = await pair();
    await a.records.create({ id: 'c-ada', ...PII });
    await waitForConvergence([a, b]);
    const old = join(dirB, '..', 'before.crmbak');
    await writeBackupFile(b, old);
    await a.records.erase('c-ada');
    await vi.waitFor(async () => expect(await b.records.get('c-ada')).toBeUndefined(), { timeout: 20_000 });
    // A new member restored from b's old backup holds the record again, and edits it offline.
    const c = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'c' });
    await restoreBackup(c, () => [readFile(old)] as never);
    expect((await c.records.get('c-ada'))?.name).toBe('Ada Lovelace');
    await c.records.update('c-ada', { notes: 'Lovelace: offline note' });
    c.addPeer(a.url!);
    await vi.waitFor(async () => expect(c.records.erasures()).toHaveLength(1), { timeout: 20_000 });
    await waitForConvergence([a, b, c]);
    for (const node of [a, b, c]) expect(await traces(node, 'c-ada')).toMatchObject({ view: undefined, history: [], bodies: 0 });
    // c's offline edit crossed as a stub: a holds c's origin, not its data.
    expect((await a.status()).clock.c).toBeGreaterThan(0);
  }, 60_000);

  it('an old backup restored on a node that knows the erasure does not bring the record back', async () => {
    harness = new Harness();
    const { a, b, dirB } = await pair();
    await a.records.create({ id: 'c-ada', ...PII });
    await a.records.create({ id: 'c-bob', name: 'Bob Keeps' });
    await waitForConvergence([a, b]);
    const old = join(dirB, '..', 'before.crmbak');
    await writeBackupFile(b, old);
    await a.records.erase('c-ada');
    // A fresh member that only learns of the erasure from a, then gets the old backup.
    const d = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'd', peers: [a.url!] });
    await waitForConvergence([a, d]);
    await restoreBackup(d, () => [readFile(old)] as never);
    await restoreBackup(a, () => [readFile(old)] as never);
    for (const node of [a, d]) {
      expect(await traces(node, 'c-ada')).toMatchObject({ view: undefined, history: [], bodies: 0 });
      expect((await node.records.get('c-bob'))?.name).toBe('Bob Keeps');
    }
  }, 60_000);

  it('an old backup of a truncated log (record documents) restored on a node that knows the erasure does not bring the record back', async () => {
    harness = new Harness();
    const time = testClock();
    const limits = { lifecycleIntervalMs: 50, logRetentionMs: 60_000 };
    const dir = await harness.tempDir();
    const a = await harness.open({ dataDir: dir, ...harness.cluster.member('a', { admin: true }), timers: time, limits });
    await a.records.create({ id: 'c-ada', ...PII });
    await a.records.create({ id: 'c-bob', name: 'Bob Keeps' });
    time.advance(120_000);
    await vi.waitFor(async () => expect(a.exportFloors().logStart).toBeGreaterThan(2), { timeout: 20_000 });
    const old = join(dir, '..', 'truncated-before.crmbak');
    await writeBackupFile(a, old);
    expect(gunzipSync(await readFile(old)).toString('latin1')).toMatch(SECRET); // the documents carry the record
    await a.records.erase('c-ada');
    await restoreBackup(a, () => [readFile(old)] as never);
    expect(await traces(a, 'c-ada')).toMatchObject({ view: undefined, history: [], bodies: 0 });
    expect((await a.records.get('c-bob'))?.name).toBe('Bob Keeps');
  }, 60_000);

  it('refuses bad erase requests: a member that is not an administrator, an unknown or invalid id', async () => {
    harness = new Harness();
    const { a, b } = await pair();
    await a.records.create({ id: 'c-ada', ...PII });
    await waitForConvergence([a, b]);
    await expect(b.records.erase('c-ada')).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    await expect(a.records.erase('c-nobody')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(a.records.erase('bad/id')).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(a.records.erase('')).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(a.records.erasures()).toEqual([]);
    expect((await b.records.get('c-ada'))?.name).toBe('Ada Lovelace');
  }, 60_000);
});
