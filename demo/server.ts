/**
 * The demo's web dashboard server (node:http, no framework): serves demo/public, the
 * JSON the page polls, one merged SSE feed, the controls, and a proxy to the few node
 * API routes the page uses, adding the node's bearer token, so the browser never holds
 * a node token. Who may do what is decided in access.ts, before any route runs.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ApiError } from './client.js';
import type { Cluster } from './cluster.js';
import { exposureWarning, proxyAllowed, refusal } from './access.js';
import { DashboardData, type ConflictFilter } from './dashboard-reads.js';
import type { Feed } from './feed.js';

// The page's files are not compiled: demo/public also for the compiled demo (dist/demo/server.js).
const PUBLIC = fileURLToPath(new URL(import.meta.url.endsWith('.js') ? '../../demo/public/' : './public/', import.meta.url));
const STATIC: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/dom.js': ['dom.js', 'text/javascript; charset=utf-8'],
  '/cluster-view.js': ['cluster-view.js', 'text/javascript; charset=utf-8'],
  '/verdict-view.js': ['verdict-view.js', 'text/javascript; charset=utf-8'],
  '/work-view.js': ['work-view.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};
/** Largest request body the proxy forwards (a customer record is a few KB). */
const MAX_BODY_BYTES = 1024 * 1024;
/** How long a proxied request (other than an event stream) may take. */
const PROXY_TIMEOUT_MS = 15_000;
/** SSE comment interval, so proxies and browsers keep an idle feed open. */
const KEEP_ALIVE_MS = 15_000;

/** Random bytes of the demo token (base64url-encoded in the URL). */
const TOKEN_BYTES = 24;

/** A running dashboard. */
export interface Dashboard {
  /** The URL to open: it carries the demo token in its fragment. */
  url: string;
  /** The URL without the token. */
  origin: string;
  /** Set when it listens beyond loopback. */
  warning: string | undefined;
  close(): Promise<void>;
}

/** How to start the dashboard. */
export interface DashboardOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  /** The demo token (default: random). */
  token?: string;
}

type Route = (req: IncomingMessage, res: ServerResponse, match: RegExpExecArray) => Promise<void>;

const sendJson = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
};
const sendError = (res: ServerResponse, status: number, code: string, message: string) => sendJson(res, status, { error: { code, message } });

/** Longest territory or owner the conflicts panel filters by (the node API's own limit). */
const MAX_FILTER_LENGTH = 200;

/** The conflicts panel's filters from the query string; empty ones are no filter. */
function conflictFilter(req: IncomingMessage): ConflictFilter {
  const query = new URL(req.url ?? '/', 'http://dashboard').searchParams;
  const filter: ConflictFilter = {};
  for (const [name, value] of query) {
    if (name !== 'territory' && name !== 'owner') throw new ApiError(`unknown filter "${name}": filter by territory or owner`, 400, 'ERR_VALIDATION');
    if (value.length > MAX_FILTER_LENGTH) throw new ApiError(`${name} is longer than ${MAX_FILTER_LENGTH} characters`, 400, 'ERR_VALIDATION');
    if (value !== '') filter[name] = value;
  }
  return filter;
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError('request body too large', 413, 'ERR_VALIDATION');
    chunks.push(chunk);
  }
  return chunks.length ? Buffer.concat(chunks) : undefined;
}

/** Starts the dashboard on host:port (port 0: any free port). */
export async function startDashboard(cluster: Cluster, feed: Feed, options: DashboardOptions): Promise<Dashboard> {
  const data = new DashboardData(cluster);
  const token = options.token ?? randomBytes(TOKEN_BYTES).toString('base64url');
  const open = new Set<ServerResponse>();

  const routes: [method: string, pattern: RegExp, route: Route][] = [
    ['GET', /^\/api\/state$/, async (_req, res) => sendJson(res, 200, await data.state())],
    ['GET', /^\/api\/conflicts$/, async (req, res) => sendJson(res, 200, { conflicts: await data.conflicts(conflictFilter(req)) })],
    ['GET', /^\/api\/records$/, async (_req, res) => sendJson(res, 200, { records: await data.records() })],
    ['GET', /^\/api\/records\/([^/]+)$/, async (_req, res, m) => sendJson(res, 200, { nodes: await data.record(decodeURIComponent(m[1]!)) })],
    ['POST', /^\/api\/laptops\/([^/]+)\/(online|offline)$/, async (_req, res, m) => {
      await cluster.setLaptopOnline(decodeURIComponent(m[1]!), m[2] === 'online');
      sendJson(res, 200, { ok: true });
    }],
    ['POST', /^\/api\/links\/([^/]+)\/([^/]+)\/(cut|restore)$/, async (_req, res, m) => {
      await cluster.setRegionLink(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), m[3] === 'restore');
      sendJson(res, 200, { ok: true });
    }],
    ['GET', /^\/api\/events$/, async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      const write = (item: unknown) => res.write(`event: feed\ndata: ${JSON.stringify(item)}\n\n`);
      feed.backlog().forEach(write);
      const unsubscribe = feed.subscribe(write);
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
      open.add(res);
      res.once('close', () => {
        clearInterval(keepAlive);
        unsubscribe();
        open.delete(res);
      });
    }],
    ['*', /^\/api\/nodes\/([^/]+)(\/v1\/.*)$/, async (req, res, m) => {
      const name = decodeURIComponent(m[1]!);
      if (!cluster.has(name)) return sendError(res, 404, 'ERR_NOT_FOUND', `no node called ${name}`);
      if (!proxyAllowed(req.method, m[2]!)) return sendError(res, 404, 'ERR_NOT_FOUND', `${req.method} ${m[2]} is not one of the routes the dashboard proxies`);
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req);
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'accept', 'last-event-id', 'idempotency-key']) {
        if (typeof req.headers[h] === 'string') headers[h] = req.headers[h];
      }
      // The browser going away ends the upstream request.
      const abort = new AbortController();
      res.once('close', () => abort.abort());
      const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(PROXY_TIMEOUT_MS)]);
      const target = m[2]! + new URL(req.url ?? '/', 'http://dashboard').search;
      const upstream = await cluster.get(name).process.client.raw(req.method ?? 'GET', target, { body: body?.toString('utf8'), headers, signal });
      const out: Record<string, string> = { 'cache-control': 'no-store' };
      for (const h of ['content-type', 'idempotent-replayed']) {
        const v = upstream.headers.get(h);
        if (v) out[h] = v;
      }
      res.writeHead(upstream.status, out);
      if (!upstream.body) return void res.end();
      Readable.fromWeb(upstream.body as import('node:stream/web').ReadableStream).on('error', () => res.end()).pipe(res);
    }],
  ];

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://dashboard').pathname;
    void handle(req, res, path).catch((err: unknown) => {
      if (res.headersSent) return void res.end();
      if (err instanceof ApiError) return sendError(res, err.status || 502, err.code, err.message);
      if (err instanceof TypeError) return sendError(res, 400, 'ERR_VALIDATION', err.message);
      sendError(res, 500, 'ERR_INTERNAL', (err as Error).message);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const refused = refusal(req.method, req.headers, token, options.host);
    if (refused) return sendError(res, refused.status, refused.code, refused.message);
    const file = STATIC[path];
    if (req.method === 'GET' && file) {
      res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' });
      return void res.end(await readFile(PUBLIC + file[0]));
    }
    for (const [method, pattern, route] of routes) {
      const match = pattern.exec(path);
      if (match && (method === '*' || method === req.method)) return route(req, res, match);
    }
    sendError(res, 404, 'ERR_NOT_FOUND', `no route ${req.method} ${path}`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/#token=${token}`,
    origin: `http://${host}:${port}`,
    warning: exposureWarning(options.host),
    async close() {
      for (const res of open) res.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
