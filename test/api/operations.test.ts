/**
 * The cross-cutting parts of the API over real HTTP: the bearer token on every route
 * that needs it, health and readiness, the OpenAPI document against the routes fastify
 * registered, /metrics in Prometheus text, status and peers, error mapping of fastify's
 * own errors, and the access log (constant message, no customer data).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_BODY_BYTES } from '../../src/api/server.js';
import { responses } from '../../src/api/schemas.js';
import { captureLog } from '../integration/helpers.js';
import { ApiHarness, parsePrometheus } from './helpers.js';

const h = new ApiHarness();
afterEach(() => h.cleanup());

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
});

describe('errors from the framework', () => {
  it('unknown routes are 404 ERR_NOT_FOUND; oversized bodies and wrong content types are ERR_VALIDATION', async () => {
    const a = await h.start();
    const unknown = await a.call('GET', '/v2/nothing');
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'ERR_NOT_FOUND']);
    const wrongMethod = await a.call('PATCH', '/v1/status');
    expect(wrongMethod.status).toBe(404);
    const big = await a.call('POST', '/v1/customers', { body: { name: 'Big', notes: 'x'.repeat(MAX_BODY_BYTES) } });
    expect([big.status, big.json.error.code]).toEqual([413, 'ERR_VALIDATION']);
    const text = await a.call('POST', '/v1/customers', { raw: 'name=Ada', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect([text.status, text.json.error.code]).toEqual([415, 'ERR_VALIDATION']);
    expect(responses.error.safeParse(text.json).success).toBe(true);
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
    const added = await a.call('POST', '/v1/peers', { body: { url } });
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
    'crmsync_changes_total', 'crmsync_sync_latency_seconds', 'process_cpu_user_seconds_total',
  ];

  it('serves Prometheus text with every metric, node values included', async () => {
    const a = await h.start({ nodeId: 'berlin' });
    await a.call('POST', '/v1/customers', { body: { id: 'one', name: 'Ada' } });
    await a.call('POST', '/v1/customers', { body: { id: 'two', name: 'Alan' } });
    await a.call('DELETE', '/v1/customers/two');
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
