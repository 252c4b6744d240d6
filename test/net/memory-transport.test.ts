import { describe, expect, it } from 'vitest';
import { CRASH_CLOSE_CODE, MemoryNetwork } from '../../src/net/memory-transport.js';
import { CloseCode, type TransportOptions } from '../../src/net/transport.js';
import { acceptor, frameOf, indexOf, record, seededRandom } from './helpers.js';
import { runTransportConformance } from './transport-conformance.js';

runTransportConformance('memory (auto)', (server, client) => {
  const network = new MemoryNetwork();
  return { server: network.transport('server', server), client: network.transport('client', client), address: { host: '', port: 0 } };
});

const ADDRESS = { host: '', port: 0 };

/** `from` dials `to` on `network`; both transports are created if needed. */
async function link(network: MemoryNetwork, from: string, to: string, options: Partial<TransportOptions> = {}) {
  const a = network.transport(from, options);
  const b = network.transport(to, options);
  const accepted = acceptor(b);
  await b.listen(ADDRESS);
  const c = await a.dial(`mem://${to}`);
  const s = await accepted.next();
  return { a, b, c, s, accepted };
}

describe('MemoryNetwork in manual mode', () => {
  it('resolves dial at once and moves nothing on its own', async () => {
    const network = new MemoryNetwork({ mode: 'manual' });
    const { c, s } = await link(network, 'a', 'b');
    const rs = record(s);
    c.send(frameOf(1));
    await new Promise((resolve) => setImmediate(resolve)); // a full turn of the event loop
    expect(rs.frames).toHaveLength(0);
    expect(network.pendingCount).toBe(1);
    expect(network.inFlight[0]).toMatchObject({ kind: 'frame', from: 'a', to: 'b', connectionId: c.id, bytes: 8, code: undefined });
  });

  it('delivers in the order the driver chooses', async () => {
    const network = new MemoryNetwork({ mode: 'manual' });
    const { c, s } = await link(network, 'a', 'b');
    const rs = record(s);
    for (let i = 0; i < 3; i++) c.send(frameOf(i));
    network.deliver(2);
    network.deliver(0);
    network.deliver(0);
    expect(rs.frames.map(indexOf)).toEqual([2, 0, 1]);
    expect(() => network.deliver(0)).toThrow(RangeError);
  });

  it('drops and duplicates frames', async () => {
    const network = new MemoryNetwork({ mode: 'manual' });
    const { c, s } = await link(network, 'a', 'b');
    const rs = record(s);
    c.send(frameOf(0));
    c.send(frameOf(1));
    network.drop(0);
    network.duplicate(0);
    expect(network.pendingCount).toBe(2);
    expect(network.deliverAll()).toBe(2);
    expect(rs.frames.map(indexOf)).toEqual([1, 1]);
    expect(rs.frames[0]).not.toBe(rs.frames[1]); // a duplicate is a copy
  });

  it('reports bytes in flight as bufferedAmount and releases drained() as the driver makes room', async () => {
    const network = new MemoryNetwork({ mode: 'manual' });
    const { c } = await link(network, 'a', 'b', { sendHighWaterBytes: 100 });
    expect(c.send(frameOf(0, 60))).toBe(true);
    expect(c.send(frameOf(1, 60))).toBe(false);
    network.duplicate(0);
    expect(c.bufferedAmount).toBe(180);
    let drained = false;
    const waiting = c.drained().then(() => { drained = true; });
    network.deliver(0);
    await Promise.resolve();
    expect(drained).toBe(false); // 120 bytes still in flight
    network.drop(0);
    await waiting;
    expect(c.bufferedAmount).toBe(60);
  });

  it('queues a close behind earlier frames; closes cannot be dropped or duplicated', async () => {
    const network = new MemoryNetwork({ mode: 'manual' });
    const { c, s } = await link(network, 'a', 'b');
    const [rc, rs] = [record(c), record(s)];
    c.send(frameOf(5));
    c.close(CloseCode.duplicate, 'redundant');
    expect(network.inFlight.map((p) => p.kind)).toEqual(['frame', 'close']);
    expect(network.inFlight[1]?.code).toBe(CloseCode.duplicate);
    expect(() => network.drop(1)).toThrow(TypeError);
    expect(() => network.duplicate(1)).toThrow(TypeError);
    expect(await rc.closed).toEqual({ code: CloseCode.duplicate, reason: 'redundant' });
    expect(rs.closes).toHaveLength(0);
    network.deliverAll();
    expect(rs.frames.map(indexOf)).toEqual([5]);
    expect(await rs.closed).toEqual({ code: CloseCode.duplicate, reason: 'redundant' });
  });

  it('discards frames that reach an endpoint after it closed', async () => {
    const network = new MemoryNetwork({ mode: 'manual' });
    const { c, s } = await link(network, 'a', 'b');
    const [rc, rs] = [record(c), record(s)];
    s.close(CloseCode.normal, 'bye');
    expect(c.send(frameOf(1))).toBe(true); // c has not heard of the close yet
    network.deliver(1);
    network.deliver(0);
    expect(rs.frames).toHaveLength(0);
    expect((await rc.closed).code).toBe(CloseCode.normal);
    expect(c.send(frameOf(2))).toBe(false);
    expect(network.pendingCount).toBe(0);
  });

  it('partition closes the links between two nodes on both sides and blocks dials until healed', async () => {
    const network = new MemoryNetwork({ mode: 'manual' });
    const { a, c: ab, s: ba } = await link(network, 'a', 'b');
    const cNode = network.transport('c');
    acceptor(cNode);
    await cNode.listen(ADDRESS);
    const ac = await a.dial('mem://c');
    const [rab, rba] = [record(ab), record(ba)];
    ab.send(frameOf(1));
    ac.send(frameOf(2));
    network.partition('a', 'b');
    expect((await rab.closed).code).toBe(CloseCode.heartbeatTimeout);
    expect((await rba.closed).code).toBe(CloseCode.heartbeatTimeout);
    expect(network.inFlight.map((p) => p.to)).toEqual(['c']); // the a-b frame died with its link
    expect(ac.isOpen).toBe(true);
    await expect(a.dial('mem://b')).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    network.heal('b', 'a');
    expect((await a.dial('mem://b')).isOpen).toBe(true);
  });

  it('closeAll crashes a node: both sides close with CRASH_CLOSE_CODE and the name can be restarted', async () => {
    const network = new MemoryNetwork({ mode: 'manual' });
    const { a, b, c, s } = await link(network, 'a', 'b');
    const [rc, rs] = [record(c), record(s)];
    c.send(frameOf(1));
    network.closeAll('b');
    expect((await rc.closed).code).toBe(CRASH_CLOSE_CODE);
    expect((await rs.closed).code).toBe(CRASH_CLOSE_CODE);
    expect(network.pendingCount).toBe(0);
    await expect(a.dial('mem://b')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await b.close(); // a crashed transport closes as a no-op
    const restarted = network.transport('b');
    const accepted = acceptor(restarted);
    await restarted.listen(ADDRESS);
    await a.dial('mem://b');
    expect(accepted.connections).toHaveLength(1);
  });

  it('refuses a wrong peer token before the listener sees a connection', async () => {
    const network = new MemoryNetwork({ mode: 'manual' });
    const b = network.transport('b', { peerToken: 'right' });
    const accepted = acceptor(b);
    await b.listen(ADDRESS);
    await expect(network.transport('a', { peerToken: 'wrong' }).dial('mem://b')).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    expect(accepted.connections).toHaveLength(0);
    expect(network.pendingCount).toBe(0);
  });

  it('replays a seeded run of reorders, drops and duplicates exactly', async () => {
    const run = async (seed: number): Promise<string[]> => {
      const random = seededRandom(seed);
      const network = new MemoryNetwork({ mode: 'manual' });
      const { c, s } = await link(network, 'a', 'b');
      const log: string[] = [];
      c.setHandlers({ onFrame: (f) => log.push(`a<${indexOf(f)}`), onClose: () => log.push('a closed') });
      s.setHandlers({
        onFrame: (f) => { log.push(`b<${indexOf(f)}`); s.send(frameOf(indexOf(f) + 1000)); }, // echo
        onClose: () => log.push('b closed'),
      });
      for (let i = 0; i < 30; i++) c.send(frameOf(i));
      for (let step = 0; network.pendingCount > 0 && step < 1000; step++) {
        const index = Math.floor(random() * network.pendingCount);
        const roll = random();
        if (roll < 0.1) network.drop(index);
        else if (roll < 0.2) network.duplicate(index);
        else network.deliver(index);
      }
      return log;
    };
    const first = await run(42);
    expect(first.length).toBeGreaterThan(30);
    expect(await run(42)).toEqual(first);
    expect(await run(43)).not.toEqual(first);
  });

  it('marks packets to an endpoint that stopped reading as blocked; a manual driver may still deliver them', async () => {
    const network = new MemoryNetwork({ mode: 'manual' });
    const { c, s, b } = await link(network, 'a', 'b', { maxInboundBytesPerConnection: 10 });
    const rs = record(s, { process: false });
    c.send(frameOf(0, 20));
    c.send(frameOf(1, 20));
    expect(network.inFlight.map((p) => p.blocked)).toEqual([false, false]);
    network.deliver(0);
    expect(network.inFlight.map((p) => p.blocked)).toEqual([true]);
    expect(b.stats()).toMatchObject({ unprocessedBytes: 20, pausedConnections: 1 });
    network.deliver(0);
    expect(rs.frames.map(indexOf)).toEqual([0, 1]);
    rs.processAll();
    expect(b.stats()).toMatchObject({ unprocessedBytes: 0, pausedConnections: 0 });
  });

  it('presents `publicKey` as a certificate key: peer keys and one channel binding, as over TLS', async () => {
    const network = new MemoryNetwork({ mode: 'manual' });
    const keyA = new Uint8Array(32).fill(1);
    const keyB = new Uint8Array(32).fill(2);
    const a = network.transport('a', { publicKey: keyA });
    const b = network.transport('b', { publicKey: keyB });
    const accepted = acceptor(b);
    await b.listen(ADDRESS);
    const c = await a.dial('mem://b');
    const s = await accepted.next();
    expect([c.peerKey, s.peerKey]).toEqual([keyB, keyA]);
    expect(c.channelBinding).toHaveLength(32);
    expect(s.channelBinding).toEqual(c.channelBinding);
    expect(() => network.transport('x', { publicKey: keyA, tls: { key: '', cert: '' } })).toThrow(TypeError);
  });

  it('refuses driver calls in auto mode', () => {
    expect(() => new MemoryNetwork().deliver(0)).toThrow(TypeError);
  });
});
