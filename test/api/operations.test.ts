/**
 * The cross-cutting parts of the API over real HTTP: the bearer token on every route
 * that needs it, health and readiness, the OpenAPI document against the routes fastify
 * registered, /metrics in Prometheus text, status and peers, error mapping of fastify's
 * own errors, and the access log (constant message, no customer data).
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_BODY_BYTES, MAX_PARAM_LENGTH } from '../../src/api/server.js';
import { responses } from '../../src/api/schemas.js';
import { MAX_RECORD_ID_LENGTH } from '../../src/types.js';
import { Level } from 'level';
import { join } from 'node:path';
import { captureLog } from '../integration/helpers.js';
import { tempDirs } from '../support/temp-dirs.js';
import { ApiHarness, openStream, parsePrometheus, TOKEN, type Reply } from './helpers.js';

const h = new ApiHarness();
const dirs = tempDirs();
afterEach(() => h.cleanup());
afterEach(() => dirs.cleanup());

const PUBLIC = ['/healthz', '/readyz', '/openapi.json'];
const concrete = (url: string) => url.replace(':id', 'acme');

describe('authentication', () => {
  it('every route but the public ones answers 401 with WWW-Authenticate without the right token', async () => {
    const a = await h.start();
    const guarded = a.api.routes.filter((r) => !PUBLIC.includes(r.url));
    expect(guarded.length).toBeGreaterThan(10);
    for (const route of guarded) {
      for (const token of [null, 'wrong-token', '']) {
        const reply = await a.call(route.method, concrete(route.url), { token });
        expect(reply.status, `${route.method} ${route.url} token=${token}`).toBe(401);
        expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(reply.json).toEqual({ error: { code: 'ERR_UNAUTHORIZED', message: expect.any(String) } });
      }
      const basic = await a.call(route.method, concrete(route.url), { token: null, headers: { authorization: 'Basic dGVzdA==' } });
      expect(basic.status).toBe(401);
    }
    for (const path of PUBLIC) expect((await a.call('GET', path, { token: null })).status).toBe(200);
  });

  it('refuses to start without a token', async () => {
    await expect(h.start({}, { token: '' })).rejects.toThrow(TypeError);
  });
});

describe('health and readiness', () => {
  it('healthz is always ok; readyz follows the ready option and the node being open', async () => {
    let ready = false;
    const a = await h.start({}, { ready: () => ready });
    expect((await a.call('GET', '/healthz', { token: null })).json).toEqual({ status: 'ok' });
    const notReady = await a.call('GET', '/readyz', { token: null });
    expect([notReady.status, notReady.json]).toEqual([503, { status: 'not ready' }]);
    ready = true;
    expect((await a.call('GET', '/readyz', { token: null })).json).toEqual({ status: 'ready' });
    await a.node.close();
    expect((await a.call('GET', '/readyz', { token: null })).status).toBe(503);
    const closed = await a.call('GET', '/v1/status');
    expect([closed.status, closed.json.error.code]).toEqual([503, 'ERR_CLOSED']);
  });
});

describe('a failed store', () => {
  it('readyz answers 503, writes and status answer ERR_STORAGE without any file path, healthz stays ok', async () => {
    const dir = await dirs.make();
    const db = new Level<string, Uint8Array>(join(dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'view' });
    const a = await h.start({ db });
    await a.call('POST', '/v1/customers', { body: { id: 'before', name: 'Stored before' } });
    // The disk fails under the store: every batch write from now on is refused.
    const batch = db.batch.bind(db);
    db.batch = ((...args: unknown[]) => {
      const chained = (batch as (...a: unknown[]) => ReturnType<typeof db.batch>)(...args);
      (chained as unknown as { write: () => Promise<never> }).write = () => Promise.reject(Object.assign(new Error(`EIO: i/o error, write '${dir}/db/000123.log'`), { code: 'EIO' }));
      return chained;
    }) as typeof db.batch;
    const write = await a.call('POST', '/v1/customers', { body: { id: 'after', name: 'Refused' } });
    expect(write.status).toBe(500);
    expect(write.json.error.code).toBe('ERR_STORAGE');
    expect(JSON.stringify(write.json)).not.toContain(dir);
    const ready = await a.call('GET', '/readyz', { token: null });
    expect([ready.status, ready.json]).toEqual([503, { status: 'not ready' }]);
    const status = await a.call('GET', '/v1/status');
    expect(status.json.error.code).toBe('ERR_STORAGE');
    expect(JSON.stringify(status.json)).not.toContain(dir);
    expect((await a.call('GET', '/healthz', { token: null })).status).toBe(200);
  });
});

describe('OpenAPI document', () => {
  it('lists exactly the registered routes, each with its method, and is OpenAPI 3.1', async () => {
    const a = await h.start();
    const doc = (await a.call('GET', '/openapi.json', { token: null })).json;
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    const registered = a.api.routes.map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`).sort();
    expect(documented).toEqual(registered);
    const create = doc.paths['/v1/customers'].post;
    expect(create.requestBody.content['application/json'].schema.properties.name).toMatchObject({ type: 'string' });
    expect(create.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }));
    expect(create.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    const list = doc.paths['/v1/customers'].get.parameters.map((p: { name: string }) => p.name);
    expect(list).toEqual(expect.arrayContaining(['territory', 'owner', 'stage', 'updatedSince', 'q', 'limit', 'cursor', 'includeDeleted']));
    expect(doc.paths['/v1/customers/{id}'].get.parameters).toContainEqual(expect.objectContaining({ name: 'id', in: 'path', required: true }));
  });

  it('documents 413 and 415 on every route with a JSON body, 503 on every route, Location on 201s', async () => {
    const a = await h.start();
    const doc = (await a.call('GET', '/openapi.json', { token: null })).json;
    const operations = Object.entries(doc.paths as Record<string, Record<string, { requestBody?: unknown; responses: Record<string, { description?: string; headers?: Record<string, unknown> }> }>>)
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ what: `${method} ${path}`, op })));
    const withBody = operations.filter(({ op }) => op.requestBody);
    expect(withBody.map((o) => o.what)).toEqual(expect.arrayContaining(['post /v1/customers', 'put /v1/customers/{id}', 'patch /v1/customers/{id}', 'post /v1/peers']));
    for (const { what, op } of withBody) expect(Object.keys(op.responses), what).toEqual(expect.arrayContaining(['413', '415']));
    for (const { what, op } of operations) {
      expect(op.responses['503'], what).toBeDefined();
      // Every response object has a description and a 3-digit status (OpenAPI requires both).
      for (const [status, response] of Object.entries(op.responses)) {
        expect(status, what).toMatch(/^[1-5]\d\d$/);
        expect(typeof response.description, `${what} ${status}`).toBe('string');
      }
      if (op.responses['201']) expect(op.responses['201'].headers?.Location, what).toMatchObject({ schema: { type: 'string' } });
    }
    expect(Object.keys(doc.paths['/v1/customers/{id}'].put.responses)).toEqual(expect.arrayContaining(['200', '201']));
    expect(doc.paths['/v1/restore'].post.responses['413']).toBeDefined();
  });
});

describe('the error contract on every error', () => {
  /** Asserts the one error shape, and returns the reply for further checks. */
  const contract = (reply: Reply, status: number, code: string, what: string): Reply => {
    expect(reply.status, what).toBe(status);
    expect(reply.headers.get('content-type'), what).toMatch(/^application\/json/);
    expect(responses.error.safeParse(reply.json).success, `${what}: ${reply.text}`).toBe(true);
    expect(reply.json.error.code, what).toBe(code);
    return reply;
  };

  it('unknown routes are 404, a known path with another method is 405 with Allow', async () => {
    const a = await h.start();
    contract(await a.call('GET', '/v2/nothing'), 404, 'ERR_NOT_FOUND', 'unknown path');
    expect(contract(await a.call('PATCH', '/v1/status'), 405, 'ERR_NOT_FOUND', 'PATCH /v1/status').headers.get('allow')).toBe('GET');
    expect(contract(await a.call('PUT', '/v1/peers'), 405, 'ERR_NOT_FOUND', 'PUT /v1/peers').headers.get('allow')).toBe('GET, POST, DELETE');
    expect(contract(await a.call('POST', '/v1/customers/acme'), 405, 'ERR_NOT_FOUND', 'POST /v1/customers/acme').headers.get('allow')).toBe('GET, PUT, PATCH, DELETE');
    const head = await a.call('HEAD', '/v1/status');
    expect([head.status, head.headers.get('allow')]).toEqual([405, 'GET']);
  });

  it('413 for a body over the limit, 415 for a body that is not JSON, 400 for malformed JSON', async () => {
    const a = await h.start();
    contract(await a.call('POST', '/v1/customers', { body: { name: 'Big', notes: 'x'.repeat(MAX_BODY_BYTES) } }), 413, 'ERR_VALIDATION', 'too large');
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'text/plain; charset=utf-8', 'application/octet-stream', 'application/xml']) {
      contract(await a.call('POST', '/v1/customers', { raw: '{"name":"Ada"}', headers: { 'content-type': type } }), 415, 'ERR_VALIDATION', type);
      contract(await a.call('PUT', '/v1/customers/acme', { raw: '{"name":"Ada"}', headers: { 'content-type': type } }), 415, 'ERR_VALIDATION', `PUT ${type}`);
    }
    contract(await a.call('POST', '/v1/customers', { raw: '{"name": ' }), 400, 'ERR_VALIDATION', 'malformed JSON');
    const withCharset = await a.call('POST', '/v1/customers', { raw: '{"name":"Ada"}', headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(withCharset.status).toBe(201);
  });

  it('an id over the limit is a 400 naming the id, however long; a 128-character id is valid', async () => {
    const a = await h.start();
    const longest = 'a'.repeat(MAX_RECORD_ID_LENGTH);
    expect(contract(await a.call('GET', `/v1/customers/${longest}`), 404, 'ERR_NOT_FOUND', '128 characters').json.error.message).toContain(longest);
    expect((await a.call('PUT', `/v1/customers/${longest}`, { body: { name: 'Long' } })).status).toBe(201);
    for (const length of [MAX_RECORD_ID_LENGTH + 1, MAX_PARAM_LENGTH, MAX_PARAM_LENGTH + 1, 5000]) {
      for (const [method, path] of [['GET', ''], ['DELETE', ''], ['GET', '/history']] as const) {
        const reply = contract(await a.call(method, `/v1/customers/${'b'.repeat(length)}${path}`), 400, 'ERR_VALIDATION', `${method} ${length}${path}`);
        expect(reply.json.error.details).toEqual([{ field: 'id', message: 'too long' }]);
      }
    }
    contract(await a.call('GET', '/v1/customers/%E0%A4%A'), 400, 'ERR_VALIDATION', 'bad percent-encoding');
  });

  it('a request arriving while the server shuts down gets 503 ERR_CLOSED', async () => {
    const a = await h.start();
    const { hostname, port } = new URL(a.api.url);
    // An upload in progress keeps the server open while it closes; a request pipelined
    // behind it on the same connection arrives after the shutdown began.
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const ended = once(socket, 'close');
    socket.write(`POST /v1/restore HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\n12345`);
    await once(socket, 'connect');
    const stream = await openStream(a.api.url, '/v1/events');
    const closed = a.api.close();
    await stream.ended; // the server ends event streams once it is shutting down
    socket.write(`67890GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
    await ended;
    await closed;
    const second = received.slice(received.indexOf('HTTP/1.1', 1));
    expect(second).toMatch(/^HTTP\/1\.1 503 /);
    expect(JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'ERR_CLOSED', message: expect.any(String) } });
  });
});

describe('status and peers', () => {
  it('status has the documented shape', async () => {
    const a = await h.start({ nodeId: 'berlin' });
    await a.call('POST', '/v1/customers', { body: { name: 'Ada' } });
    const status = responses.status.parse((await a.call('GET', '/v1/status')).json);
    expect(status).toMatchObject({ nodeId: 'berlin', records: { live: 1, deleted: 0 }, lastLocalSeq: 1, clock: { berlin: 1 } });
  });

  it('adds, lists and removes a peer; rejects a non-WebSocket URL', async () => {
    const a = await h.start();
    const url = 'ws://127.0.0.1:9/';
    const added = await a.call('POST', '/v1/peers', { body: { url, confirm: true } });
    expect(added.status).toBe(201);
    expect(responses.peers.parse(added.json).peers.map((p) => p.url)).toEqual([url]);
    expect((await a.call('GET', '/v1/peers')).json.peers).toHaveLength(1);
    const removed = await a.call('DELETE', `/v1/peers?url=${encodeURIComponent(url)}`);
    expect(removed.json).toEqual({ removed: true });
    expect((await a.call('DELETE', `/v1/peers?url=${encodeURIComponent(url)}`)).json).toEqual({ removed: false });
    expect((await a.call('GET', '/v1/peers')).json.peers).toEqual([]);
    for (const body of [{ url: 'http://127.0.0.1:9' }, { url: 'not a url' }, {}, { url: 'ws://x', extra: 1 }]) {
      const bad = await a.call('POST', '/v1/peers', { body });
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.json.error.details.length).toBeGreaterThan(0);
    }
    expect((await a.call('DELETE', '/v1/peers')).status).toBe(400);
  });
});

describe('metrics', () => {
  const NAMES = [
    'crmsync_records', 'crmsync_conflicted_records', 'crmsync_clock', 'crmsync_peer_connected', 'crmsync_peer_lag_changes',
    'crmsync_peer_lag_seconds', 'crmsync_peer_bytes_total', 'crmsync_peer_changes_total', 'crmsync_rejected_connections_total',
    'crmsync_doc_cache_size', 'crmsync_doc_cache_hits_total', 'crmsync_doc_cache_misses_total', 'crmsync_doc_cache_evictions_total',
    'crmsync_changes_total', 'crmsync_sync_latency_seconds', 'crmsync_storage_batches_total', 'crmsync_storage_batch_seconds_total',
    'process_cpu_user_seconds_total',
  ];

  it('serves Prometheus text with every metric, node values included', async () => {
    const a = await h.start({ nodeId: 'berlin' });
    await a.call('POST', '/v1/customers', { body: { id: 'one', name: 'Ada' } });
    await a.call('POST', '/v1/customers', { body: { id: 'two', name: 'Alan' } });
    await a.call('DELETE', '/v1/customers/two');
    const commitsBefore = ((await a.call('GET', '/v1/status')).json as { storage: { commit: { batches: number } } }).storage.commit.batches;
    const reply = await a.call('GET', '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^text\/plain/);
    const samples = parsePrometheus(reply.text);
    for (const name of NAMES) expect(reply.text, name).toContain(`# TYPE ${name} `);
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('crmsync_records', { state: 'live' })).toBe(1);
    expect(value('crmsync_records', { state: 'deleted' })).toBe(1);
    expect(value('crmsync_clock', { origin: 'berlin' })).toBe(3);
    expect(value('crmsync_changes_total', { source: 'local' })).toBe(3);
    expect(value('crmsync_changes_total', { source: 'remote' })).toBe(0);
    expect(value('crmsync_rejected_connections_total')).toBe(0);
    // Three writes, each acknowledged after its own commit batch (the node may have written
    // others before them, and between these reads: its membership).
    const commitsAfter = ((await a.call('GET', '/v1/status')).json as { storage: { commit: { batches: number } } }).storage.commit.batches;
    const scraped = value('crmsync_storage_batches_total', { kind: 'commit' })!;
    expect(commitsBefore).toBeGreaterThanOrEqual(3);
    expect(scraped).toBeGreaterThanOrEqual(commitsBefore);
    expect(scraped).toBeLessThanOrEqual(commitsAfter);
    expect(value('crmsync_storage_batch_seconds_total', { kind: 'commit' })).toBeGreaterThan(0);
    expect(typeof value('crmsync_storage_batches_total', { kind: 'index' })).toBe('number'); // exported before any index batch
  });

  it('two servers in one process keep separate registries', async () => {
    const [a, b] = [await h.start(), await h.start()];
    await a.call('POST', '/v1/customers', { body: { name: 'Ada' } });
    const changes = async (n: typeof a) => parsePrometheus((await n.call('GET', '/metrics')).text)
      .find((s) => s.name === 'crmsync_changes_total' && s.labels.source === 'local')?.value;
    expect([await changes(a), await changes(b)]).toEqual([1, 0]);
  });
});

describe('access log', () => {
  it('one debug line per request with method, route, status and ms, and no customer data', async () => {
    const log = captureLog();
    const a = await h.start({}, { logger: log.logger });
    await a.call('POST', '/v1/customers', { body: { name: 'Zebediah Secretname', email: 'zeb@secret.example' } });
    await a.call('GET', '/v1/customers/nobody');
    await vi.waitFor(() => expect(log.lines.filter((l) => l.msg === 'request')).toHaveLength(2));
    const access = log.lines.filter((l) => l.msg === 'request');
    expect(access[0]).toMatchObject({ method: 'POST', route: '/v1/customers', status: 201, component: 'api' });
    expect(access[1]).toMatchObject({ method: 'GET', route: '/v1/customers/:id', status: 404 });
    expect(typeof access[0]!.ms).toBe('number');
    const everything = JSON.stringify(log.lines);
    expect(everything).not.toContain('Secretname');
    expect(everything).not.toContain('secret.example');
  });
});
