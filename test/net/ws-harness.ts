/**
 * Test harness for the WebSocket transport: makes transports on 127.0.0.1 port 0 and
 * closes them (and any raw sockets the test registered) after each test.
 */
import type { Socket } from 'node:net';
import { afterEach } from 'vitest';
import type { Transport } from '../../src/net/transport.js';
import { createWsTransport, type WsTransportOptions } from '../../src/net/ws-transport.js';
import { acceptor } from './helpers.js';

/** Options the ws tests start from. */
export const WS_OPTIONS = { maxFrameBytes: 64 * 1024, sendHighWaterBytes: 64 * 1024, heartbeatMs: 10_000 };

/** Registers the cleanup and returns the factories; call it inside a describe. */
export function wsHarness() {
  const transports: Transport[] = [];
  const cleanups: Array<() => void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });

  /** A transport closed after the test. */
  function make(overrides: Partial<WsTransportOptions> = {}): Transport {
    const transport = createWsTransport({ ...WS_OPTIONS, ...overrides });
    transports.push(transport);
    return transport;
  }

  /** A transport listening on 127.0.0.1 port 0, with its accepted connections. */
  async function listening(overrides: Partial<WsTransportOptions> = {}) {
    const server = make(overrides);
    const accepted = acceptor(server);
    const { url } = await server.listen({ host: '127.0.0.1', port: 0 });
    return { server, accepted, url, port: Number(new URL(url).port) };
  }

  /** Runs `cleanup` after the test (before the transports close). */
  function defer(cleanup: () => void): void {
    cleanups.push(cleanup);
  }

  /** Destroys `socket` after the test. */
  function track<T extends Socket>(socket: T): T {
    cleanups.push(() => socket.destroy());
    return socket;
  }

  return { make, listening, defer, track, transports };
}
