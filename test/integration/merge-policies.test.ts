/**
 * Merge policies between real nodes (LevelDB directories, sockets on 127.0.0.1): a
 * region and a laptop edit the same record while apart; after they meet, both show the
 * value each field's policy picks, with the rule named in the conflicts; a write
 * resolves a conflict everywhere. Nodes declaring other policies refuse each other.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CloseCode } from '../../src/net/transport.js';
import { hasCode, type CrmNode } from '../../src/index.js';
import { captureLog, Harness, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** Waits until `node` shows `id` with every given field. */
async function shows(node: CrmNode, id: string, fields: Record<string, unknown>): Promise<void> {
  await vi.waitFor(async () => expect(await node.records.get(id)).toMatchObject(fields), { timeout: 20_000 });
}

describe('merge policies between nodes', () => {
  it('a region and a laptop that edited apart agree on what each policy picks, and a write resolves a conflict', async () => {
    const north = await h.open({ dataDir: await h.tempDir(), nodeId: 'north' });
    const lapDir = await h.tempDir();
    const laptop = { dataDir: lapDir, ...h.cluster.member('laptop-anna', { role: 'laptop' }) };
    let lap = await h.open({ ...laptop, peers: [north.url!] });
    await north.records.create({ id: 'acme', name: 'Acme', title: 'Buyer', territory: 'east', stage: 'lead' });
    await shows(lap, 'acme', { name: 'Acme' });
    await lap.close();

    // Apart: the region writes first, the laptop later (its writes carry later times).
    const regionWrote = (await north.records.update('acme', { title: 'VP Sales', territory: 'north', stage: 'won' })).updatedAt;
    lap = await h.open({ ...laptop, peers: [] });
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(regionWrote)); // the laptop writes in a later millisecond
    await lap.records.update('acme', { title: 'CTO', territory: 'south', stage: 'qualified' });
    await lap.close();
    lap = await h.open({ ...laptop, peers: [north.url!] });
    await waitForConvergence([north, lap]);

    for (const node of [north, lap]) {
      const view = await node.records.get('acme');
      expect(view).toMatchObject({ title: 'CTO', territory: 'north', stage: 'won' });
      expect([...view!.conflicts].sort()).toEqual(['stage', 'territory', 'title']);
      const conflicts = await node.records.conflicts('acme');
      expect(Object.fromEntries(conflicts.map((c) => [c.field, c.rule]))).toEqual({ stage: 'monotonic', territory: 'owner-region', title: 'latest' });
      const territory = conflicts.find((c) => c.field === 'territory')!;
      expect(territory.values.map((v) => [v.value, v.node, v.winner]).sort()).toEqual([['north', 'north', true], ['south', 'laptop-anna', false]]);
      expect(territory.values.every((v) => v.time > 0)).toBe(true);
    }
    expect(await lap.records.conflicts('acme')).toEqual(await north.records.conflicts('acme'));

    // Keeping the region's title: one write supersedes both values, on every node.
    await lap.records.update('acme', { title: 'VP Sales' });
    await shows(north, 'acme', { title: 'VP Sales' });
    for (const node of [north, lap]) expect((await node.records.get('acme'))!.conflicts).not.toContain('title');
  });

  it('refuses to move a stage back without reopen, and reopens with it', async () => {
    const node = await h.open({ dataDir: await h.tempDir(), nodeId: 'solo' });
    await node.records.create({ id: 'deal', name: 'Deal', stage: 'won' });
    const refused = await node.records.update('deal', { stage: 'lead' }).catch((err: unknown) => err);
    expect(hasCode(refused, 'ERR_VALIDATION')).toBe(true);
    expect((refused as Error).message).toMatch(/moves back from won to lead.*"reopen": true/);
    expect((await node.records.get('deal'))!.stage).toBe('won');
    expect((await node.records.update('deal', { stage: 'lead', reopen: true })).stage).toBe('lead');
    // An import mirrors its source: a move back there is a reopen, not an error.
    const [row] = await node.records.upsertMany([{ id: 'deal', fields: { stage: 'qualified' } }, { id: 'deal2', fields: { name: 'Two', stage: 'won' } }]);
    expect(row!.status).toBe('updated');
  });

  it('refuses a peer declaring other merge policies (4016) and syncs nothing with it', async () => {
    const log = captureLog();
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', mergePolicies: { 'custom.budget': 'max' }, logger: log.logger });
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!] });
    await a.records.create({ id: 'r1', name: 'Kept apart' });
    await vi.waitFor(() => expect(log.lines.some((l) => l.msg === 'peer session closed' && l.code === CloseCode.policyMismatch)).toBe(true), { timeout: 20_000 });
    expect(await b.records.get('r1')).toBeUndefined();
    const [sa, sb] = [await a.status(), await b.status()];
    expect(sa.mergePolicies.rules).toMatchObject({ 'custom.budget': 'max', stage: 'monotonic' });
    expect(sa.mergePolicies.digest).not.toBe(sb.mergePolicies.digest);
  });

  it('refuses a node with a policy that cannot apply, naming the field', async () => {
    const error = await h.open({ dataDir: await h.tempDir(), nodeId: 'bad', mergePolicies: { email: 'max' } }).catch((err: unknown) => err);
    expect(hasCode(error, 'ERR_VALIDATION')).toBe(true);
    expect((error as Error).message).toContain('mergePolicies.email');
  });
});
