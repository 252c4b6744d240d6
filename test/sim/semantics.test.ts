/**
 * The merge semantics users rely on, checked on 3 simulated nodes with the same
 * harness as the convergence simulation. Writes made between two convergence phases
 * are concurrent by construction: the manual network delivers nothing until told.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmNode, RecordView } from '../../src/index.js';
import { SimCluster } from './cluster.js';
import { converge, snapshot } from './converge.js';
import { firstDifference } from './shrink.js';

let cluster: SimCluster | undefined;

/** Three nodes, n0 dialing n1 and n2, n1 dialing n2; every node starts synced. */
async function three(seed: number): Promise<{ c: SimCluster; n: CrmNode[] }> {
  cluster = new SimCluster({ seed, size: 3, dials: [[1, 2], [2], []] });
  await cluster.startAll();
  await sync(cluster);
  return { c: cluster, n: [0, 1, 2].map((i) => cluster!.node(i)) };
}

/** Delivers everything until the cluster is quiet, and checks every node reads the same. */
async function sync(c: SimCluster): Promise<void> {
  const report = await converge(c);
  expect(report.converged, report.reason).toBe(true);
  const [first, ...rest] = await Promise.all(c.up().map((i) => snapshot(c, i)));
  for (const [k, snap] of rest.entries()) expect(firstDifference(snap, first), `n${k + 1} vs n0`).toBeUndefined();
  expect(c.problems).toEqual([]);
}

async function views(n: CrmNode[], id: string): Promise<RecordView[]> {
  return Promise.all(n.map(async (node) => (await node.records.get(id))!));
}

afterEach(async () => {
  await cluster?.closeAll();
  cluster = undefined;
});

describe('merge semantics on 3 simulated nodes', () => {
  it('concurrent edits of one field: the same winner everywhere, the loser in conflicts with its node', async () => {
    const { c, n } = await three(1);
    await n[0]!.records.create({ id: 'r1', name: 'Base Name' });
    await sync(c);
    await n[0]!.records.update('r1', { name: 'Alice Adams' });
    await n[1]!.records.update('r1', { name: 'Bob Brown' });
    await sync(c);
    const seen = await views(n, 'r1');
    expect(new Set(seen.map((v) => v.name)).size).toBe(1);
    expect(['Alice Adams', 'Bob Brown']).toContain(seen[0]!.name);
    for (const v of seen) expect(v.conflicts).toEqual(['name']);
    for (const node of n) {
      const [conflict, ...others] = await node.records.conflicts('r1');
      expect(others).toEqual([]);
      expect(conflict!.field).toBe('name');
      const byNode = Object.fromEntries(conflict!.values.map((v) => [v.node, v.value]));
      expect(byNode).toEqual({ n0: 'Alice Adams', n1: 'Bob Brown' });
      const winners = conflict!.values.filter((v) => v.winner);
      expect(winners).toHaveLength(1);
      expect(winners[0]!.value).toBe(seen[0]!.name);
    }
  });

  it('concurrent edits of different fields are both kept, without conflicts', async () => {
    const { c, n } = await three(2);
    await n[1]!.records.create({ id: 'r2', name: 'Carol Chen', address: { city: 'Oslo' } });
    await sync(c);
    await n[0]!.records.update('r2', { email: 'carol@example.com' });
    await n[1]!.records.update('r2', { phone: '+47 22 123456' });
    await n[2]!.records.update('r2', { address: { street: 'Storgata 1' } });
    await sync(c);
    for (const v of await views(n, 'r2')) {
      expect(v).toMatchObject({ email: 'carol@example.com', phone: '+47 22 123456', address: { city: 'Oslo', street: 'Storgata 1' } });
      expect(v.conflicts).toEqual([]);
    }
    for (const node of n) expect(await node.records.conflicts('r2')).toEqual([]);
  });

  it('concurrent notes edits of different parts are both kept', async () => {
    const { c, n } = await three(3);
    await n[0]!.records.create({ id: 'r3', name: 'Dan Diaz', notes: 'call back on monday' });
    await sync(c);
    await n[0]!.records.update('r3', { notes: 'call back on monday morning' });
    await n[2]!.records.update('r3', { notes: 'please call back on monday' });
    await sync(c);
    for (const v of await views(n, 'r3')) expect(v.notes).toBe('please call back on monday morning');
  });

  it('tags are add-wins: a concurrent add beats a remove of the same tag', async () => {
    const { c, n } = await three(4);
    await n[0]!.records.create({ id: 'r4', name: 'Eve Evans', tags: ['vip', 'eu'] });
    await sync(c);
    await n[0]!.records.update('r4', { removeTags: ['vip', 'eu'] });
    await n[1]!.records.update('r4', { addTags: ['vip'] });
    await n[2]!.records.update('r4', { addTags: ['new'] });
    await sync(c);
    for (const v of await views(n, 'r4')) expect(v.tags).toEqual(['new', 'vip']);
  });

  it('concurrent counter increments add up', async () => {
    const { c, n } = await three(5);
    await n[2]!.records.create({ id: 'r5', name: 'Finn Fox', interactions: 1 });
    await sync(c);
    await n[0]!.records.update('r5', { incrementInteractions: 2 });
    await n[1]!.records.update('r5', { incrementInteractions: 3 });
    await n[1]!.records.update('r5', { incrementInteractions: 1 });
    await n[2]!.records.update('r5', { incrementInteractions: 4 });
    await sync(c);
    for (const v of await views(n, 'r5')) expect(v.interactions).toBe(11);
  });

  it('a delete concurrent with an edit: the record stays deleted, and a restore shows the edit', async () => {
    const { c, n } = await three(6);
    await n[0]!.records.create({ id: 'r6', name: 'Gina Gray', company: 'Initech' });
    await sync(c);
    await n[0]!.records.delete('r6');
    await n[1]!.records.update('r6', { company: 'Acme', stage: 'proposal' });
    await sync(c);
    for (const v of await views(n, 'r6')) expect(v).toMatchObject({ deleted: true, company: 'Acme', stage: 'proposal' });
    for (const node of n) {
      await expect(node.records.update('r6', { name: 'x' })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
      expect((await node.records.list()).records.map((r) => r.id)).not.toContain('r6');
      expect((await node.records.list({ includeDeleted: true })).records.map((r) => r.id)).toContain('r6');
    }
    await n[2]!.records.restore('r6');
    await sync(c);
    for (const v of await views(n, 'r6')) expect(v).toMatchObject({ deleted: false, name: 'Gina Gray', company: 'Acme', stage: 'proposal' });
  });
});
