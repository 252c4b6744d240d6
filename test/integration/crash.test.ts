/**
 * A node process killed with SIGKILL in the middle of a bulk write and a bulk sync
 * must lose nothing it acknowledged, reopen without repair, and converge with its
 * peer. The node runs in a child process (node-process.ts) so the kill is real.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { Harness, listAll, waitForConvergence, type NodeProcess } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** Creates `n` records with ids `${prefix}-i`, at most 32 in flight. */
async function bulkCreate(node: CrmNode, prefix: string, n: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await node.records.create({ id: `${prefix}-${i}`, name: `Customer ${prefix} ${i}`, company: `Co ${i % 13}` });
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

/** Starts a bulk create in `proc`, kills it with SIGKILL after `after` acks, returns every id it acked. */
async function killDuringBulkCreate(proc: NodeProcess, prefix: string, after: number): Promise<string[]> {
  proc.send({ op: 'create', n: 1500, prefix });
  await proc.waitForLine(() => proc.acked.length >= after);
  proc.child.kill('SIGKILL');
  const exit = await proc.exited;
  expect(exit.signal).toBe('SIGKILL');
  expect(proc.lines.some((l) => 'done' in l), 'the bulk write finished before the kill').toBe(false);
  // Read after stdout ended, so acks still in the pipe at the kill are included.
  expect(proc.acked.length).toBeGreaterThanOrEqual(after);
  return [...proc.acked];
}

describe('a node killed with SIGKILL', () => {
  it('keeps every acknowledged write, reopens without repair and converges', async () => {
    // b holds records a must catch up on; small batches make that catch-up many round trips.
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', limits: { batchChanges: 20 } });
    await bulkCreate(b, 'b', 300);
    const dirA = await h.tempDir();

    // First run: killed while writing and while catching up on b's records.
    const first = await killDuringBulkCreate(await h.spawn(dirA, 'a', [b.url!]), 'a1', 120);
    // Second run, a new process on the same directory: it opens as it was left (no repair
    // step exists) and is killed again during its next bulk write and the resumed catch-up.
    const second = await h.spawn(dirA, 'a', [b.url!]);
    second.send({ op: 'status' });
    const reopened = (await second.waitForLine((l) => 'status' in l)).status as { clock: Record<string, number> };
    expect(reopened.clock.a).toBeGreaterThanOrEqual(first.length);
    const acked = [...first, ...(await killDuringBulkCreate(second, 'a2', 60))];

    // Reopen offline: the directory alone must hold every acknowledged write.
    const a = await h.open({ dataDir: dirA, nodeId: 'a', listen: false });
    const status = await a.status();
    expect(status.clock.a).toBeGreaterThanOrEqual(acked.length);
    const records = await listAll(a);
    expect(status.records.live).toBe(records.length);
    const ids = new Set<string>(records.map((r) => r.id));
    expect(acked.filter((id) => !ids.has(id)), 'acknowledged writes lost by a kill').toEqual([]);
    for (const id of [...first.slice(0, 10), ...acked.slice(-10)]) {
      expect(await a.records.history(id)).toHaveLength(1);
    }
    // Documents load and verify against their stored heads.
    await Promise.all(acked.slice(-10).map((id) => a.records.update(id, { stage: 'customer' })));
    expect(records.filter((r) => r.id.startsWith('b-')).length).toBeLessThanOrEqual(300);

    // Then it rejoins its peer: everything converges, with a's own history unchanged.
    a.addPeer(b.url!);
    const common = await waitForConvergence([a, b], 45_000);
    expect(common.clock.b).toBe(300);
    expect(common.clock.a).toBe(status.clock.a! + 10);
    const onB = new Set<string>(common.records.map((r) => r.id));
    expect(acked.filter((id) => !onB.has(id))).toEqual([]);
    expect(common.records.filter((r) => r.stage === 'customer')).toHaveLength(10);

    // A clean restart as a process sees the same state, and a clean close exits 0.
    await a.close();
    const third = await h.spawn(dirA, 'a');
    third.send({ op: 'status' });
    const after = (await third.waitForLine((l) => 'status' in l)).status as { clock: Record<string, number>; records: { live: number } };
    expect(after.clock).toEqual(common.clock);
    expect(after.records.live).toBe(common.records.length);
    third.send({ op: 'close' });
    await third.waitForLine((l) => l.closed === true);
    expect(await third.exited).toEqual({ code: 0, signal: null });
  });
});
