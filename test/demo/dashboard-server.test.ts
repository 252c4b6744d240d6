/**
 * The dashboard server over real sockets, against real in-process nodes: the token,
 * Origin and Host checks, the proxy allow-list, bad input, the unknown node, the
 * warning when bound beyond loopback.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Feed } from '../../demo/feed.js';
import { startDashboard, type Dashboard } from '../../demo/server.js';
import { ApiHarness } from '../api/helpers.js';
import { startInProcess, type InProcessCluster } from './in-process.js';

const TOKEN = 'dashboard-token-0123456789';
const harness = new ApiHarness();
let nodes: InProcessCluster;
let feed: Feed;
let dashboard: Dashboard;

beforeAll(async () => {
  nodes = await startInProcess(harness);
  await nodes.apis.get('berlin')!.call('POST', '/v1/customers', { body: { id: 'cus-1', name: 'Ada Lovelace' } });
  feed = new Feed(nodes.cluster.all());
  await feed.start();
  dashboard = await startDashboard(nodes.cluster, feed, { host: '127.0.0.1', port: 0, token: TOKEN });
});

afterAll(async () => {
  await dashboard?.close();
  await feed?.stop();
  await harness.cleanup();
});

/** A request to the dashboard; `token: true` adds the demo token, `origin: true` its own origin. */
async function send(method: string, path: string, options: { token?: boolean | string; origin?: boolean | string; body?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token === true ? TOKEN : options.token}`;
  if (options.origin) headers.origin = options.origin === true ? dashboard.origin : options.origin;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(dashboard.origin + path, { method, headers, body: options.body });
  const text = await res.text();
  return { status: res.status, text, json: text.startsWith('{') ? JSON.parse(text) : undefined };
}

/** GET with a Host header of our choice (fetch does not let one set it). */
function getWithHost(path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(dashboard.origin + path, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard server', () => {
  it('prints a URL that carries the token in its fragment, and serves page and state without it', async () => {
    expect(dashboard.url).toBe(`${dashboard.origin}/#token=${TOKEN}`);
    expect((await send('GET', '/')).text).toContain('data-testid="convergence"');
    const state = await send('GET', '/api/state');
    expect(state.status).toBe(200);
    expect(state.json.verdict.level).toBe('converged');
    expect(state.json.nodes.map((n: { name: string; behind: number }) => [n.name, n.behind])).toEqual([['berlin', 0], ['london', 0], ['laptop-anna', 0]]);
  });

  it('refuses a control without the token (401) and cross-origin (403), and leaves the laptop online', async () => {
    expect(await send('POST', '/api/laptops/laptop-anna/offline', { origin: true })).toMatchObject({ status: 401, json: { error: { code: 'ERR_UNAUTHORIZED' } } });
    expect((await send('POST', '/api/laptops/laptop-anna/offline', { origin: true, token: 'guess' })).status).toBe(401);
    expect(await send('POST', '/api/laptops/laptop-anna/offline', { token: true, origin: 'http://evil.example' })).toMatchObject({ status: 403, json: { error: { code: 'ERR_FORBIDDEN' } } });
    expect((await send('PATCH', '/api/nodes/berlin/v1/customers/cus-1', { origin: true, body: '{"title":"x"}' })).status).toBe(401);
    expect(nodes.cluster.isOnline('laptop-anna')).toBe(true);
  });

  it('answers only to loopback host names', async () => {
    expect(await getWithHost('/api/state', 'evil.example')).toBe(403);
    expect(await getWithHost('/', `localhost:${new URL(dashboard.origin).port}`)).toBe(200);
  });

  it('runs a proxied edit and the controls with the token', async () => {
    const edit = await send('PATCH', '/api/nodes/london/v1/customers/cus-1', { token: true, origin: true, body: '{"title":"CTO"}' });
    expect(edit.status).toBe(200);
    expect(edit.json.customer.title).toBe('CTO');
    expect((await send('POST', '/api/laptops/laptop-anna/offline', { token: true, origin: true })).status).toBe(200);
    expect(nodes.cluster.isOnline('laptop-anna')).toBe(false);
    expect((await send('POST', '/api/laptops/laptop-anna/online', { token: true })).status).toBe(200);
    expect(nodes.cluster.isOnline('laptop-anna')).toBe(true);
  });

  it('proxies only the routes the page uses', async () => {
    for (const [method, path] of [
      ['GET', '/api/nodes/berlin/v1/status'], ['GET', '/api/nodes/berlin/v1/customers/cus-1'], ['DELETE', '/api/nodes/berlin/v1/customers/cus-1'],
      ['POST', '/api/nodes/berlin/v1/peers'], ['DELETE', '/api/nodes/berlin/v1/peers?url=ws://x'], ['GET', '/api/nodes/berlin/v1/events'],
      ['PATCH', '/api/nodes/berlin/v1/customers/../../v1/peers'],
    ]) {
      const res = await send(method!, path!, { token: true, origin: true, body: method === 'GET' ? undefined : '{}' });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.json.error.code).toBe('ERR_NOT_FOUND');
    }
    expect((await nodes.apis.get('berlin')!.call('GET', '/v1/customers/cus-1')).json.customer.deleted).toBe(false);
  });

  it('passes bad input on as errors, not crashes', async () => {
    const opts = { token: true, origin: true } as const;
    expect((await send('PATCH', '/api/nodes/berlin/v1/customers/cus-1', { ...opts, body: '{"title":' })).status).toBe(400);
    expect((await send('PATCH', '/api/nodes/berlin/v1/customers/cus-1', { ...opts, body: '{"stage":"nonsense"}' })).json.error.code).toBe('ERR_VALIDATION');
    expect((await send('PATCH', '/api/nodes/nobody/v1/customers/cus-1', { ...opts, body: '{}' })).status).toBe(404);
    expect((await send('PATCH', '/api/nodes/berlin/v1/customers/cus-1', { ...opts, body: JSON.stringify({ notes: 'x'.repeat(1024 * 1024 + 1) }) })).status).toBe(413);
    expect((await send('POST', '/api/laptops/berlin/offline', opts)).status).toBe(400);
    expect((await send('POST', '/api/links/berlin/laptop-anna/cut', opts)).status).toBe(400);
    expect((await send('GET', '/api/nope')).status).toBe(404);
    expect((await send('GET', '/api/state')).json.verdict.level).not.toBe('fault');
  });

  it('lists a conflict with the node that wrote each value, filters the panel, and resolves it through the proxy', async () => {
    const opts = { token: true, origin: true } as const;
    await send('POST', '/api/laptops/laptop-anna/offline', opts);
    await vi.waitFor(async () => expect((await nodes.cluster.read()).assessment.links.find((l) => l.b === 'laptop-anna')?.ends.london).not.toBe('connected'));
    expect((await send('PATCH', '/api/nodes/laptop-anna/v1/customers/cus-1', { ...opts, body: '{"title":"CPO"}' })).status).toBe(200);
    expect((await send('PATCH', '/api/nodes/berlin/v1/customers/cus-1', { ...opts, body: '{"title":"VP"}' })).status).toBe(200);
    await send('POST', '/api/laptops/laptop-anna/online', opts);
    await vi.waitFor(async () => expect((await send('GET', '/api/conflicts')).json.conflicts[0]?.nodes).toEqual(['berlin', 'london', 'laptop-anna']),
      { timeout: 30_000, interval: 100 });
    const [row] = (await send('GET', '/api/conflicts')).json.conflicts;
    expect(row).toMatchObject({ id: 'cus-1', field: 'title', resolveVia: 'berlin' });
    expect(row.values.map((v: { value: string; node: string }) => [v.value, v.node]).sort()).toEqual([['CPO', 'laptop-anna'], ['VP', 'berlin']]);
    expect((await send('GET', '/api/conflicts?territory=nowhere')).json.conflicts).toEqual([]);
    expect((await send('GET', '/api/conflicts?territory=&owner=')).json.conflicts).toHaveLength(1);

    const kept = await send('POST', '/api/nodes/london/v1/customers/cus-1/conflicts/title/resolve', { ...opts, body: '{"keep":"CPO"}' });
    expect(kept.status, kept.text).toBe(200);
    expect(kept.json.customer).toMatchObject({ title: 'CPO', conflicts: [] });
    // Gone from the panel only once every node has taken the resolving change.
    await vi.waitFor(async () => {
      for (const api of nodes.apis.values()) expect((await api.call('GET', '/v1/customers/cus-1')).json.customer).toMatchObject({ title: 'CPO', conflicts: [] });
    }, { timeout: 30_000, interval: 100 });
    expect((await send('GET', '/api/conflicts')).json.conflicts).toEqual([]);
  });

  it('refuses bad conflict filters and resolve bodies with 400', async () => {
    const opts = { token: true, origin: true } as const;
    for (const query of ['?colour=red', `?territory=${'x'.repeat(201)}`, `?owner=${'x'.repeat(201)}`]) {
      expect(await send('GET', `/api/conflicts${query}`), query).toMatchObject({ status: 400, json: { error: { code: 'ERR_VALIDATION' } } });
    }
    const resolve = (body: string) => send('POST', '/api/nodes/berlin/v1/customers/cus-1/conflicts/title/resolve', { ...opts, body });
    for (const body of ['{}', '{"keep":', '{"opId":"5@aa"}', '{"keep":"x","keepNode":"berlin"}']) {
      expect((await resolve(body)).status, body).toBe(400);
    }
    expect((await send('POST', '/api/nodes/berlin/v1/customers/cus-1/conflicts/title/resolve', { origin: true, body: '{"keep":"x"}' })).status).toBe(401);
  });

  it('shows a node whose API is down as unknown and the verdict as a fault', async () => {
    await nodes.apis.get('laptop-anna')!.api.close();
    const { json } = await send('GET', '/api/state');
    const anna = json.nodes.find((n: { name: string }) => n.name === 'laptop-anna');
    expect(anna).toMatchObject({ reachable: false, records: null, clock: null, behind: null, unshared: null, conflicted: null, lastLocalSeq: null });
    expect(json.verdict.level).toBe('fault');
    expect(json.verdict.headline).toMatch(/^laptop-anna does not answer: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  });
});

describe('dashboard bound beyond loopback', () => {
  it('comes with a warning', async () => {
    const open = await startDashboard(nodes.cluster, feed, { host: '0.0.0.0', port: 0 });
    try {
      expect(open.warning).toMatch(/^WARNING: the dashboard listens on 0\.0\.0\.0/);
      expect(open.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/#token=[\w-]{32}$/);
    } finally {
      await open.close();
    }
    expect(dashboard.warning).toBeUndefined();
  });
});
