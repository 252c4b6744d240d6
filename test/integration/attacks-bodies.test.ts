/**
 * Issue 8, attacks (1) and (5): a cluster member signs entries whose change bodies are
 * garbage, or valid Automerge changes that put a record outside the record schema. Over
 * real sockets, against the line a <- b <- c: the entries are stored quarantined (with
 * the reason in history) on a and on every node they are relayed to, never applied and
 * never shown; the record stays editable; verify() is clean; no session is closed, so
 * nothing reconnects in a loop; and honest writes keep flowing.
 */
import * as A from '@automerge/automerge';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { atomic, garbageChange, MemberDocs, noise } from '../support/member-docs.js';
import { rawPeer } from '../support/raw-peer.js';
import { MAX_NOTES_LENGTH } from '../../src/crdt/record-schema.js';
import {
  closesWith, expectHonestSync, expectNeverShown, expectVerifyClean, holds, openLine, sessionClosed,
} from '../support/attack-rig.js';
import { Harness, nextChange, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

const LONG_NAME = `Pwned ${'x'.repeat(994)}`;

describe('a member signing garbage or out-of-schema changes', () => {
  it('garbage bodies are quarantined with their reason on every node, never applied; the record stays editable', async () => {
    const { a, b, c, logs } = await openLine(h);
    const before = await a.records.get('victim');
    const mallory = await rawPeer(a.url!, h.cluster.member('mallory'), { autoAck: true });
    const docs = new MemberDocs('mallory');
    const own = docs.write('mal-ok', (d) => { d.id = atomic('mal-ok'); d.name = atomic('Written by Mallory'); d.createdAt = 1; d.updatedAt = 1; });
    // A valid chunk header (checksum and all) over a garbage body; bytes that are no chunk
    // at all; then a good change of mallory's own, whose signature covers the two before.
    const batch = mallory.sendChanges(mallory.entries([
      { record: 'victim', change: garbageChange(7) },
      { record: 'victim', change: noise(90, 3) },
      { record: 'mal-ok', change: own },
    ]));
    await mallory.next((m) => m.type === 'ack' && m.batch === batch);
    await holds(c, 'mallory', 3); // relayed a -> b -> c

    for (const node of [a, b, c]) {
      expect(await node.records.get('victim'), node.id).toEqual(before);
      expect(await node.records.conflicts('victim')).toEqual([]);
      const history = (await node.records.history('victim')).filter((e) => e.node === 'mallory');
      expect(history, node.id).toEqual([
        expect.objectContaining({ seq: 1, quarantined: expect.stringMatching(/does not parse|malformed Automerge change/) }),
        expect.objectContaining({ seq: 2, quarantined: expect.stringMatching(/malformed Automerge change/) }),
      ]);
      expect(await node.records.get('mal-ok')).toMatchObject({ name: 'Written by Mallory' });
    }
    await expectVerifyClean([a, b, c]);

    // Editable everywhere: a write on c reaches a, a write on a reaches c.
    const onA = nextChange(a, (e) => e.id === 'victim' && e.origin === 'c');
    await c.records.update('victim', { company: 'Edited on c' });
    await onA;
    const onC = nextChange(c, (e) => e.id === 'victim' && e.origin === 'a');
    await a.records.update('victim', { stage: 'won' });
    await onC;
    const common = await waitForConvergence([a, b, c]);
    expect(common.records.find((r) => r.id === 'victim')).toMatchObject({ company: 'Edited on c', stage: 'won', conflicts: [] });

    // No session was closed (mallory's or an honest one): nothing reconnects in a loop.
    expect(logs.flatMap((l) => l.lines.filter(sessionClosed))).toEqual([]);
    expect(mallory.ws.readyState).toBe(WebSocket.OPEN);
    for (const node of [a, b, c]) expect((await node.status()).rejectedConnections).toBe(0);
    await expectHonestSync([a, b, c]);
    mallory.ws.terminate();
    docs.close();
  });

  it('changes that apply but leave the schema are quarantined and never shown, whatever the framing', async () => {
    const { a, b, c, logs } = await openLine(h);
    // Mallory also talks to c directly: the same entries reach c in other frames than a's.
    const mallory = await rawPeer(a.url!, h.cluster.member('mallory'), { autoAck: true });
    const direct = await rawPeer(c.url!, h.cluster.member('mallory'), { autoAck: true });
    await mallory.next((m) => m.type === 'changes');
    // Each bad change by its own mallory process, on the clean record: none depends on another.
    const writers = [1, 2, 3, 4, 5, 6].map((n) => new MemberDocs('mallory', n));
    for (const w of writers) w.learn('victim', mallory.changesOf('victim'));
    const [w1, w2, w3, w4, w5, w6] = writers as [MemberDocs, MemberDocs, MemberDocs, MemberDocs, MemberDocs, MemberDocs];
    const changes = [
      w1.write('victim', (d) => { d.stage = atomic('pwned-not-a-stage'); }),
      w1.write('victim', (d) => { d.name = atomic('Fixed Up By Mallory'); d.stage = atomic('lead'); }), // hides the bad stage again
      w2.write('victim', (d) => { d.name = atomic(LONG_NAME); }),
      w3.write('victim', (d) => { d.tags = null; }), // no record without its tag map
      w4.write('victim', (d) => { d.custom.x = { nested: 'map' }; }), // would read as "[object Object]"
      w5.write('victim', (d) => { d.title = 42; }), // a number where the schema says text
      w6.write('victim', (d) => { d.company = atomic('Mallory Corp'); }), // valid
    ];
    // Signed at every entry, as a node signs every boundary, so each can travel in a frame of its own.
    const entries = mallory.entries(changes.map((change) => ({ record: 'victim', change })), { signEach: true });
    const batch = mallory.sendChanges(entries);
    await mallory.next((m) => m.type === 'ack' && m.batch === batch);
    // c gets each entry in a frame of its own.
    for (const entry of entries) {
      const n = direct.sendChanges([entry]);
      await direct.next((m) => m.type === 'ack' && m.batch === n);
    }
    await holds(c, 'mallory', changes.length);
    await holds(b, 'mallory', changes.length);

    await expectNeverShown([a, b, c], ['pwned-not-a-stage', LONG_NAME.slice(0, 40), '[object Object]', 'Fixed Up By Mallory']);
    for (const node of [a, b, c]) {
      const view = await node.records.get('victim');
      expect(view, node.id).toMatchObject({ name: 'Victim Customer', stage: 'lead', tags: ['vip'], company: 'Mallory Corp' });
      expect(view).not.toHaveProperty('title');
      const quarantined = (await node.records.history('victim')).filter((e) => e.quarantined !== undefined);
      expect(quarantined.map((e) => e.seq), node.id).toEqual([1, 2, 3, 4, 5, 6]);
      expect(quarantined[0]!.quarantined).toMatch(/outside the record schema/);
      expect(quarantined[1]!.quarantined).toMatch(/dependencies/);
    }
    // An honest edit made on a (over whatever a applied) shows on c: both hold the same document.
    const onC = nextChange(c, (e) => e.id === 'victim' && e.origin === 'a');
    await a.records.update('victim', { owner: 'Honest Owner' });
    await onC;
    const common = await waitForConvergence([a, b, c]);
    expect(common.records.find((r) => r.id === 'victim')).toMatchObject({ owner: 'Honest Owner', company: 'Mallory Corp' });
    await expectVerifyClean([a, b, c]);
    expect(closesWith(logs, ['mallory', 'a', 'b', 'c'])).toEqual([]);
    await expectHonestSync([a, b, c]);
    for (const p of [mallory, direct]) p.ws.terminate();
    for (const w of writers) w.close();
  });

  it('notes that pass the limit only across changes are quarantined everywhere', async () => {
    // Each change's characters pass the per-op check (change-schema.ts) and each change
    // alone stays under the limit: only the record's view knows the sum.
    const { a, b, c } = await openLine(h);
    const mallory = await rawPeer(a.url!, h.cluster.member('mallory'), { autoAck: true });
    const docs = new MemberDocs('mallory');
    const first = Math.floor(MAX_NOTES_LENGTH * 0.6);
    const changes = (id: string, total: number) => [
      docs.write(id, (d) => {
        d.id = atomic(id);
        d.name = atomic(`Notes ${total}`);
        d.createdAt = 1;
        d.updatedAt = 1;
        A.splice(d, ['notes'], 0, 0, 'x'.repeat(first));
      }),
      docs.write(id, (d) => A.splice(d, ['notes'], first, 0, '😀'.repeat(total - first))), // emoji: the limit counts code points
    ];
    const atLimit = changes('mal-at-limit', MAX_NOTES_LENGTH);
    const overLimit = changes('mal-over-limit', MAX_NOTES_LENGTH + 1);
    const batch = mallory.sendChanges(mallory.entries([
      ...atLimit.map((change) => ({ record: 'mal-at-limit', change })),
      ...overLimit.map((change) => ({ record: 'mal-over-limit', change })),
    ]));
    await mallory.next((m) => m.type === 'ack' && m.batch === batch);
    await holds(c, 'mallory', 4);
    for (const node of [a, b, c]) {
      expect([...(await node.records.get('mal-at-limit'))!.notes], node.id).toHaveLength(MAX_NOTES_LENGTH);
      expect((await node.records.get('mal-over-limit'))?.notes, node.id).toBe('x'.repeat(first));
      const [, second] = await node.records.history('mal-over-limit');
      expect(second?.quarantined, node.id).toMatch(/outside the record schema \(notes:/);
    }
    await expectVerifyClean([a, b, c]);
    mallory.ws.terminate();
    docs.close();
  });

  it('an out-of-schema value is refused alike whether or not it would lose a conflict where it arrives', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a' });
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!] });
    const d = await h.open({ dataDir: await h.tempDir(), nodeId: 'd', peers: [a.url!] });
    await b.records.create({ id: 'victim', name: 'Victim Customer', stage: 'lead' });
    await waitForConvergence([a, b, d]);
    d.removePeer(a.url!); // d goes offline
    const mallory = await rawPeer(a.url!, h.cluster.member('mallory'), { autoAck: true });
    const toD = await rawPeer(d.url!, h.cluster.member('mallory'), { autoAck: true });
    await mallory.next((m) => m.type === 'changes');
    const docs = new MemberDocs('mallory');
    docs.learn('victim', mallory.changesOf('victim'));
    // b moves the stage twice while d is away: its last stage operation outranks mallory's concurrent one.
    const onA = nextChange(a, (e) => e.id === 'victim' && e.view.stage === 'won');
    await b.records.update('victim', { stage: 'qualified' });
    await b.records.update('victim', { stage: 'won' });
    await onA;
    const [entry] = mallory.entries([{ record: 'victim', change: docs.write('victim', (v) => { v.stage = atomic('pwned-not-a-stage'); }) }]);
    // At a the bad value would lose to 'won'; at d it would win. Either way it must be refused.
    for (const peer of [mallory, toD]) {
      const n = peer.sendChanges([entry!]);
      await peer.next((m) => m.type === 'ack' && m.batch === n);
    }
    d.addPeer(a.url!);
    const common = await waitForConvergence([a, b, d]);
    expect(common.records.find((r) => r.id === 'victim')).toMatchObject({ stage: 'won', conflicts: [] });
    await expectNeverShown([a, b, d], ['pwned-not-a-stage']);
    await expectVerifyClean([a, b, d]);
    for (const p of [mallory, toD]) p.ws.terminate();
    docs.close();
  });
});
