/**
 * httpFetch, the CLI's fetch over node:http: real servers on 127.0.0.1 port 0, good and
 * bad answers, and ApiClient on top of it mapping failures to the CLI's errors.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/client.js';
import { NotRunningError } from '../../src/cli/errors.js';
import { httpFetch } from '../../src/cli/http.js';
import { CrmsyncError } from '../../src/errors.js';

const servers: (Server | TcpServer)[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen<T extends Server | TcpServer>(server: T): Promise<{ server: T; url: string }> {
  servers.push(server);
  server.on('connection', (socket: Socket) => sockets.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** An HTTP server that answers every request with `handler`. */
const http = (handler: (req: IncomingMessage, res: ServerResponse) => void) => listen(createServer(handler));

/** A TCP server that answers every connection with `onSocket` (for answers that are not HTTP). */
const tcp = (onSocket: (socket: Socket) => void) => listen(createTcpServer(onSocket));

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += (chunk as Buffer).toString();
  return text;
}

describe('httpFetch', () => {
  it('sends method, headers and a JSON body; returns status and text', async () => {
    const { url } = await http(async (req, res) => {
      const sent = { method: req.method, path: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body: await body(req) };
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(sent));
    });
    const res = await httpFetch(new URL('/v1/customers?x=1', url), {
      method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: '{"name":"Ada Løvelace"}',
    });
    expect({ ok: res.ok, status: res.status }).toEqual({ ok: true, status: 201 });
    expect(JSON.parse(await res.text())).toEqual({
      method: 'POST', path: '/v1/customers?x=1', auth: 'Bearer t', type: 'application/json', body: '{"name":"Ada Løvelace"}',
    });
  });

  it('returns an error status as a response, not a failure', async () => {
    const { url } = await http((_req, res) => res.writeHead(404).end('{"error":{"code":"ERR_NOT_FOUND","message":"no such customer"}}'));
    const res = await httpFetch(new URL('/v1/customers/x', url));
    expect({ ok: res.ok, status: res.status }).toEqual({ ok: false, status: 404 });
    const client = new ApiClient(url, 'token', { fetch: httpFetch });
    const err = await client.get('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmsyncError);
    expect((err as CrmsyncError).code).toBe('ERR_NOT_FOUND');
  });

  it('fails like fetch on a refused connection; ApiClient says the node is not running', async () => {
    const { server, url } = await http(() => undefined);
    await new Promise((resolve) => server.close(resolve));
    const err = await httpFetch(new URL('/v1/status', url)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error & { cause: { code: string } }).cause.code).toBe('ECONNREFUSED');
    await expect(new ApiClient(url, 'token', { fetch: httpFetch }).status()).rejects.toBeInstanceOf(NotRunningError);
  });

  it('rejects with the signal\'s reason when a node does not answer in time', async () => {
    const { url } = await http(() => undefined); // never answers
    const err = await httpFetch(new URL('/v1/status', url), { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('TimeoutError');
    const client = new ApiClient(url, 'token', { fetch: httpFetch, timeoutMs: 100 });
    const viaClient = await client.status().catch((e: unknown) => e);
    expect((viaClient as CrmsyncError).code).toBe('ERR_TIMEOUT');
  });

  it('fails on an answer that is not HTTP, with the parser error as the cause', async () => {
    const { url } = await tcp((socket) => socket.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'));
    const err = await httpFetch(new URL('/v1/status', url)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error & { cause: { code: string } }).cause.code).toMatch(/^HPE_/);
  });

  it('fails when the connection is cut in the middle of the body', async () => {
    // The head promises 1000 bytes of body; the connection closes after 10.
    const { url } = await tcp((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"nodeId":'));
    const err = await httpFetch(new URL('/v1/status', url)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
  });
});
