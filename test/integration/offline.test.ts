/**
 * Both sides edit while apart (one of them closed, then reopened offline from the same
 * data directory), then reconnect: different-field edits must both survive, and
 * same-field edits must surface as the same conflict on both nodes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Harness, connectedPeers, nextChange, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

describe('offline edits on both sides', () => {
  it('reconnect, keep both different-field edits and agree on the conflicts', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a' });
    const dirB = await h.tempDir();
    let b = await h.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!] });

    await a.records.create({
      id: 'acme', name: 'Acme Corp', stage: 'lead', notes: 'Intro call went well.',
      address: { street: '1 Main St', city: 'Springfield' },
    });
    await waitForConvergence([a, b]);

    await b.close();
    // a edits while b is down.
    await a.records.update('acme', { phone: '+1 555 0199', stage: 'qualified', address: { city: 'Shelbyville' }, incrementInteractions: 2 });
    await a.records.update('acme', { notes: 'Intro call went well. Follow up in May.', custom: { zeta: 1, alpha: 'a' } });
    await a.records.create({ id: 'only-a', name: 'Made on A while apart' });

    // b comes back from its directory without peers (offline) and edits the same record.
    b = await h.open({ dataDir: dirB, nodeId: 'b' });
    expect((await b.records.get('acme'))?.stage).toBe('lead');
    await b.records.update('acme', { company: 'Acme Holdings', stage: 'proposal', address: { street: '2 Elm St' }, incrementInteractions: 1 });
    await b.records.update('acme', { notes: 'NDA signed. Intro call went well.', custom: { mid: true } });
    await b.records.create({ id: 'only-b', name: 'Made on B while apart' });
    expect(await b.records.get('only-a')).toBeUndefined();
    await b.close();

    // b restarts with its peer configured again.
    b = await h.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!] });
    await vi.waitFor(async () => expect(await connectedPeers(b)).toBe(1), { timeout: 20_000 });
    const common = await waitForConvergence([a, b]);
    expect(common.clock).toEqual({ a: 4, b: 3 });

    const acme = common.records.find((r) => r.id === 'acme')!;
    // Different fields: both edits kept.
    expect(acme).toMatchObject({
      phone: '+1 555 0199', company: 'Acme Holdings', interactions: 3,
      address: { street: '2 Elm St', city: 'Shelbyville' },
      notes: 'NDA signed. Intro call went well. Follow up in May.',
    });
    // Same field: one deterministic winner, and the conflict is visible on both nodes.
    expect(acme.conflicts).toEqual(['stage']);
    expect(['qualified', 'proposal']).toContain(acme.stage);
    const [onA, onB] = await Promise.all([a.records.conflicts('acme'), b.records.conflicts('acme')]);
    expect(onB).toEqual(onA);
    expect(onA).toHaveLength(1);
    expect(onA[0]!.field).toBe('stage');
    const values = onA[0]!.values.map((v) => [v.node, v.value]).sort();
    expect(values).toEqual([['a', 'qualified'], ['b', 'proposal']]);
    expect(onA[0]!.values.filter((v) => v.winner).map((v) => v.value)).toEqual([acme.stage]);
    expect((await a.status()).conflicted).toBe(1);
    expect((await b.status()).conflicted).toBe(1);
    expect(common.records.map((r) => r.id)).toEqual(['acme', 'only-a', 'only-b']);
    // Equal records are byte-identical JSON on both nodes (custom keys were written in different orders).
    const [jsonA, jsonB] = await Promise.all([a.records.get('acme'), b.records.get('acme')]);
    expect(JSON.stringify(jsonA)).toBe(JSON.stringify(jsonB));
    expect(Object.keys(jsonA!.custom)).toEqual(['alpha', 'mid', 'zeta']);

    // Resolving the conflict on one side clears it on both.
    const resolved = nextChange(a, (e) => e.id === 'acme' && e.origin === 'b');
    await b.records.update('acme', { stage: 'negotiation' });
    expect((await resolved).view).toMatchObject({ stage: 'negotiation', conflicts: [] });
    await waitForConvergence([a, b]);
    expect(await a.records.conflicts('acme')).toEqual([]);
  });
});
