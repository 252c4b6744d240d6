/**
 * A live push leaves once the write's caller has been answered and what it does next
 * without waiting for I/O has run (peers.ts, #notifyAppended): a caller writing in a loop
 * gets its next write to LevelDB first, and the push overlaps that write's fsync. Real
 * nodes on 127.0.0.1, real LevelDB; the frames A sends are counted at its connection.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { resolveLimits } from '../../src/limits.js';
import type { Connection, Transport } from '../../src/net/transport.js';
import { createWsTransport, wsLimitsOf } from '../../src/net/ws-transport.js';
import { Harness, nextChange, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** A WebSocket transport that counts the frames sent on every connection it makes or accepts. */
function countingTransport(): { transport: Transport; sent: () => number } {
  const inner = createWsTransport(wsLimitsOf(resolveLimits({})));
  let sent = 0;
  const counted = (connection: Connection): Connection => new Proxy(connection, {
    get(target, prop) {
      if (prop === 'send') return (frame: Uint8Array) => { sent++; return target.send(frame); };
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const transport: Transport = {
    listen: (address) => inner.listen(address),
    dial: async (url, options) => counted(await inner.dial(url, options)),
    stats: () => inner.stats(),
    close: () => inner.close(),
    onConnection: (handler) => inner.onConnection((connection) => handler(counted(connection))),
  };
  return { transport, sent: () => sent };
}

describe('a live push', () => {
  it('waits until the acknowledged caller has gone on, then reaches the peer', async () => {
    const counting = countingTransport();
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', transport: counting.transport, antiEntropyIntervalMs: 0 });
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!], antiEntropyIntervalMs: 0 });
    const created = await a.records.create({ name: 'Ada Lovelace', stage: 'lead' });
    await waitForConvergence([a, b]);
    for (let i = 0; i < 20; i++) {
      const seen = nextChange(b, (e) => e.id === created.id && (e.view as { title?: string }).title === `t${i}`);
      const before = counting.sent();
      await a.records.update(created.id, { title: `t${i}` });
      // Answered: durable on A. The caller's own continuation (here 100 promise steps)
      // runs before anything is sent for it.
      for (let step = 0; step < 100; step++) await null;
      expect(counting.sent()).toBe(before);
      await seen;
      expect(counting.sent()).toBeGreaterThan(before);
    }
    expect((await b.records.get(created.id))?.title).toBe('t19');
  });
});
