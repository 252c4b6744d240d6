/**
 * Erasure of a record no node ever applied: its only change was quarantined (a scoped
 * laptop wrote it outside its scope), so no node holds a view or document of it, only
 * the log entry with its body. Real LevelDB in temp dirs, real sockets: the erasure must
 * still take that body out of every node's log and off the disk.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { holds } from '../support/attack-rig.js';
import { atomic, MemberDocs } from '../support/member-docs.js';
import { rawPeer } from '../support/raw-peer.js';
import { Harness } from './helpers.js';

const SECRET = /Grace Hopper|grace\.hopper@navy/;

const h = new Harness();
afterEach(() => h.cleanup());

/** The files of a directory whose bytes match `pattern`. */
async function filesMatching(dir: string, pattern: RegExp): Promise<string[]> {
  const names = await readdir(dir);
  const texts = await Promise.all(names.map((name) => readFile(join(dir, name)).then((b) => b.toString('latin1'), () => '')));
  return names.filter((_, i) => pattern.test(texts[i]!));
}

/** The node's log entries of `id`, with and without a body. */
async function entriesOf(node: CrmNode, id: string) {
  const entries = (await node.exportEntries(0, 10_000)).filter((e) => e.record === id);
  return { bodies: entries.filter((e) => e.change.length > 0).length, stubs: entries.filter((e) => e.digest !== undefined && e.change.length === 0).length };
}

describe('erasure of a record whose only change was quarantined', () => {
  it('stubs that change on every node and leaves nothing of it on disk', async () => {
    const dirA = await h.tempDir();
    const dirB = await h.tempDir();
    const a = await h.open({ dataDir: dirA, ...h.cluster.member('a', { admin: true }) });
    const b = await h.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!] });
    const laptop = await rawPeer(a.url!, h.cluster.member('laptop-n', { role: 'laptop', scope: { territories: ['north'] } }), { autoAck: true });
    const docs = new MemberDocs('laptop-n');
    const batch = laptop.sendChanges(laptop.entries([{
      record: 's-pii',
      change: docs.write('s-pii', (d) => {
        d.id = atomic('s-pii');
        d.name = atomic('Grace Hopper');
        d.email = atomic('grace.hopper@navy.example');
        d.territory = atomic('south'); // outside the laptop's scope: every node quarantines it
        d.createdAt = 1;
        d.updatedAt = 1;
      }),
    }]));
    await laptop.next((m) => m.type === 'ack' && m.batch === batch);
    await holds(b, 'laptop-n', 1); // relayed by a, quarantined by b too
    for (const node of [a, b]) {
      expect(await node.records.get('s-pii')).toBeUndefined();
      expect(await node.records.history('s-pii')).toEqual([expect.objectContaining({ quarantined: expect.stringMatching(/scope/) })]);
      expect(await entriesOf(node, 's-pii')).toEqual({ bodies: 1, stubs: 0 });
    }

    expect(await filesMatching(dirA, SECRET)).not.toEqual([]); // so the check below means something

    await a.records.erase('s-pii');
    await vi.waitFor(async () => expect(await entriesOf(b, 's-pii')).toEqual({ bodies: 0, stubs: 1 }), { timeout: 20_000 });
    for (const node of [a, b]) {
      expect(await entriesOf(node, 's-pii')).toEqual({ bodies: 0, stubs: 1 });
      expect(await node.records.history('s-pii')).toEqual([]);
      await expect(node.records.put('s-pii', { name: 'again' })).rejects.toMatchObject({ code: 'ERR_GONE' });
      expect((await node.status()).records).toEqual({ live: 0, deleted: 0, indexBacklog: 0 });
    }
    // The chains still verify with the stub in place: b and a agree and verify clean.
    expect((await b.verify()).problems).toBe(0);
    await vi.waitFor(async () => {
      expect(await filesMatching(dirA, SECRET)).toEqual([]);
      expect(await filesMatching(dirB, SECRET)).toEqual([]);
    }, { timeout: 20_000 });
    // Durable: b reopened from its directory still holds only the stub.
    await b.close();
    const reopened = await h.open({ dataDir: dirB, nodeId: 'b' });
    expect(await entriesOf(reopened, 's-pii')).toEqual({ bodies: 0, stubs: 1 });
    docs.close();
  }, 60_000);
});
