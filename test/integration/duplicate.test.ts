/**
 * Both nodes dial each other: the two connections must reduce to one session per
 * side, and every record must arrive exactly once, also while the losing dialer keeps
 * redialing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CrmNode, RecordChangeEvent } from '../../src/index.js';
import { Harness, captureLog, connectedPeers, waitForConvergence, type CapturedLog } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** Remote change events per record id. */
function remoteEvents(node: CrmNode): Map<string, RecordChangeEvent[]> {
  const events = new Map<string, RecordChangeEvent[]>();
  node.onChange((event) => {
    if (event.source === 'remote') events.set(event.id, [...(events.get(event.id) ?? []), event]);
  });
  return events;
}

const duplicatesClosed = (log: CapturedLog) => log.lines.filter((l) => l.msg === 'connection closed' && l.code === 4000).length;

describe('a and b dialing each other', () => {
  it('end with one session each and sync every record once', async () => {
    const logA = captureLog();
    const logB = captureLog();
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', logger: logA.logger });
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', logger: logB.logger });
    for (let i = 0; i < 20; i++) {
      await a.records.create({ id: `a-${i}`, name: `Customer a${i}` });
      await b.records.create({ id: `b-${i}`, name: `Customer b${i}` });
    }
    const onA = remoteEvents(a);
    const onB = remoteEvents(b);

    a.addPeer(b.url!);
    b.addPeer(a.url!);
    await vi.waitFor(async () => {
      expect(await connectedPeers(a)).toBe(1);
      expect(await connectedPeers(b)).toBe(1);
    }, { timeout: 20_000 });
    await waitForConvergence([a, b]);
    expect(duplicatesClosed(logA) + duplicatesClosed(logB)).toBeGreaterThanOrEqual(1);

    // The parked dialer redials and is refused as a duplicate again, without disturbing the session.
    const before = duplicatesClosed(logA);
    await vi.waitFor(() => expect(duplicatesClosed(logA)).toBeGreaterThan(before), { timeout: 20_000 });
    await a.records.create({ id: 'a-late', name: 'Created after the redial' });
    await b.records.update('a-0', { stage: 'won' });
    const common = await waitForConvergence([a, b]);
    expect(common.clock).toEqual({ a: 21, b: 21 });
    expect(await connectedPeers(a)).toBe(1);
    expect(await connectedPeers(b)).toBe(1);
    for (const node of [a, b]) {
      const peers = (await node.status()).peers.filter((p) => p.state === 'connected');
      expect(peers.map((p) => p.node)).toEqual([node === a ? 'b' : 'a']);
    }

    // Every change crossed once: one remote event per change, one history entry per write.
    expect([...onB.keys()].sort()).toEqual([...Array.from({ length: 20 }, (_, i) => `a-${i}`), 'a-late'].sort());
    expect([...onB.values()].every((events) => events.length === 1)).toBe(true);
    expect([...onA.keys()].sort()).toEqual([...Array.from({ length: 20 }, (_, i) => `b-${i}`), 'a-0'].sort());
    expect([...onA.values()].every((events) => events.length === 1)).toBe(true);
    expect((await b.records.history('a-0')).map((e) => e.node)).toEqual(['a', 'b']);
    expect(await a.records.history('b-7')).toHaveLength(1);
  });
});
