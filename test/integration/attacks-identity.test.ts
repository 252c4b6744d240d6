/**
 * Issue 8, attacks (3), (4) and (5) over real sockets: writing as another node or as
 * the receiver itself, a second signed history for an already-held sequence number (a
 * copied key), taking over a connected peer's identity with a hello, and forging the
 * views others display. Each attempt is refused with its close code and stores nothing;
 * the victim's own sessions and edits are untouched, and honest sync goes on.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { loadNodeKeys } from '../../src/trust/keys.js';
import { atomic, MemberDocs } from '../support/member-docs.js';
import { rawPeer } from '../support/raw-peer.js';
import { expectHonestSync, expectNeverShown, holds } from '../support/attack-rig.js';
import { Harness, captureLog, connectedPeers, listAll, waitForConvergence, type LogLine } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** A valid change creating `record` as `docs`' node. */
function creation(docs: MemberDocs, record: string, name: string): Uint8Array {
  return docs.write(record, (d) => { d.id = atomic(record); d.name = atomic(name); d.createdAt = 1; d.updatedAt = 1; });
}

describe('writing as someone else', () => {
  it('entries under another member\'s origin or the receiver\'s own, signed with the wrong key: 4013, nothing stored; the victim\'s offline edits still sync', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a' });
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!] });
    await b.records.create({ id: 'b-1', name: 'Written by B' });
    await waitForConvergence([a, b]);
    b.removePeer(a.url!); // b goes offline and keeps working
    await b.records.update('b-1', { stage: 'won' });
    await b.records.create({ id: 'b-2', name: 'Written by B offline' });
    const before = (await a.status()).clock;
    const mallory = h.cluster.member('mallory');
    const malloryKeys = loadNodeKeys(mallory.identity.privateKeyPem);
    const forger = new MemberDocs('b', 9); // changes that claim b's actor, too

    for (const [victim, seq] of [['b', before.b!], ['a', before.a ?? 0]] as const) {
      const peer = await rawPeer(a.url!, mallory);
      const log = peer.log.fork(malloryKeys); // mallory's key...
      Object.assign(log, { origin: victim, seq, chain: (await a.exportEntries(0, 100)).filter((e) => e.origin === victim).at(-1)?.chain ?? log.chain });
      const entries = log.next([{ record: `forged-${victim}`, change: creation(forger, `forged-${victim}`, `Forged as ${victim}`) }]);
      peer.sendChanges(entries);
      expect(await peer.closed, `forged as ${victim}`).toMatchObject({ code: 4013 });
      expect(peer.received.at(-1)).toMatchObject({ type: 'error', code: 'ERR_SIGNATURE' });
      expect(peer.received.some((m) => m.type === 'ack')).toBe(false);
    }
    expect((await a.status()).clock).toEqual(before);
    expect(await a.records.get('forged-a')).toBeUndefined();
    expect(await a.records.get('forged-b')).toBeUndefined();

    // b comes back: its real entries after the forged seq number are taken as if nothing happened.
    b.addPeer(a.url!);
    const common = await waitForConvergence([a, b]);
    expect(common.records.map((r) => r.id)).toEqual(['b-1', 'b-2']);
    expect(common.records[0]).toMatchObject({ stage: 'won' });
    await expectHonestSync([a, b]);
    forger.close();
  });

  it('a second signed history for an already-held seq (a copied key): 4001 with evidence, never acknowledged', async () => {
    const log = captureLog();
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', logger: log.logger });
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!] });
    const member = h.cluster.member('mallory');
    const original = await rawPeer(a.url!, member, { autoAck: true });
    const docs = new MemberDocs('mallory');
    const first = original.sendChanges(original.entries([{ record: 'm-1', change: creation(docs, 'm-1', 'Mallory One') }]));
    await original.next((m) => m.type === 'ack' && m.batch === first);
    const copy = original.log.fork(); // another process with the same key, from seq 1 on
    const second = original.sendChanges(original.entries([{ record: 'm-2', change: creation(docs, 'm-2', 'Mallory Two') }]));
    await original.next((m) => m.type === 'ack' && m.batch === second);
    await holds(b, 'mallory', 2);

    const other = new MemberDocs('mallory', 2);
    const forks = [copy.next([{ record: 'm-2', change: creation(other, 'm-2', 'Other History') }])];
    // The copy's seq 3, chained from its own seq 2: beyond what a holds, but on the other branch.
    forks.push(copy.next([{ record: 'm-3', change: creation(other, 'm-3', 'Other Three') }]));
    for (const entries of forks) {
      const peer = await rawPeer(a.url!, member);
      peer.sendChanges(entries);
      expect(await peer.closed).toMatchObject({ code: 4001 });
      expect(peer.received.at(-1)).toMatchObject({ type: 'error', code: 'ERR_ORIGIN_FORKED' });
      expect(peer.received.some((m) => m.type === 'ack')).toBe(false);
    }
    const evidence = log.lines.filter((l: LogLine) => l.msg === 'origin fork detected; closing peer session').map((l) => l.evidence);
    expect(evidence).toEqual([
      expect.objectContaining({ origin: 'mallory', seq: 2 }),
      expect.objectContaining({ origin: 'mallory', seq: 2 }),
    ]);
    for (const e of evidence as { held: string; received: string }[]) expect(e.held).not.toBe(e.received);
    for (const node of [a, b]) {
      expect((await node.status()).clock.mallory).toBe(2);
      expect(await node.records.get('m-2')).toMatchObject({ name: 'Mallory Two' });
      expect(await node.records.get('m-3')).toBeUndefined();
    }
    await expectNeverShown([a, b], ['Other History', 'Other Three']);
    await expectHonestSync([a, b]);
    original.ws.terminate();
    docs.close();
    other.close();
  });
});

describe('a member signing two histories to two nodes', () => {
  it.each([
    ['a holds more of it (the fork is proven at ingest)', true],
    ['both hold the same seq (heads differ at the handshake)', false],
  ])('does not split those nodes when %s: everything else syncs', async (_what, extendA) => {
    const logA = captureLog();
    const logC = captureLog();
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', logger: logA.logger });
    const c = await h.open({ dataDir: await h.tempDir(), nodeId: 'c', logger: logC.logger });
    const member = h.cluster.member('mallory');
    const toA = await rawPeer(a.url!, member, { autoAck: true });
    const other = toA.log.fork(); // the same key, about to sign another seq 1
    const docs = new MemberDocs('mallory');
    const otherDocs = new MemberDocs('mallory', 2);
    const first = toA.sendChanges(toA.entries([{ record: 'm-1', change: creation(docs, 'm-1', 'Told to A') }]));
    await toA.next((m) => m.type === 'ack' && m.batch === first);
    if (extendA) {
      const second = toA.sendChanges(toA.entries([{ record: 'm-2', change: creation(docs, 'm-2', 'Second to A') }]));
      await toA.next((m) => m.type === 'ack' && m.batch === second);
    }
    const toC = await rawPeer(c.url!, member, { autoAck: true });
    const batch = toC.sendChanges(other.next([{ record: 'm-1', change: creation(otherDocs, 'm-1', 'Told to C') }]));
    await toC.next((m) => m.type === 'ack' && m.batch === batch);
    await holds(a, 'mallory', extendA ? 2 : 1);
    await holds(c, 'mallory', 1);

    // c meets a: their clocks disagree on mallory's seq 1, and a offers mallory's seq 2 on its branch.
    c.addPeer(a.url!);
    const linked = async () => (await c.status()).peers.some((p) => p.node === 'a' && p.state === 'connected');
    await vi.waitFor(async () => expect(await linked()).toBe(true), { timeout: 20_000 });
    const toC2 = new Promise<void>((resolve) => c.onChange((e) => void (e.id === 'from-a' && resolve())));
    await a.records.create({ id: 'from-a', name: 'Honest A' });
    await toC2;
    const toA2 = new Promise<void>((resolve) => a.onChange((e) => void (e.id === 'from-c' && resolve())));
    await c.records.create({ id: 'from-c', name: 'Honest C' });
    await toA2;

    // Each keeps the history it verified first; neither takes the other branch, nobody closed 4001.
    expect(await a.records.get('m-1')).toMatchObject({ name: 'Told to A' });
    expect(await c.records.get('m-1')).toMatchObject({ name: 'Told to C' });
    expect(await c.records.get('m-2')).toBeUndefined();
    const closes = [...logA.lines, ...logC.lines].filter((l: LogLine) => l.msg === 'origin fork detected; closing peer session' && (l.peer === 'a' || l.peer === 'c'));
    expect(closes).toEqual([]);
    expect(await linked()).toBe(true);
    const setAside = logC.lines.filter((l: LogLine) => l.msg === 'origin signed two histories; set aside (nothing more of it is taken)');
    const differ = [...logA.lines, ...logC.lines].filter((l: LogLine) => l.msg === 'peer holds a different history of a third origin; syncing the others');
    if (extendA) expect(setAside).toEqual([expect.objectContaining({ peer: 'a', evidence: expect.objectContaining({ origin: 'mallory', seq: 1 }) })]);
    else expect(differ.map((l) => l.origin)).toEqual(['mallory', 'mallory']); // both sides saw it
    toA.ws.terminate();
    toC.ws.terminate();
    docs.close();
    otherDocs.close();
  });
});

describe('taking over a connected peer\'s identity', () => {
  it('a hello claiming b\'s node id with another key, or b\'s key without b\'s proof: refused; b\'s session untouched', async () => {
    const logA = captureLog();
    const logB = captureLog();
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', logger: logA.logger });
    const bMember = h.cluster.member('b');
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', logger: logB.logger, peers: [a.url!] });
    await waitForConvergence([a, b]);
    await vi.waitFor(async () => expect([await connectedPeers(a), await connectedPeers(b)]).toEqual([1, 1]));
    const opened = (lines: LogLine[], peer: string) => lines.filter((l) => l.msg === 'handshake complete' && l.peer === peer).length;
    const openedBefore = [opened(logA.lines, 'b'), opened(logB.lines, 'a')];
    expect(openedBefore).toEqual([1, 1]);
    const mallory = h.cluster.member('mallory');
    const malloryKeys = loadNodeKeys(mallory.identity.privateKeyPem);
    const bKeys = loadNodeKeys(bMember.identity.privateKeyPem);

    // Captured from an honest session of mallory's, to replay on a new connection.
    const honest = await rawPeer(a.url!, mallory);
    const [oldHello, oldAuth] = honest.sent;
    honest.ws.terminate();

    const attempts = [
      { what: 'b\'s id, mallory\'s key and grant', script: { node: 'b' }, code: 4010 },
      { what: 'b\'s id and key, signed by mallory', script: { node: 'b', key: bKeys.publicKey, proof: bMember.cluster.statements, authWith: malloryKeys }, code: 4013 },
      { what: 'b\'s id and key, 64 random bytes as proof', script: { node: 'b', key: bKeys.publicKey, proof: bMember.cluster.statements, authWith: new Uint8Array(64).fill(7) }, code: 4013 },
    ];
    for (const { what, script, code } of attempts) {
      const peer = await rawPeer(a.url!, mallory, { handshake: false });
      const result = await peer.handshake(script);
      expect(result, what).toEqual({ closed: expect.objectContaining({ code }) });
    }
    const replay = await rawPeer(a.url!, mallory, { handshake: false });
    replay.sendRaw(oldHello!);
    await replay.next((m) => m.type === 'hello');
    replay.sendRaw(oldAuth!);
    expect(await replay.closed, 'a replayed hello and proof').toMatchObject({ code: 4013 });

    // b's session was never touched: no close, no new handshake, and it still carries the sync.
    expect([opened(logA.lines, 'b'), opened(logB.lines, 'a')]).toEqual(openedBefore);
    expect(logA.lines.filter((l) => l.msg === 'peer session closed' && l.peer === 'b')).toEqual([]);
    expect((await a.status()).peers.filter((p) => p.state === 'connected').map((p) => p.node)).toEqual(['b']);
    await expectHonestSync([a, b]);
  });
});

describe('forging the view others display', () => {
  it('no view travels: a view-shaped entry field is kept as an opaque extension and relayed, never shown', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a' });
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!] });
    const peer = await rawPeer(a.url!, h.cluster.member('mallory'));
    const docs = new MemberDocs('mallory');
    const forged = { id: 'shown', name: 'FORGED VIEW NAME', stage: 'pwned-not-a-stage', address: {}, tags: [], notes: '', interactions: 0, custom: {}, createdAt: 1, updatedAt: 1, deleted: false, conflicts: [] };
    const [entry] = peer.entries([{ record: 'shown', change: creation(docs, 'shown', 'Real Name') }]);
    // A view on the entry (as protocol 1 carried it), and another on the frame itself.
    peer.send({ type: 'changes', epoch: 0, batch: 1, entries: [{ ...entry, v: forged }], views: [forged] });
    peer.send({ type: 'view', view: forged }); // an unknown message kind: ignored and counted
    await peer.next((m) => m.type === 'ack' && m.batch === 1);
    await holds(b, 'mallory', 1);
    for (const node of [a, b]) {
      expect(await node.records.get('shown'), node.id).toMatchObject({ name: 'Real Name' });
      const [stored] = (await node.exportEntries(0, 100)).filter((e) => e.origin === 'mallory');
      expect(stored!.ext).toEqual({ v: forged }); // kept and relayed byte for byte, like any newer field
    }
    expect((await a.status()).unknownMessages).toBe(1);
    expect(peer.ws.readyState).toBe(WebSocket.OPEN);
    await expectNeverShown([a, b], ['FORGED VIEW NAME', 'pwned-not-a-stage']);
    expect((await listAll(a)).find((r) => r.id === 'shown')).not.toHaveProperty('stage');
    await expectHonestSync([a, b]);
    peer.ws.terminate();
    docs.close();
  });
});
