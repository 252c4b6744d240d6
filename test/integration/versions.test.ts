/**
 * The versioning policy (PROTOCOL.md, "Versions") against real sockets: a scripted peer
 * plays a node one version newer than the nodes under test. It sends a message kind
 * they do not know, an entry field they do not know and a record field they do not
 * know. The node under test must keep the session, store and relay everything
 * unchanged, and show only the fields it knows.
 */
import * as A from '@automerge/automerge';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { makeActorId } from '../../src/crdt/actor.js';
import { GENESIS_BYTES } from '../../src/crdt/genesis.js';
import { rawPeer } from '../support/raw-peer.js';
import { Harness, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** A record change as a newer version would write it: it also sets `nickname`. */
function newerChange(): { change: Uint8Array } {
  const genesis = A.load<Record<string, unknown>>(GENESIS_BYTES, { actor: makeActorId('newer' as never, new Uint8Array(8).fill(7)) });
  const doc = A.change(genesis, { time: 1000 }, (d) => {
    d.id = new A.ImmutableString('ada');
    d.name = new A.ImmutableString('Ada Lovelace');
    d.nickname = new A.ImmutableString('Countess');
    d.createdAt = 1000;
    d.updatedAt = 1000;
  });
  const change = A.getLastLocalChange(doc)!;
  A.free(doc);
  return { change };
}

describe('a node one version older than its peer', () => {
  it('ignores an unknown message kind, keeps unknown entry and record fields, relays them unchanged', async () => {
    const older = await h.open({ dataDir: await h.tempDir(), nodeId: 'older' });
    const downstream = await h.open({ dataDir: await h.tempDir(), nodeId: 'downstream', peers: [older.url!] });
    const peer = await rawPeer(older.url!, h.cluster.member('newer'));
    peer.send({ type: 'gossip', rumours: [1, 2, 3] });
    const { change } = newerChange();
    const [entry] = peer.entries([{ record: 'ada', change }]);
    peer.send({ type: 'changes', epoch: 0, batch: 1, entries: [{ ...entry, z: { signedBy: 'future' } }] });

    await peer.next((m) => m.type === 'ack' && m.batch === 1).catch((err) => { throw new Error(`${(err as Error).message}: ${JSON.stringify(peer.received.filter((m) => m.type === 'error'))}`); });
    await waitForConvergence([older, downstream]);
    const status = await older.status();
    expect(status.unknownMessages).toBe(1);
    expect(status.rejectedConnections).toBe(0);
    expect(peer.ws.readyState).toBe(WebSocket.OPEN);

    for (const node of [older, downstream]) {
      // Served views show what this version knows...
      const served = await node.records.get('ada');
      expect(served).toMatchObject({ name: 'Ada Lovelace' });
      expect(served).not.toHaveProperty('nickname');
      // ...while the log keeps the newer entry field for the next hop, and the document the newer record field.
      const [stored] = await node.exportEntries(0, 10);
      expect(stored!.ext).toEqual({ z: { signedBy: 'future' } });
      const ops = A.decodeChange(stored!.change).ops as { key?: string; value?: unknown }[];
      expect(ops.find((op) => op.key === 'nickname')?.value).toBe('Countess');
      expect(await node.verify()).toMatchObject({ checked: 1, problems: 0 });
    }
    peer.ws.terminate();
  });
});
