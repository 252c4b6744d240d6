/**
 * The transport conformance suite: every Transport implementation runs it (see
 * ws-transport.test.ts and memory-transport.test.ts), so the sync engine can rely on
 * one behaviour whatever carries its frames.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CloseCode, type Connection, type Transport, type TransportOptions } from '../../src/net/transport.js';
import { acceptor, frameOf, indexOf, record } from './helpers.js';
import { runSecurityConformance } from './conformance-security.js';
import { runLimitsConformance } from './conformance-limits.js';

/** Two fresh transports of one implementation, and the address the server listens on. */
export interface TransportPair {
  server: Transport;
  client: Transport;
  address: { host: string; port: number };
}

/** Builds a pair; the client's options default to the server's. */
export type MakeTransportPair = (server: TransportOptions, client: TransportOptions) => TransportPair | Promise<TransportPair>;

const MAX_FRAME = 64 * 1024;
const HIGH_WATER = 64 * 1024;
/** Options every conformance test starts from. */
export const OPTIONS: TransportOptions = { maxFrameBytes: MAX_FRAME, sendHighWaterBytes: HIGH_WATER, heartbeatMs: 10_000 };

/** A pair factory that closes what it made after each test, and a listening server per pair. */
export function pairSetup(makeTransportPair: MakeTransportPair) {
  const pairs: TransportPair[] = [];
  afterEach(async () => {
    await Promise.all(pairs.splice(0).flatMap((p) => [p.server.close(), p.client.close()]));
  });
  return async (overrides: Partial<TransportOptions> = {}, clientOverrides: Partial<TransportOptions> = overrides) => {
    const pair = await makeTransportPair({ ...OPTIONS, ...overrides }, { ...OPTIONS, ...clientOverrides });
    pairs.push(pair);
    const accepted = acceptor(pair.server);
    const { url } = await pair.server.listen(pair.address);
    const connect = async (): Promise<{ c: Connection; s: Connection }> => {
      const c = await pair.client.dial(url);
      return { c, s: await accepted.next() };
    };
    return { ...pair, url, accepted, connect };
  };
}

/** Registers the conformance tests for one transport implementation. */
export function runTransportConformance(name: string, makeTransportPair: MakeTransportPair): void {
  runSecurityConformance(name, makeTransportPair);
  runLimitsConformance(name, makeTransportPair);
  describe(`${name} transport conformance`, () => {
    const setup = pairSetup(makeTransportPair);

    it('round-trips frames in both directions, in order', async () => {
      const { connect } = await setup();
      const { c, s } = await connect();
      expect([c.direction, s.direction]).toEqual(['outbound', 'inbound']);
      expect(c.id).not.toBe(s.id);
      expect(c.isOpen && s.isOpen).toBe(true);
      const [rc, rs] = [record(c), record(s)];
      for (let i = 0; i < 100; i++) expect(c.send(frameOf(i, 100))).toBe(true);
      await rs.untilFrames(100);
      expect(rs.frames).toEqual(Array.from({ length: 100 }, (_, i) => frameOf(i, 100)));
      for (let i = 0; i < 100; i++) s.send(frameOf(1000 + i, 50));
      await rc.untilFrames(100);
      expect(rc.frames.map(indexOf)).toEqual(Array.from({ length: 100 }, (_, i) => 1000 + i));
      expect(rc.frames[0]).toBeInstanceOf(Uint8Array);
    });

    it('accepts a frame of exactly maxFrameBytes, closes with frameTooLarge above it, and keeps accepting', async () => {
      const { connect } = await setup();
      const { c, s } = await connect();
      const [rc, rs] = [record(c), record(s)];
      c.send(new Uint8Array(MAX_FRAME).fill(7));
      await rs.untilFrames(1);
      expect(rs.frames[0]?.byteLength).toBe(MAX_FRAME);
      c.send(new Uint8Array(MAX_FRAME + 1));
      expect((await rs.closed).code).toBe(CloseCode.frameTooLarge);
      expect((await rc.closed).code).toBe(CloseCode.frameTooLarge);
      expect(rs.frames).toHaveLength(1);
      const next = await connect();
      const rs2 = record(next.s);
      next.c.send(frameOf(42));
      await rs2.untilFrames(1);
      expect(indexOf(rs2.frames[0]!)).toBe(42);
    });

    it.each(['client', 'server'] as const)('propagates a close started by the %s with its code and reason, exactly once', async (side) => {
      const { connect, server, client } = await setup();
      const { c, s } = await connect();
      const [rc, rs] = [record(c), record(s)];
      (side === 'client' ? c : s).close(CloseCode.duplicate, 'redundant');
      expect(await rs.closed).toEqual({ code: CloseCode.duplicate, reason: 'redundant' });
      expect(await rc.closed).toEqual({ code: CloseCode.duplicate, reason: 'redundant' });
      expect(c.isOpen || s.isOpen).toBe(false);
      c.close(CloseCode.normal, 'again');
      s.close(CloseCode.normal, 'again');
      await Promise.all([server.close(), client.close()]);
      expect([rc.closes.length, rs.closes.length]).toEqual([1, 1]);
    });

    it('calls onClose exactly once on each side when both close at the same time', async () => {
      const { connect, server, client } = await setup();
      const { c, s } = await connect();
      const [rc, rs] = [record(c), record(s)];
      c.close(CloseCode.normal, 'client');
      s.close(CloseCode.duplicate, 'server');
      await Promise.all([rc.closed, rs.closed, server.close(), client.close()]);
      expect([rc.closes.length, rs.closes.length]).toEqual([1, 1]);
    });

    it('returns false from send after a close, without throwing', async () => {
      const { connect } = await setup();
      const { c, s } = await connect();
      const [rc, rs] = [record(c), record(s)];
      s.close(CloseCode.normal, 'bye');
      expect(s.send(frameOf(1))).toBe(false);
      await rc.closed;
      expect(c.send(frameOf(2))).toBe(false);
      await expect(c.drained()).resolves.toBeUndefined();
      await rs.closed;
      expect(rs.frames).toHaveLength(0);
    });

    it('delivers frames that arrived before setHandlers, then the close', async () => {
      const { server, client, url } = await setup();
      server.onConnection((connection) => {
        for (let i = 0; i < 3; i++) connection.send(frameOf(i));
        connection.close(CloseCode.versionMismatch, 'v2 only');
      });
      const c = await client.dial(url);
      await vi.waitFor(() => expect(c.isOpen).toBe(false)); // everything has arrived and is buffered
      const rc = record(c);
      await rc.untilFrames(3);
      expect(rc.frames.map(indexOf)).toEqual([0, 1, 2]);
      expect(await rc.closed).toEqual({ code: CloseCode.versionMismatch, reason: 'v2 only' });
    });

    it('keeps frames sent before the receiver installed handlers, in order', async () => {
      const { server, client, url } = await setup();
      server.onConnection((connection) => {
        for (let i = 0; i < 5; i++) connection.send(frameOf(i));
      });
      const c = await client.dial(url);
      const rc = record(c);
      await rc.untilFrames(5);
      expect(rc.frames.map(indexOf)).toEqual([0, 1, 2, 3, 4]);
    });

    it('closes with policyViolation when too many frames wait for handlers', async () => {
      const { server, client, url } = await setup();
      const closedOnServer = new Promise<number>((resolve) => server.onConnection((connection) => {
        connection.setHandlers({ onFrame: () => {}, onClose: (code) => resolve(code) });
        for (let i = 0; i < 1100; i++) connection.send(frameOf(i));
      }));
      const c = await client.dial(url);
      await vi.waitFor(() => expect(c.isOpen).toBe(false));
      const rc = record(c);
      expect((await rc.closed).code).toBe(CloseCode.policyViolation);
      expect(await closedOnServer).toBe(CloseCode.policyViolation);
      expect(rc.frames).toHaveLength(0);
    });

    it('closes with internalError when a handler throws, and the process carries on', async () => {
      const { connect } = await setup();
      const { c, s } = await connect();
      const rc = record(c);
      s.setHandlers({ onFrame: () => { throw new Error('bug in the owner'); }, onClose: () => {} });
      c.send(frameOf(1));
      expect((await rc.closed).code).toBe(CloseCode.internalError);
    });

    it('signals backpressure: send() turns false above the high-water mark, drained() resolves, nothing is lost', async () => {
      const { connect } = await setup();
      const { c, s } = await connect();
      const rs = record(s);
      let sent = 0;
      for (;;) {
        const more = c.send(frameOf(sent++, 16 * 1024));
        if (!more) break;
        if (sent > 100_000) throw new Error('send() never reported a full buffer');
      }
      expect(c.bufferedAmount).toBeGreaterThan(HIGH_WATER);
      await c.drained();
      expect(c.bufferedAmount).toBeLessThanOrEqual(HIGH_WATER);
      expect(c.send(frameOf(sent++, 16))).toBe(true);
      await rs.untilFrames(sent);
      expect(rs.frames.map(indexOf)).toEqual(Array.from({ length: sent }, (_, i) => i));
    });

    it('close() closes every connection with goingAway, is idempotent, and refuses further use', async () => {
      const { connect, server, client, url, address } = await setup();
      const links = [await connect(), await connect()];
      const recordings = links.flatMap(({ c, s }) => [record(c), record(s)]);
      await Promise.all([server.close(), server.close()]);
      const closes = await Promise.all(recordings.map((r) => r.closed));
      expect(closes.map((e) => e.code)).toEqual(Array(4).fill(CloseCode.goingAway));
      await expect(client.dial(url)).rejects.toBeInstanceOf(Error);
      await expect(server.dial(url)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
      await expect(server.listen(address)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
      await server.close();
    });

    it("closing the dialing transport closes its outbound connections", async () => {
      const { connect, client } = await setup();
      const { s } = await connect();
      const rs = record(s);
      await client.close();
      expect((await rs.closed).code).toBe(CloseCode.goingAway);
    });
  });
}
