/**
 * The local HTTP API (docs/http-api.md): fastify serving the route table of routes.ts
 * over a CrmNode. This file owns the cross-cutting parts: bearer-token check, input
 * validation, the one error shape, the access log and the server lifecycle.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ZodType } from 'zod';
import { silentLogger, validationError, type CrmNode, type Logger } from '../index.js';
import { EventStreams, type EventStreamOptions } from './events.js';
import { errorBody, frameworkError, toHttpError, unsupportedMediaType } from './http-errors.js';
import { createMetrics } from './metrics.js';
import { RouteMatcher, type ApiRoute } from './route.js';
import { buildRoutes } from './routes.js';
import { MAX_BODY_BYTES } from './schemas.js';
import { MAX_RECORD_ID_LENGTH } from '../types.js';

export { MAX_BODY_BYTES };
/**
 * Longest path parameter the router matches (fastify's default is 100, shorter than a
 * valid record id). Anything between the id limit and this reaches validation and gets
 * its normal 400; longer is refused by the router, answered with the same kind of 400.
 * Protects the router's matching work.
 */
export const MAX_PARAM_LENGTH = MAX_RECORD_ID_LENGTH * 4;

/** Options of createApiServer. */
export interface ApiServerOptions {
  /** Interface to bind (default 127.0.0.1: the API is local). */
  host?: string;
  /** Port (default 0: any free port; read the result from `url`). */
  port?: number;
  /** Bearer token every client must send (except on /healthz, /readyz, /openapi.json). */
  token: string;
  logger?: Logger;
  /** Extra readiness condition for /readyz (the node being open is always checked). */
  ready?: () => boolean;
  /** Event stream settings (tests shorten the keep-alive). */
  events?: EventStreamOptions;
  /** Restore uploads: their size limit (default MAX_RESTORE_UPLOAD_BYTES) and where they are staged (default the OS temp directory). */
  restore?: { maxUploadBytes?: number; tmpDir?: string };
  /** Serve HTTPS with this PEM key and certificate (chain). */
  tls?: { key: string; cert: string };
  /** The peer URL other machines reach this node at: the default address in invitations. */
  advertise?: string;
}

/** A running API server. */
export interface ApiServer {
  /** Base URL, e.g. http://127.0.0.1:43117 */
  readonly url: string;
  /** Every route fastify registered (method and path), for checks against the document. */
  readonly routes: ReadonlyArray<{ method: string; url: string }>;
  /** Ends event streams, stops accepting requests and waits for open ones. Idempotent. */
  close(): Promise<void>;
}

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Starts the HTTP API for a node. */
export async function createApiServer(node: CrmNode, options: ApiServerOptions): Promise<ApiServer> {
  if (typeof options.token !== 'string' || options.token.length === 0) throw new TypeError('createApiServer needs a non-empty `token`');
  const base = options.logger ?? silentLogger();
  const log = base.child({ component: 'api' });
  const metrics = createMetrics(node);
  // A child of `base`, not of `log`: pino writes every binding, so a nested child would log "component" twice.
  const events = new EventStreams(node, base.child({ component: 'api.events' }), options.events);
  const backup = { ...options.restore, logger: base.child({ component: 'api.backup' }) };
  const routes = buildRoutes({ node, metrics, events, ready: options.ready ?? (() => true), backup, advertise: options.advertise });
  const expected = sha256(options.token);

  const matcher = new RouteMatcher(routes);
  let shuttingDown = false;

  const app = Fastify({
    ...(options.tls ? { https: { key: options.tls.key, cert: options.tls.cert } } : {}),
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    exposeHeadRoutes: false,
    // fastify's own 503 while closing has its own body shape; onRequest answers ERR_CLOSED instead.
    return503OnClosing: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Bad percent-encoding and over-long parameters, refused by the router before any route runs.
    frameworkErrors: (err, request, reply) => {
      const param = matcher.tooLongParam(request.method, request.url.split('?')[0]!, MAX_PARAM_LENGTH);
      const { status, body } = frameworkError(err, param);
      void (reply as FastifyReply).code(status).send(body);
    },
  });
  const registered: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) registered.push({ method, url: route.url });
  });

  app.addHook('onRequest', async (request, reply) => {
    if (shuttingDown) {
      reply.header('connection', 'close');
      return reply.code(503).send(errorBody('ERR_CLOSED', 'the server is shutting down'));
    }
    if ((request.routeOptions.config as { public?: boolean }).public) return;
    if (authorised(request.headers.authorization, expected)) return;
    reply.header('WWW-Authenticate', 'Bearer realm="crmsync"');
    return reply.code(401).send(errorBody('ERR_UNAUTHORIZED', 'missing or wrong bearer token'));
  });
  app.addHook('onResponse', async (request, reply) => {
    log.debug({ method: request.method, route: request.routeOptions.url ?? '(none)', status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  app.setErrorHandler(async (err, request, reply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) log.error({ err, method: request.method, route: request.routeOptions.url }, 'request failed');
    return reply.code(status).send(body);
  });
  // Backup uploads (POST /v1/restore) are streamed to a file by their route: leave them unread here.
  app.addContentTypeParser('application/octet-stream', (_request, _payload, done) => done(null, undefined));
  app.setNotFoundHandler(async (request, reply) => {
    const allowed = matcher.methodsFor(request.url.split('?')[0]!);
    if (allowed.length === 0) return reply.code(404).send(errorBody('ERR_NOT_FOUND', 'no such route'));
    reply.header('allow', allowed.join(', '));
    return reply.code(405).send(errorBody('ERR_NOT_FOUND', `no ${request.method} route here; allowed: ${allowed.join(', ')}`));
  });
  app.addHook('preClose', async () => {
    shuttingDown = true;
    events.closeAll();
  });

  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      config: { public: route.public === true },
      handler: (request, reply) => serve(route, request, reply),
    });
  }

  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${address.port}`,
    routes: registered,
    close() {
      closing ??= app.close().finally(() => metrics.close());
      return closing;
    },
  };
}

/** Constant-time comparison of the presented token with the configured one. */
function authorised(header: string | undefined, expected: Buffer): boolean {
  const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  if (!match) return false;
  // Both sides are 32-byte digests, so timingSafeEqual never sees different lengths.
  return timingSafeEqual(sha256(match[1]!), expected);
}

/** Validates the input with the route's schemas, runs the handler and sends its result. */
async function serve(route: ApiRoute, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  // fastify parses text/plain too, and /v1/restore's octet-stream: a JSON route takes only JSON.
  const type = request.headers['content-type'];
  if (route.body && type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) throw unsupportedMediaType();
  const input = {
    params: parse(route.params, request.params, 'path parameters'),
    query: parse(route.query, request.query, 'query'),
    body: parse(route.body, request.body, 'body'),
    headers: route.headers ? parse(route.headers, headersOf(route.headers.shape, request.headers), 'headers') : undefined,
  };
  const result = await route.handle(input);
  if ('stream' in result) {
    reply.hijack();
    result.stream(request.raw, reply.raw);
    return reply;
  }
  reply.code(result.status);
  if (result.headers) reply.headers(result.headers);
  if (result.contentType) reply.type(result.contentType);
  return reply.send(result.body);
}

function parse(schema: ZodType | undefined, value: unknown, what: string): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(what, result.error);
  return result.data;
}

/** Picks the schema's headers by their canonical names (Node lower-cases header names). */
function headersOf(shape: Record<string, unknown>, headers: FastifyRequest['headers']): Record<string, unknown> {
  return Object.fromEntries(Object.keys(shape).map((name) => [name, headers[name.toLowerCase()]]));
}
