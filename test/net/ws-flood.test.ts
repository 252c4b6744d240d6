/**
 * A peer floods large frames over a real WebSocket while the owner processes slowly:
 * the receiver stops reading above maxInboundBytesPerConnection, TCP pushes back until
 * the sender's send() reports a full buffer, and every frame still arrives, in order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Transport } from '../../src/net/transport.js';
import { createWsTransport } from '../../src/net/ws-transport.js';
import { acceptor, frameOf, indexOf } from './helpers.js';

const MiB = 1024 * 1024;
const FRAME = 1 * MiB;
const FRAMES = 64;
const LIMIT = 4 * MiB;
const OWNER_WORK_MS = 20; // the owner's per-frame work (an ingest), modelled as a timer

describe('ws transport under a flood of large frames', () => {
  const transports: Transport[] = [];
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });

  it('keeps unprocessed bytes bounded, pushes back on the sender, and loses or reorders nothing', async () => {
    const options = { maxFrameBytes: FRAME, sendHighWaterBytes: MiB, heartbeatMs: 10_000 };
    const server = createWsTransport({ ...options, maxInboundBytesPerConnection: LIMIT });
    const client = createWsTransport(options);
    transports.push(server, client);
    const accepted = acceptor(server);
    const { url } = await server.listen({ host: '127.0.0.1', port: 0 });
    const c = await client.dial(url);
    const s = await accepted.next();

    const rssBefore = process.memoryUsage().rss;
    const seen = { maxUnprocessed: 0, maxPaused: 0, maxRss: rssBefore, receivedAtFirstPause: -1 };
    const received: number[] = [];
    let resolveAll!: () => void;
    const all = new Promise<void>((resolve) => { resolveAll = resolve; });
    let queue = Promise.resolve();
    s.setHandlers({
      onFrame: (frame) => {
        received.push(indexOf(frame));
        const stats = server.stats();
        seen.maxUnprocessed = Math.max(seen.maxUnprocessed, stats.unprocessedBytes);
        seen.maxPaused = Math.max(seen.maxPaused, stats.pausedConnections);
        if (stats.pausedConnections > 0 && seen.receivedAtFirstPause < 0) seen.receivedAtFirstPause = received.length;
        seen.maxRss = Math.max(seen.maxRss, process.memoryUsage().rss);
        queue = queue
          .then(() => new Promise<void>((resolve) => setTimeout(resolve, OWNER_WORK_MS)))
          .then(() => {
            s.processed(frame.byteLength);
            if (received.length === FRAMES && server.stats().unprocessedBytes === 0) resolveAll();
          });
      },
      onClose: () => {},
    });

    const started = performance.now();
    let blocked = 0;
    let maxBuffered = 0;
    for (let i = 0; i < FRAMES; i++) {
      const more = c.send(frameOf(i, FRAME));
      maxBuffered = Math.max(maxBuffered, c.bufferedAmount);
      if (!more) {
        blocked++;
        await c.drained();
      }
    }
    await all;
    const elapsedMs = performance.now() - started;

    expect(received).toEqual(Array.from({ length: FRAMES }, (_, i) => i));
    expect(seen.maxPaused).toBe(1); // the receiver stopped reading ...
    expect(blocked).toBeGreaterThan(0); // ... and TCP pushed back until the sender's buffer was full
    // At most the limit, plus the frame that crossed it, plus what one socket read completes.
    expect(seen.maxUnprocessed).toBeLessThanOrEqual(LIMIT + FRAME + 64 * 1024);
    expect(server.stats()).toMatchObject({ unprocessedBytes: 0, pausedConnections: 0 });
    if (process.env.CRMSYNC_NET_MEASURE) {
      console.info(JSON.stringify({
        frames: FRAMES, frameBytes: FRAME, limit: LIMIT, ownerWorkMs: OWNER_WORK_MS, elapsedMs: Math.round(elapsedMs),
        maxUnprocessed: seen.maxUnprocessed, receivedAtFirstPause: seen.receivedAtFirstPause, senderBlocked: blocked, maxSenderBuffered: maxBuffered,
        rssBeforeMiB: Math.round(rssBefore / MiB), rssPeakMiB: Math.round(seen.maxRss / MiB),
      }));
    }
  });
});
