/**
 * Conformance, part 3: resource governors common to both transports. Connection
 * admission (total, per address, unauthenticated) and inbound flow control (per
 * connection and in total). Both transports run it (transport-conformance.ts).
 */
import { describe, expect, it, vi } from 'vitest';
import type { Connection } from '../../src/net/transport.js';
import { frameOf, indexOf, record, type Recording } from './helpers.js';
import { pairSetup, type MakeTransportPair } from './transport-conformance.js';

const FRAME = 32 * 1024;
const MAX_FRAME = 64 * 1024;

/** Sends `count` frames of FRAME bytes at once, ignoring backpressure (a flooding peer). */
function flood(connection: Connection, count: number, first = 0): void {
  for (let i = first; i < first + count; i++) connection.send(frameOf(i, FRAME));
}

/** Records `connection` without processing, and the most unprocessed bytes the transport reported at any frame. */
function holding(connection: Connection, unprocessed: () => number): { recording: Recording; max: () => number } {
  let max = 0;
  const recording = record(connection, { process: false, observe: () => { max = Math.max(max, unprocessed()); } });
  return { recording, max: () => max };
}

/** Registers the resource-governor conformance tests. */
export function runLimitsConformance(name: string, makeTransportPair: MakeTransportPair): void {
  describe(`${name} transport conformance: resource governors`, () => {
    const setup = pairSetup(makeTransportPair);

    it('refuses upgrades beyond maxConnections with ERR_BUSY and no connection, and admits again when one closes', async () => {
      const { client, url, accepted, server, connect } = await setup({ maxConnections: 2 }, {});
      const first = await connect();
      await connect();
      await expect(client.dial(url)).rejects.toMatchObject({ code: 'ERR_BUSY' });
      expect(accepted.connections).toHaveLength(2);
      expect(server.stats()).toMatchObject({ connections: 2, refused: { connections: 1 } });
      const rs = record(first.s);
      first.c.close(1000, 'done');
      await rs.closed;
      await vi.waitFor(() => expect(server.stats().connections).toBe(1));
      await connect();
    });

    it('counts outbound connections and dials in progress against maxConnections', async () => {
      const { client, url, accepted, server } = await setup({}, { maxConnections: 1 });
      await client.dial(url);
      await expect(client.dial(url)).rejects.toMatchObject({ code: 'ERR_BUSY' });
      expect(accepted.connections).toHaveLength(1);
      expect(server.stats().refused).toEqual({}); // refused locally: the server never heard of it
      expect(client.stats().connections).toBe(1);
    });

    it('refuses a remote address beyond maxConnectionsPerAddress', async () => {
      const { client, url, accepted, server } = await setup({ maxConnectionsPerAddress: 2 }, {});
      await client.dial(url);
      await client.dial(url);
      await expect(client.dial(url)).rejects.toMatchObject({ code: 'ERR_BUSY' });
      await vi.waitFor(() => expect(accepted.connections).toHaveLength(2));
      expect(server.stats().refused).toEqual({ address: 1 });
    });

    it('refuses beyond maxUnauthenticatedConnections until the owner calls authenticated()', async () => {
      const { client, url, server, connect } = await setup({ maxUnauthenticatedConnections: 1 }, {});
      const { s } = await connect();
      expect(server.stats().unauthenticated).toBe(1);
      await expect(client.dial(url)).rejects.toMatchObject({ code: 'ERR_BUSY' });
      expect(server.stats().refused).toEqual({ unauthenticated: 1 });
      s.authenticated();
      s.authenticated(); // idempotent
      expect(server.stats().unauthenticated).toBe(0);
      const second = await connect();
      expect(server.stats().unauthenticated).toBe(1);
      const rs = record(second.s);
      second.c.close(1000, 'bye');
      await rs.closed;
      await vi.waitFor(() => expect(server.stats().unauthenticated).toBe(0)); // a closed connection stops counting
    });

    it('stops reading above maxInboundBytesPerConnection and resumes as the owner processes; nothing lost or reordered', async () => {
      const limit = 128 * 1024;
      const count = 200;
      const { server, connect } = await setup({ maxInboundBytesPerConnection: limit }, {});
      const { c, s } = await connect();
      const held = holding(s, () => server.stats().unprocessedBytes);
      flood(c, count);
      await vi.waitFor(() => expect(server.stats().pausedConnections).toBe(1));
      expect(held.recording.frames.length).toBeLessThan(count);
      expect(server.stats().unprocessedBytes).toBeGreaterThan(limit);
      held.recording.processAll();
      await held.recording.untilFrames(count);
      expect(held.recording.frames.map(indexOf)).toEqual(Array.from({ length: count }, (_, i) => i));
      // Reading stops within one frame (and, over TCP, one read) of the limit.
      expect(held.max()).toBeLessThanOrEqual(limit + 2 * MAX_FRAME);
      expect(server.stats()).toMatchObject({ unprocessedBytes: 0, pausedConnections: 0 });
    });

    it('stops reading every connection above maxInboundBytesTotal, and resumes them all', async () => {
      const total = 128 * 1024;
      const count = 100;
      const { server, connect } = await setup({ maxInboundBytesTotal: total }, {});
      const links = [await connect(), await connect()];
      const held = links.map(({ s }) => holding(s, () => server.stats().unprocessedBytes));
      links.forEach(({ c }, i) => flood(c, count, i * 1000));
      await vi.waitFor(() => expect(server.stats().pausedConnections).toBe(2));
      expect(held.reduce((sum, h) => sum + h.recording.frames.length, 0)).toBeLessThan(2 * count);
      for (const h of held) h.recording.processAll();
      await Promise.all(held.map((h) => h.recording.untilFrames(count)));
      held.forEach((h, i) => expect(h.recording.frames.map(indexOf)).toEqual(Array.from({ length: count }, (_, k) => i * 1000 + k)));
      expect(Math.max(...held.map((h) => h.max()))).toBeLessThanOrEqual(total + 2 * 2 * MAX_FRAME);
      expect(server.stats()).toMatchObject({ unprocessedBytes: 0, pausedConnections: 0 });
    });

    it('releases a closed connection\'s unprocessed bytes; processed() refuses nonsense and is a no-op after close', async () => {
      const { server, connect } = await setup();
      const { c, s } = await connect();
      const rs = record(s, { process: false });
      c.send(frameOf(1, 1000));
      await rs.untilFrames(1);
      expect(server.stats().unprocessedBytes).toBe(1000);
      expect(() => s.processed(-1)).toThrow(TypeError);
      expect(() => s.processed(Number.NaN)).toThrow(TypeError);
      s.processed(400);
      expect(server.stats().unprocessedBytes).toBe(600);
      s.close(1000, 'bye');
      await rs.closed;
      expect(server.stats().unprocessedBytes).toBe(0);
      s.processed(5000);
      expect(server.stats().unprocessedBytes).toBe(0);
    });
  });
}
