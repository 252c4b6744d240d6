/**
 * A subscription changed while a session's handshake is under way (our `open`, with the
 * old subscription, already sent) still reaches the peer: the peer serves the new one.
 * Found by seed 3 of subscriptions.test.ts: the change was sent only on open sessions,
 * so a session half-way through its handshake kept serving the old holding for good.
 */
import { describe, expect, it } from 'vitest';
import { listAll } from '../support/records.js';
import { describePacket, SimCluster } from './cluster.js';
import { converge } from './converge.js';

describe('a subscription change during the handshake', () => {
  it('reaches the peer once our open with the old subscription is on its way', async () => {
    const laptop = { grant: { role: 'laptop' as const, scope: { territories: ['north', 'south'] } }, subscription: { territories: ['south'] } };
    const cluster = new SimCluster({ seed: 1, size: 2, dials: [[], [0]], members: [{ grant: { role: 'region' } }, laptop] });
    await cluster.startAll();
    const region = cluster.node(0);
    await region.records.create({ id: 'up-north', name: 'North customer', territory: 'north' });
    await region.records.create({ id: 'down-south', name: 'South customer', territory: 'south' });
    await cluster.settle();

    // Deliver until the laptop's open (declaring south) is in flight to the region.
    const laptopOpenInFlight = () => cluster.network.inFlight.some((p) => describePacket(p) === 'n1->n0 open');
    for (let n = 0; !laptopOpenInFlight(); n++) {
      expect(n, 'the laptop never sent its open').toBeLessThan(50);
      await cluster.deliver(0);
    }
    expect((await cluster.node(1).status()).peers.map((p) => p.state)).not.toContain('connected');

    await cluster.node(1).subscribe({ territories: ['north'] });
    const report = await converge(cluster);
    expect(report.converged, report.reason).toBe(true);
    expect((await listAll(cluster.node(1))).map((r) => r.id)).toEqual(['up-north']);
    // Live changes follow the new subscription too.
    await region.records.update('up-north', { company: 'Later' });
    await region.records.update('down-south', { company: 'Not here' });
    expect((await converge(cluster)).converged).toBe(true);
    expect((await listAll(cluster.node(1))).map((r) => [r.id, r.company])).toEqual([['up-north', 'Later']]);
    expect(cluster.problems).toEqual([]);
    await cluster.closeAll();
  });
});
