import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLink, QUEUE_BYTES, startSlowLink, type SlowLink } from '../../bench/slow-link.js';

// The bench's slow link (`npm run bench -- --phases link`) is what its slow-link rows are
// measured through: it must pass every byte in order, both ways, and never be faster than
// the link it stands for (a lower bound on time: the machine can only make it slower).

let server: Server | undefined;
let link: SlowLink | undefined;
afterEach(async () => {
  await link?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = link = undefined;
});

/** An echo server that half-closes after the client's end, as the link passes it on. */
async function echoServer(): Promise<number> {
  server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** Sends `payload` through the link, then ends; resolves with what came back and when the end arrived. */
function roundTrip(port: number, payload: Buffer): Promise<{ echoed: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket: Socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      resolve({ echoed: Buffer.concat(chunks), ms: performance.now() - t0 });
      socket.destroy();
    });
    socket.on('error', reject);
    // Written in pieces of every size, so that the link's splitting and queueing are crossed.
    for (let at = 0, size = 1; at < payload.length; at += size, size = (size * 7) % 40_000 + 1) socket.write(payload.subarray(at, at + size));
    socket.end();
  });
}

describe('bench slow link', () => {
  it('passes every byte back in order, counts them, and takes at least the time the rate and round trip allow', async () => {
    const spec = { bitsPerSecond: 4e6, rttMs: 20 };
    link = await startSlowLink(await echoServer(), spec);
    const payload = randomBytes(600 * 1024); // more than the queue: the sender is paused and resumed
    const { echoed, ms } = await roundTrip(link.port, payload);
    expect(echoed.equals(payload)).toBe(true);
    expect(link.bytes).toMatchObject({ up: payload.length, down: payload.length });
    // The sender was paused when a direction's queue was full: at most one socket read (64 KiB) beyond it.
    expect(link.bytes.maxQueued).toBeGreaterThan(QUEUE_BYTES);
    expect(link.bytes.maxQueued).toBeLessThanOrEqual(QUEUE_BYTES + 64 * 1024);
    // Each direction serialises the payload at the rate; the echo starts as the first piece arrives.
    const oneWay = (payload.length * 8 * 1000) / spec.bitsPerSecond;
    expect(ms).toBeGreaterThanOrEqual(oneWay + spec.rttMs);
  });

  it('delays a small message by a round trip', async () => {
    link = await startSlowLink(await echoServer(), { bitsPerSecond: 1e9, rttMs: 60 });
    const { echoed, ms } = await roundTrip(link.port, Buffer.from('ping'));
    expect(echoed.toString()).toBe('ping');
    expect(ms).toBeGreaterThanOrEqual(60);
  });

  it('reads a rate and a round trip, and says what is wrong with anything else', () => {
    expect(parseLink('10mbit,40ms')).toEqual({ bitsPerSecond: 10e6, rttMs: 40 });
    expect(parseLink('512kbit,250ms')).toEqual({ bitsPerSecond: 512e3, rttMs: 250 });
    expect(parseLink('1.5Gbit,0.5ms')).toEqual({ bitsPerSecond: 1.5e9, rttMs: 0.5 });
    expect(() => parseLink('10mbps')).toThrow(/not a rate and a round trip, e\.g\. 10mbit,40ms/);
    expect(() => parseLink('5kbit,10ms')).toThrow(/at least 10kbit/);
  });
});
