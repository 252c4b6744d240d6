import { connect as tcpConnect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { CloseCode } from '../../src/net/transport.js';
import { createWsTransport } from '../../src/net/ws-transport.js';
import { frameOf, indexOf, once, record } from './helpers.js';
import { runTransportConformance } from './transport-conformance.js';
import { WS_OPTIONS, wsHarness } from './ws-harness.js';

runTransportConformance('ws', (server, client) => ({
  server: createWsTransport(server),
  client: createWsTransport(client),
  address: { host: '127.0.0.1', port: 0 },
}));

const MAX_FRAME = WS_OPTIONS.maxFrameBytes;

describe('ws transport', () => {
  const { make, listening, defer, transports } = wsHarness();

  /** A plain `ws` client, outside our transport, for misbehaving peers. */
  async function rawClient(url: string, options: { autoPong?: boolean } = {}): Promise<WebSocket> {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
    ws.on('error', () => {}); // the server closing on us is the point of these tests
    defer(() => ws.terminate());
    await once(ws, 'open');
    return ws;
  }

  /** A TCP server that accepts and then says nothing. */
  async function silentServer(): Promise<string> {
    const sockets: Socket[] = [];
    const server: TcpServer = createTcpServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    defer(() => { for (const s of sockets) s.destroy(); server.close(); });
    const address = server.address();
    return `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  it('listens on an ephemeral port and returns the real URL', async () => {
    const { url, port } = await listening();
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(port).toBeGreaterThan(0);
    await expect(transports[0]!.listen({ host: '127.0.0.1', port: 0 })).rejects.toBeInstanceOf(TypeError);
  });

  it('refuses a wrong or missing token in the HTTP upgrade: ERR_UNAUTHORIZED and no connection', async () => {
    const { url, accepted } = await listening({ peerToken: 'right-token' });
    await expect(make({ peerToken: 'wrong-token' }).dial(url)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    await expect(make().dial(url)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    const raw = new WebSocket(url, { headers: { Authorization: 'Bearer right-token-but-longer' } });
    raw.on('error', () => {});
    const [, response] = await once<[unknown, { statusCode?: number }]>(raw, 'unexpected-response');
    expect(response.statusCode).toBe(401);
    raw.terminate();
    // Upgrades are handled in arrival order, so this proves the refused ones never got through.
    await make({ peerToken: 'right-token' }).dial(url);
    await accepted.next();
    expect(accepted.connections).toHaveLength(1);
  });

  it('logs a refused peer with a constant message and without the token', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const { url } = await listening({ peerToken: 'right-token', logger: createLogger({ level: 'debug', destination }) });
    await expect(make({ peerToken: 'secret-guess' }).dial(url)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    const entries = lines.map((line) => JSON.parse(line) as { msg: string; component?: string; level: number });
    expect(entries).toContainEqual(expect.objectContaining({ msg: 'connection refused', reason: 'token', count: 1, component: 'net.ws', level: 40 }));
    expect(lines.join('\n')).not.toMatch(/secret-guess|right-token/);
  });

  it('closes a connection that sends a text frame with protocolError', async () => {
    const { url, accepted } = await listening();
    const raw = await rawClient(url);
    const rs = record(await accepted.next());
    const rawClosed = once<[number]>(raw, 'close');
    raw.send('not binary');
    expect((await rs.closed).code).toBe(CloseCode.protocolError);
    expect((await rawClosed)[0]).toBe(CloseCode.protocolError);
    expect(rs.frames).toHaveLength(0);
  });

  it('terminates a peer that stops answering pings with heartbeatTimeout', async () => {
    const { url, accepted } = await listening({ heartbeatMs: 50 });
    const raw = await rawClient(url, { autoPong: false });
    const rawClosed = once<[number]>(raw, 'close');
    const rs = record(await accepted.next());
    expect(await rs.closed).toEqual({ code: CloseCode.heartbeatTimeout, reason: 'heartbeat timeout' });
    expect((await rawClosed)[0]).toBe(1006); // terminated: no close frame was sent
  });

  it('keeps a peer that answers pings', async () => {
    const { url, accepted } = await listening({ heartbeatMs: 20 });
    const raw = await rawClient(url);
    const s = await accepted.next();
    const rs = record(s);
    await new Promise<void>((resolve) => {
      let pings = 0;
      raw.on('ping', () => { if (++pings === 5) resolve(); });
    });
    expect(s.isOpen).toBe(true);
    expect(rs.closes).toHaveLength(0);
  });

  it('closes only the connection that sent an oversized frame', async () => {
    const { url, accepted } = await listening();
    const good = await make().dial(url);
    const rsGood = record(await accepted.next());
    const bad = await rawClient(url);
    const rsBad = record(await accepted.next());
    const badClosed = once<[number]>(bad, 'close');
    bad.send(new Uint8Array(MAX_FRAME + 1));
    expect((await rsBad.closed).code).toBe(CloseCode.frameTooLarge);
    expect((await badClosed)[0]).toBe(CloseCode.frameTooLarge);
    good.send(frameOf(7));
    await rsGood.untilFrames(1);
    expect(indexOf(rsGood.frames[0]!)).toBe(7);
    expect(good.isOpen).toBe(true);
  });

  it('closes only the connection that sent garbage bytes', async () => {
    const { url, accepted, port } = await listening();
    const good = await make().dial(url);
    const rsGood = record(await accepted.next());
    const socket = tcpConnect(port, '127.0.0.1');
    socket.on('error', () => {});
    defer(() => socket.destroy());
    const upgraded = new Promise<string>((resolve) => socket.once('data', (data: Buffer) => resolve(data.toString('latin1'))));
    socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    expect(await upgraded).toMatch(/^HTTP\/1\.1 101/);
    const rsBad = record(await accepted.next());
    const socketClosed = once(socket, 'close');
    socket.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4])); // opcode 3 is reserved
    expect((await rsBad.closed).code).toBe(CloseCode.protocolError);
    await socketClosed;
    good.send(frameOf(9));
    await rsGood.untilFrames(1);
    expect(indexOf(rsGood.frames[0]!)).toBe(9);
  });

  it('rejects a dial that does not complete in connectTimeoutMs with ERR_TIMEOUT', async () => {
    const url = await silentServer();
    await expect(make({ connectTimeoutMs: 100 }).dial(url)).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });

  it('rejects an aborted dial with ERR_TIMEOUT', async () => {
    const url = await silentServer();
    const client = make();
    const controller = new AbortController();
    const dialing = client.dial(url, { signal: controller.signal });
    controller.abort(new Error('shutting down'));
    await expect(dialing).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    await expect(client.dial(url, { signal: controller.signal })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });

  it('rejects pending dials with ERR_CLOSED when the transport closes', async () => {
    const url = await silentServer();
    const client = make();
    const dialing = client.dial(url);
    await client.close();
    await expect(dialing).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('rejects listen on a busy port with the network error, and can listen again', async () => {
    const { port } = await listening();
    const second = make();
    await expect(second.listen({ host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const { url } = await second.listen({ host: '127.0.0.1', port: 0 });
    expect(url).not.toBe(`ws://127.0.0.1:${port}`);
  });

  it('does not keep listening when close() runs during listen()', async () => {
    const transport = make();
    const listening = transport.listen({ host: '127.0.0.1', port: 0 });
    const closing = transport.close();
    await expect(listening).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await closing;
  });

  it('rejects a dial to a closed port with the network error', async () => {
    const { url, server } = await listening();
    await server.close();
    await expect(make().dial(url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
