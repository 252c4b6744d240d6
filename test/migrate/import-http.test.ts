/**
 * The HTTP source against a real local server (node:http on 127.0.0.1, port 0): page,
 * offset, cursor and Link-header pagination; bearer and basic credentials from the
 * environment; 429 with Retry-After in seconds and as an HTTP date, 500 then success, a
 * permanent failure, a malformed page, a response over the size limit, a link to another
 * server; resume after an interrupted run and --incremental with the watermark sent to
 * the server. Backoff runs on an injected sleep that records the delays and returns at
 * once, so nothing waits.
 */
import { stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { importRecordId, memoryRejects, nodeSink, parseMapping, runImport, type ImportSink, type MappingInput } from '../../src/migrate/import/index.js';
import { httpSourceSchema } from '../../src/migrate/sources/http-config.js';
import type { HttpDeps } from '../../src/migrate/sources/http-fetch.js';
import { httpSource, nextLink } from '../../src/migrate/sources/http.js';
import { crmsync, initDataDir, PROCESS_TIMEOUT_MS } from './cli-process.js';
import { importHarness, tempDirs } from './import-helpers.js';

const { node } = importHarness();

/** The API's customers: ids h-01…h-25, updated one minute apart. */
const T0 = Date.UTC(2024, 4, 1);
const customers = (n = 25) => Array.from({ length: n }, (_, i) => ({
  id: `h-${String(i + 1).padStart(2, '0')}`, name: `Http ${i + 1}`, email: `h${i + 1}@example.com`,
  updated_at: new Date(T0 + i * 60_000).toISOString(), contact: { city: i % 2 ? 'Berlin' : 'Paris' },
}));

type Reply = { status?: number; headers?: Record<string, string>; body: unknown };
type Handler = (url: URL, req: IncomingMessage, n: number) => Reply;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
});

/** A local API; records each request's URL and Authorization header. */
async function serve(handler: Handler): Promise<{ base: string; requests: { url: URL; auth: string | undefined }[] }> {
  const requests: { url: URL; auth: string | undefined }[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://127.0.0.1');
    requests.push({ url, auth: req.headers.authorization });
    const reply = handler(url, req, requests.length);
    const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
    res.end(body);
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const MAPPING: MappingInput = {
  sourceName: 'api', key: { column: 'id' }, watermark: { column: 'updated_at' },
  fields: { name: { column: 'name' }, email: { column: 'email', transforms: ['email'] }, 'address.city': { column: 'contact.city' }, 'custom.sourceId': { column: 'id' } },
};

/** Deps whose sleep records the delay and returns at once. */
function deps(env: Record<string, string> = {}, now = T0): HttpDeps & { slept: number[] } {
  const slept: number[] = [];
  return { fetch, sleep: async (ms) => void slept.push(ms), random: () => 0.5, now: () => now, env, slept };
}

async function importHttp(target: CrmNode, config: unknown, d: HttpDeps, extra: { incremental?: boolean; sink?: ImportSink; batchRows?: number; signal?: AbortSignal } = {}) {
  const rejects = memoryRejects();
  const { sink, ...rest } = extra;
  const report = await runImport({
    source: httpSource(httpSourceSchema.parse(config), d), mapping: parseMapping(MAPPING), sink: sink ?? nodeSink(target), sourceName: 'api', rejects, ...rest,
  });
  return { ...report, rejects: rejects.entries };
}

const page = (rows: unknown[], from: number, size: number) => rows.slice(from, from + size);

describe('HTTP source pagination', () => {
  it.each([
    ['page', { type: 'page', param: 'page', sizeParam: 'per_page', size: 10 }, (url: URL) => ({ body: { data: page(customers(), (Number(url.searchParams.get('page')) - 1) * 10, 10) } }), ['page=1', 'page=2', 'page=3']],
    ['offset', { type: 'offset', param: 'offset', sizeParam: 'limit', size: 10 }, (url: URL) => ({ body: { data: page(customers(), Number(url.searchParams.get('offset')), 10) } }), ['offset=0', 'offset=10', 'offset=20']],
    ['cursor', { type: 'cursor', param: 'cursor', next: 'meta.next' }, (url: URL) => {
      const from = Number(url.searchParams.get('cursor') ?? 0);
      return { body: { data: page(customers(), from, 10), meta: { next: from + 10 < 25 ? String(from + 10) : null } } };
    }, ['', 'cursor=10', 'cursor=20']],
    ['link', { type: 'link' }, (url: URL) => {
      const from = Number(url.searchParams.get('after') ?? 0);
      const next: Record<string, string> = from + 10 < 25 ? { link: `</customers?after=${from + 10}>; rel="next", </customers>; rel="first"` } : {};
      return { headers: next, body: { data: page(customers(), from, 10) } };
    }, ['', 'after=10', 'after=20']],
  ] as const)('%s: reads every page in order and imports every row', async (_name, pagination, handler, queries) => {
    const api = await serve(handler);
    const n = await node();
    const report = await importHttp(n, { url: `${api.base}/customers`, records: 'data', pagination }, deps());
    expect(report).toMatchObject({ read: 25, created: 25, rejected: 0, completed: true, watermark: { after: T0 + 24 * 60_000 } });
    expect(report.source).toBe(`HTTP ${api.base}/customers (${pagination.type} pagination)`);
    expect(api.requests.map((r) => [...r.url.searchParams].filter(([k]) => ['page', 'offset', 'cursor', 'after'].includes(k)).map(([k, v]) => `${k}=${v}`).join('&'))).toEqual(queries);
    expect(await n.records.get(importRecordId('api', 'h-25'))).toMatchObject({ name: 'Http 25', address: { city: 'Paris' }, custom: { sourceId: 'h-25' } });
  });

  it('reads Link headers with several links and parameters', () => {
    expect(nextLink('<https://a.example/x?p=2>; rel="next"; title="n", <https://a.example/x?p=9>; rel="last"', 'https://a.example/x')).toBe('https://a.example/x?p=2');
    expect(nextLink('</x?p=3>; rel="prev next"', 'https://a.example/x?p=2')).toBe('https://a.example/x?p=3');
    expect(nextLink('</x?p=1>; rel="prev"', 'https://a.example/x?p=2')).toBeUndefined();
    expect(nextLink(null, 'https://a.example/x')).toBeUndefined();
  });

  it('refuses to follow a link to another server, and a cursor that repeats', async () => {
    const elsewhere = await serve(() => ({ headers: { link: '<http://127.0.0.2:9/steal>; rel="next"' }, body: customers(2) }));
    await expect(importHttp(await node(), { url: `${elsewhere.base}/c`, pagination: { type: 'link' } }, deps())).rejects.toMatchObject({
      code: 'ERR_SOURCE', message: expect.stringContaining('links to another server (http://127.0.0.2:9)'),
    });
    const loop = await serve(() => ({ body: { data: customers(2), next: 'same' } }));
    await expect(importHttp(await node(), { url: `${loop.base}/c`, records: 'data', pagination: { type: 'cursor', next: 'next' } }, deps())).rejects.toMatchObject({
      code: 'ERR_SOURCE', message: expect.stringContaining('returns cursor it returned before'),
    });
  });
});

describe('HTTP source failures and retries', () => {
  it('waits as Retry-After says (seconds, then an HTTP date) after 429', async () => {
    const api = await serve((_url, _req, n) => {
      if (n === 1) return { status: 429, headers: { 'retry-after': '2' }, body: { error: 'slow down' } };
      if (n === 2) return { status: 429, headers: { 'retry-after': new Date(T0 + 7_000).toUTCString() }, body: {} };
      return { body: customers(3) };
    });
    const d = deps();
    expect(await importHttp(await node(), { url: `${api.base}/c` }, d)).toMatchObject({ created: 3 });
    expect(d.slept).toEqual([2_000, 7_000]);
  });

  it('retries a 500 and a dropped connection with capped, jittered exponential backoff', async () => {
    const api = await serve((_url, req, n) => {
      if (n === 1) return { status: 500, body: 'oops' };
      if (n === 2) {
        req.socket.destroy();
        return { body: '' };
      }
      return { body: customers(3) };
    });
    const d = deps();
    const config = { url: `${api.base}/c`, retry: { baseDelayMs: 400, maxDelayMs: 600 } };
    expect(await importHttp(await node(), config, d)).toMatchObject({ created: 3 });
    // random() = 0.5: half of 400, then half of min(600, 800).
    expect(d.slept).toEqual([200, 300]);
  });

  it('gives up after maxRetries with a clear error, and a too-long Retry-After at once', async () => {
    const down = await serve(() => ({ status: 503, body: { error: 'maintenance' } }));
    const d = deps();
    await expect(importHttp(await node(), { url: `${down.base}/c`, retry: { maxRetries: 3 } }, d)).rejects.toMatchObject({
      code: 'ERR_SOURCE', message: `GET ${down.base}/c failed after 3 retries: HTTP 503: {"error":"maintenance"}`,
    });
    expect(d.slept).toEqual([250, 500, 1000]);
    const patient = await serve(() => ({ status: 429, headers: { 'retry-after': '3600' }, body: {} }));
    await expect(importHttp(await node(), { url: `${patient.base}/c` }, deps())).rejects.toMatchObject({
      code: 'ERR_SOURCE', message: expect.stringContaining('the server asks to wait 3600 s (Retry-After)'),
    });
    const missing = await serve(() => ({ status: 404, body: { error: 'no such thing' } }));
    const once = deps();
    await expect(importHttp(await node(), { url: `${missing.base}/c` }, once)).rejects.toMatchObject({ code: 'ERR_SOURCE', message: expect.stringContaining('HTTP 404') });
    expect(once.slept).toEqual([]);
  });

  it('stops on a malformed page and on a response over the size limit', async () => {
    const broken = await serve((url) => (url.searchParams.get('page') === '2' ? { body: '{"data": [ {"id": ' } : { body: { data: customers(10) } }));
    await expect(importHttp(await node(), { url: `${broken.base}/c`, records: 'data', pagination: { type: 'page', size: 10 } }, deps())).rejects.toMatchObject({
      code: 'ERR_SOURCE', message: expect.stringMatching(new RegExp(`^page 2 \\(GET ${broken.base}/c\\) is not valid JSON: `)),
    });
    const big = await serve(() => ({ body: customers(25) }));
    await expect(importHttp(await node(), { url: `${big.base}/c`, maxResponseBytes: 1024 }, deps())).rejects.toMatchObject({
      code: 'ERR_SOURCE', message: expect.stringContaining('more than source.http.maxResponseBytes (1024)'),
    });
    const notRows = await serve(() => ({ body: { items: [], total: 0 } }));
    await expect(importHttp(await node(), { url: `${notRows.base}/c` }, deps())).rejects.toMatchObject({
      code: 'ERR_SOURCE', message: expect.stringContaining('is not an array (its keys: items, total): set source.http.records'),
    });
  });
});

describe('HTTP source credentials', () => {
  it('sends a bearer token or basic credentials read from the environment, never stored in the mapping', async () => {
    const api = await serve((_url, req) => (req.headers.authorization ? { body: customers(2) } : { status: 401, body: {} }));
    await importHttp(await node(), { url: `${api.base}/c`, auth: { type: 'bearer', tokenEnv: 'CRM_TOKEN' } }, deps({ CRM_TOKEN: 's3cret' }));
    await importHttp(await node(), { url: `${api.base}/c`, auth: { type: 'basic', userEnv: 'CRM_USER', passwordEnv: 'CRM_PASS' } }, deps({ CRM_USER: 'ada', CRM_PASS: 'p:w' }));
    expect(api.requests.map((r) => r.auth)).toEqual(['Bearer s3cret', `Basic ${Buffer.from('ada:p:w').toString('base64')}`]);
    await expect(importHttp(await node(), { url: `${api.base}/c`, auth: { type: 'bearer', tokenEnv: 'CRM_TOKEN' } }, deps())).rejects.toMatchObject({
      code: 'ERR_VALIDATION', message: expect.stringContaining('the environment variable CRM_TOKEN, which is not set'),
    });
    await expect(importHttp(await node(), { url: `${api.base}/c` }, deps())).rejects.toMatchObject({
      code: 'ERR_SOURCE', message: expect.stringContaining('was refused (HTTP 401): check the credentials (source.http.auth)'),
    });
    expect(() => parseMapping({ ...MAPPING, source: { http: { url: api.base, auth: { type: 'bearer', token: 's3cret' } } } })).toThrow(/source\.http\.auth\.token: unknown key/);
  });
});

describe('HTTP source accounting, resume and incremental', () => {
  it('resumes an interrupted run after its last committed batch', async () => {
    const api = await serve((url) => ({ body: { data: page(customers(), Number(url.searchParams.get('offset')), 10) } }));
    const n = await node();
    const config = { url: `${api.base}/c`, records: 'data', pagination: { type: 'offset', size: 10 } };
    const stop = new AbortController();
    const inner = nodeSink(n);
    const stopping: ImportSink = { ...inner, upsertMany: async (items, o) => {
      const results = await inner.upsertMany(items, o);
      stop.abort();
      return results;
    } };
    const first = await importHttp(n, config, deps(), { sink: stopping, batchRows: 5, signal: stop.signal });
    expect(first).toMatchObject({ completed: false, created: 10 });
    const second = await importHttp(n, config, deps(), { batchRows: 5 });
    expect(second).toMatchObject({ completed: true, resumedAfterRow: 10, skipped: { alreadyCommitted: 10 }, read: 15, created: 15 });
  });

  it('--incremental sends the stored watermark to the server and imports only newer rows', async () => {
    let data = customers();
    const api = await serve((url) => {
      const since = url.searchParams.get('updated_since');
      return { body: data.filter((c) => since === null || c.updated_at > since) };
    });
    const n = await node();
    const config = { url: `${api.base}/c`, since: { param: 'updated_since' } };
    expect(await importHttp(n, config, deps())).toMatchObject({ created: 25, watermark: { after: T0 + 24 * 60_000 } });
    data = data.map((c, i) => (i === 3 || i === 7 ? { ...c, name: `${c.name} (new)`, updated_at: new Date(T0 + 3_600_000 + i).toISOString() } : c));
    const again = await importHttp(n, config, deps(), { incremental: true });
    expect(api.requests.at(-1)!.url.searchParams.get('updated_since')).toBe(new Date(T0 + 24 * 60_000).toISOString());
    expect(again).toMatchObject({ read: 2, updated: 2, created: 0, watermark: { before: T0 + 24 * 60_000, after: T0 + 3_600_007 } });
    expect(await n.records.get(importRecordId('api', 'h-04'))).toMatchObject({ name: 'Http 4 (new)' });
  });
});

describe('HTTP source through the executable', () => {
  const dirs = tempDirs();
  afterEach(() => dirs.cleanup());

  async function mappingWith(http: Record<string, unknown>): Promise<{ file: string; dataDir: string }> {
    const dir = await dirs.make();
    const file = join(dir, 'api.mapping.json');
    await writeFile(file, JSON.stringify({ ...MAPPING, source: { http } }));
    return { file, dataDir: await initDataDir(join(dir, 'node'), 'http') };
  }

  it('imports every page with the token from the environment; the URL comes from the mapping', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const api = await serve((url, req) => {
      if (req.headers.authorization !== 'Bearer from-env') return { status: 401, body: {} };
      const from = Number(url.searchParams.get('after') ?? 0);
      const headers: Record<string, string> = from + 10 < 25 ? { link: `</customers?after=${from + 10}>; rel="next"` } : {};
      return { headers, body: page(customers(), from, 10) };
    });
    const { file, dataDir } = await mappingWith({ url: `${api.base}/customers`, pagination: { type: 'link' }, auth: { type: 'bearer', tokenEnv: 'CRM_TOKEN' } });
    const result = await crmsync(['import', '--mapping', file, '-d', dataDir, '--json'], { env: { CRM_TOKEN: 'from-env' } });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ source: `HTTP ${api.base}/customers (link pagination)`, read: 25, created: 25, rejected: 0 });
    expect(api.requests.map((r) => r.auth)).toEqual(['Bearer from-env', 'Bearer from-env', 'Bearer from-env']);
  });

  it('exits 1 with ERR_SOURCE when the server keeps failing, or sends a page that is not JSON', { timeout: PROCESS_TIMEOUT_MS * 2 }, async () => {
    const down = await serve(() => ({ status: 500, body: 'internal error' }));
    const failing = await mappingWith({ url: `${down.base}/customers`, retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    const rejects = join(dirname(failing.file), 'r.ndjson');
    const failed = await crmsync(['import', '--mapping', failing.file, '-d', failing.dataDir, '--rejects', rejects]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`error ERR_SOURCE: GET ${down.base}/customers failed after 2 retries: HTTP 500: internal error`);
    expect(down.requests).toHaveLength(3);
    // The failed run leaves no empty rejects file behind.
    expect(await stat(rejects).then(() => true, () => false)).toBe(false);

    const garbled = await serve(() => ({ body: '<html>maintenance</html>' }));
    const bad = await mappingWith({ url: `${garbled.base}/customers` });
    const refused = await crmsync(['import', `${garbled.base}/customers`, '--mapping', bad.file, '-d', bad.dataDir, '--rejects', join(dirname(bad.file), 'r.ndjson')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`error ERR_SOURCE: page 1 (GET ${garbled.base}/customers) is not valid JSON`);
  });
});
