/**
 * An ack says what the receiver durably holds of the batch's origins. A batch whose
 * entries the receiver already took from another peer, in a commit not yet durable, is
 * acknowledged only once that commit is: an earlier ack with the durable clock (which
 * lacked them) left the sender believing they were delivered and the receiver lacking
 * them, so its stream never sent them again and its status counted them as behind for
 * good (the demo's "link berlin ⇄ london is 2 change(s) behind" with equal clocks).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { atomic, MemberDocs } from '../support/member-docs.js';
import { rawPeer } from '../support/raw-peer.js';
import { Harness } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

const heldIn = (ack: Record<string, unknown>) => (ack.clock as [string, number, unknown][]).map(([origin, seq]) => [origin, seq]);

describe('acks of entries taken from two peers at once', () => {
  it('report the entries on both connections, also where the other commit was still queued', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a' });
    const writer = await rawPeer(a.url!, h.cluster.member('writer'), { autoAck: true });
    const relay = await rawPeer(a.url!, h.cluster.member('relay'), { autoAck: true });
    const docs = new MemberDocs('writer');
    for (let seq = 1; seq <= 20; seq++) {
      const record = `w-${seq}`;
      const entries = writer.entries([{ record, change: docs.write(record, (d) => { d.id = atomic(record); d.name = atomic(`Written ${seq}`); d.createdAt = 1; d.updatedAt = 1; }) }]);
      // The same entries on both connections, back to back: the second frame usually
      // arrives while the first one's commit is queued.
      const direct = writer.sendChanges(entries);
      const relayed = relay.sendChanges(entries);
      const acks = await Promise.all([
        writer.next((m) => m.type === 'ack' && m.batch === direct),
        relay.next((m) => m.type === 'ack' && m.batch === relayed),
      ]);
      for (const ack of acks) expect(heldIn(ack), `seq ${seq}`).toContainEqual(['writer', seq]);
    }
  });
});
