/**
 * The route table of the HTTP API: every route is defined here once. server.ts
 * registers exactly these routes and openapi.ts documents exactly these routes.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { checkPeerAddress, CrmsyncError, hasCode, recordInputSchema, recordPatchSchema, type CrmNode, type RecordView } from '../index.js';
import { backupRoutes, type BackupRouteOptions } from './backup-routes.js';
import { conflictRoutes } from './conflict-routes.js';
import { importRoutes } from './import-routes.js';
import { opsRoutes } from './ops-routes.js';
import { asAdmin, trustRoutes } from './trust-routes.js';
import type { EventStreams } from './events.js';
import type { ApiMetrics } from './metrics.js';
import { buildOpenApiDocument } from './openapi.js';
import { defineRoute, json, type ApiRoute, type RouteResult } from './route.js';
import {
  addPeerBody, subscriptionBody, changeEventData, createHeaders, customerParams, eventsHeaders, eventsQuery, historyQuery, listQuery,
  removePeerQuery, responses,
} from './schemas.js';

/** What the handlers need. */
export interface RouteDeps {
  node: CrmNode;
  metrics: ApiMetrics;
  events: EventStreams;
  /** Readiness beyond "the node is open" (the caller's own check). */
  ready: () => boolean;
  /** Restore upload settings (the upload limit, where uploads are staged) and the backup routes' logger. */
  backup?: Omit<BackupRouteOptions, 'node'>;
  /** The node's advertised peer URL (invitations carry it). */
  advertise?: string | undefined;
}

/** Record id derived from an Idempotency-Key: the same key always names the same record. */
export function idempotentRecordId(key: string): string {
  return `c_${createHash('sha256').update(`idem:${key}`).digest('hex').slice(0, 20)}`;
}

const customer = (status: number, view: RecordView, headers?: Record<string, string>): RouteResult => json(status, { customer: view }, headers);
/** A 201 with the new customer and where it lives. */
const createdCustomer = (view: RecordView): RouteResult => customer(201, view, { location: `/v1/customers/${encodeURIComponent(view.id)}` });
const customerResponse = { description: 'the customer', schema: responses.customer };
const location = { Location: { description: 'path of the created customer, /v1/customers/{id}' } };
const notFound = { description: 'no customer with that id (ERR_NOT_FOUND)', schema: responses.error };

/** Builds the route table. */
export function buildRoutes(deps: RouteDeps): ApiRoute[] {
  const { node } = deps;
  let document: object | undefined;
  const routes: ApiRoute[] = [
    defineRoute({
      method: 'GET', url: '/healthz', summary: 'Liveness: the process is up', tag: 'operations', public: true,
      responses: { 200: { description: 'up', schema: responses.health } },
      handle: async () => json(200, { status: 'ok' }),
    }),
    defineRoute({
      method: 'GET', url: '/readyz', summary: 'Readiness: the node is open and serving', tag: 'operations', public: true,
      responses: { 200: { description: 'ready', schema: responses.health }, 503: { description: 'not ready', schema: responses.health } },
      handle: async () => ((await isReady(deps)) ? json(200, { status: 'ready' }) : json(503, { status: 'not ready' })),
    }),
    defineRoute({
      method: 'GET', url: '/metrics', summary: 'Prometheus metrics', tag: 'operations',
      responses: { 200: { description: 'Prometheus text exposition format', contentType: deps.metrics.contentType, schema: z.string() } },
      handle: async () => ({ status: 200, body: await deps.metrics.scrape(), contentType: deps.metrics.contentType }),
    }),
    defineRoute({
      method: 'GET', url: '/openapi.json', summary: 'This document', tag: 'operations', public: true,
      responses: { 200: { description: 'OpenAPI 3.1 document of every route' } },
      handle: async () => json(200, (document ??= buildOpenApiDocument(routes))),
    }),
    defineRoute({
      method: 'POST', url: '/v1/customers', summary: 'Create a customer', tag: 'customers',
      body: recordInputSchema, headers: createHeaders,
      responses: {
        201: { ...customerResponse, description: 'the created customer', headers: location },
        200: { ...customerResponse, description: 'a retry with the same Idempotency-Key: the customer it created', headers: { 'Idempotent-Replayed': 'true' } },
        409: { description: 'the id exists (ERR_EXISTS); with an Idempotency-Key: the first attempt is still being written', schema: responses.error },
      },
      async handle({ body, headers }) {
        const key = headers['Idempotency-Key'];
        if (key === undefined || body.id !== undefined) return createdCustomer(await node.records.create(body));
        const id = idempotentRecordId(key);
        try {
          return createdCustomer(await node.records.create({ ...body, id }));
        } catch (err) {
          if (!hasCode(err, 'ERR_EXISTS')) throw err;
          const existing = await node.records.get(id);
          if (!existing) throw new CrmsyncError('ERR_EXISTS', 'a request with this Idempotency-Key is still being written; retry it', { cause: err });
          return customer(200, existing, { 'Idempotent-Replayed': 'true' });
        }
      },
    }),
    defineRoute({
      method: 'GET', url: '/v1/customers', summary: 'List customers (filters, text search, cursor paging)', tag: 'customers',
      query: listQuery,
      responses: { 200: { description: 'one page; pass `next` as `cursor` for the next (null at the end)', schema: responses.customers } },
      async handle({ query }) {
        const { cursor, ...filters } = query;
        const page = await node.records.list({ ...filters, ...(cursor === undefined ? {} : { after: cursor }) });
        return json(200, { customers: page.records, next: page.next ?? null });
      },
    }),
    defineRoute({
      method: 'GET', url: '/v1/customers/:id', summary: 'Get a customer (deleted ones too)', tag: 'customers',
      params: customerParams, responses: { 200: customerResponse, 404: notFound },
      async handle({ params }) {
        const view = await node.records.get(params.id);
        if (!view) throw new CrmsyncError('ERR_NOT_FOUND', `customer ${params.id} does not exist`);
        return customer(200, view);
      },
    }),
    defineRoute({
      method: 'PUT', url: '/v1/customers/:id', summary: 'Create or fully replace a customer (absent fields are cleared)', tag: 'customers',
      params: customerParams, body: recordInputSchema,
      responses: { 201: { ...customerResponse, description: 'created: no customer had this id', headers: location }, 200: { ...customerResponse, description: 'replaced' } },
      async handle({ params, body }) {
        if (body.id !== undefined && body.id !== params.id) {
          throw new CrmsyncError('ERR_VALIDATION', 'the body id differs from the path id', { details: [{ field: 'id', message: 'must match the path id or be absent' }] });
        }
        const { view, created } = await node.records.putWithOutcome(params.id, body);
        return created ? createdCustomer(view) : customer(200, view);
      },
    }),
    defineRoute({
      method: 'PATCH', url: '/v1/customers/:id', summary: 'Field-level update (null clears a field)', tag: 'customers',
      params: customerParams, body: recordPatchSchema, responses: { 200: customerResponse, 404: notFound },
      handle: async ({ params, body }) => customer(200, await node.records.update(params.id, body)),
    }),
    defineRoute({
      method: 'DELETE', url: '/v1/customers/:id', summary: 'Delete a customer (a restorable tombstone)', tag: 'customers',
      params: customerParams, responses: { 200: customerResponse, 404: notFound },
      handle: async ({ params }) => customer(200, await node.records.delete(params.id)),
    }),
    defineRoute({
      method: 'POST', url: '/v1/customers/:id/erase', summary: 'Erase a customer on every node, for good (GDPR; the node must be an administrator)', tag: 'customers',
      params: customerParams,
      responses: {
        200: { description: 'the erasure (also when the record was erased before)', schema: responses.erasure },
        403: { description: 'this node is not an administrator of its cluster (ERR_UNAUTHORIZED)', schema: responses.error },
        404: notFound,
      },
      handle: async ({ params }) => asAdmin(async () => json(200, { erasure: await node.records.erase(params.id) })),
    }),
    defineRoute({
      method: 'GET', url: '/v1/erasures', summary: 'Every erasure of the cluster: who, when, the salted id hash; never the record', tag: 'customers',
      responses: { 200: { description: 'the erasures, oldest first', schema: responses.erasures } },
      handle: async () => json(200, { erasures: node.records.erasures() }),
    }),
    defineRoute({
      method: 'POST', url: '/v1/customers/:id/restore', summary: 'Restore a deleted customer', tag: 'customers',
      params: customerParams, responses: { 200: customerResponse, 404: notFound },
      handle: async ({ params }) => customer(200, await node.records.restore(params.id)),
    }),
    defineRoute({
      method: 'GET', url: '/v1/customers/:id/conflicts', summary: 'Fields with concurrent values: every value with its node, time and author, and the rule that picked the winner', tag: 'conflicts',
      params: customerParams, responses: { 200: { description: 'conflicted fields', schema: responses.conflicts }, 404: notFound },
      async handle({ params }) {
        await existing(node, params.id);
        return json(200, { conflicts: await node.records.conflicts(params.id) });
      },
    }),
    defineRoute({
      method: 'GET', url: '/v1/customers/:id/history', summary: 'Changes of a customer, oldest first', tag: 'customers',
      params: customerParams, query: historyQuery,
      responses: { 200: { description: 'history entries', schema: responses.history }, 404: notFound },
      async handle({ params, query }) {
        await existing(node, params.id);
        return json(200, { history: await node.records.history(params.id, { limit: query.limit }) });
      },
    }),
    defineRoute({
      method: 'GET', url: '/v1/status', summary: 'Node status: clock, record counts, peers, cache', tag: 'node',
      responses: { 200: { description: 'node status', schema: responses.status } },
      handle: async () => json(200, await node.status()),
    }),
    defineRoute({
      method: 'GET', url: '/v1/peers', summary: 'Peers and their sync state', tag: 'node',
      responses: { 200: { description: 'peers', schema: responses.peers } },
      handle: async () => json(200, { peers: (await node.status()).peers }),
    }),
    defineRoute({
      method: 'POST', url: '/v1/peers', summary: 'Start dialing a peer (kept until removed): a trust-list member, or a URL the caller vouches for', tag: 'node',
      body: addPeerBody,
      responses: {
        201: { description: 'peers, the new one included', schema: responses.peers, headers: { Location: '/v1/peers' } },
        400: { description: 'neither `node` nor `confirm: true`, or a refused address (link-local, cloud metadata) (ERR_VALIDATION)', schema: responses.error },
        404: { description: '`node` is not a member of the trust list (ERR_NOT_FOUND)', schema: responses.error },
      },
      async handle({ body }) {
        checkPeerTarget(node, body);
        await checkPeerAddress(body.url);
        node.addPeer(body.url, body.node === undefined ? {} : { node: body.node });
        // Peers have no resource of their own: the list that holds the new one is where it lives.
        return json(201, { peers: (await node.status()).peers }, { location: '/v1/peers' });
      },
    }),
    defineRoute({
      method: 'PUT', url: '/v1/subscription', summary: 'Change what this node holds (territories, owners) without restarting sync', tag: 'node',
      body: subscriptionBody,
      responses: {
        200: { description: 'records evicted here; peers send the records that entered', schema: responses.subscription },
        400: { description: 'malformed subscription (ERR_VALIDATION)', schema: responses.error },
        401: { description: 'beyond the node\'s scope in the trust list (ERR_UNAUTHORIZED)', schema: responses.error },
      },
      handle: async ({ body }) => {
        const subscription = body.territories || body.owners ? body : undefined;
        return json(200, await node.subscribe(subscription));
      },
    }),
    defineRoute({
      method: 'DELETE', url: '/v1/peers', summary: 'Stop dialing a peer', tag: 'node',
      query: removePeerQuery, responses: { 200: { description: 'whether the peer was configured', schema: responses.removed } },
      handle: async ({ query }) => json(200, { removed: node.removePeer(query.url) }),
    }),
    defineRoute({
      method: 'GET', url: '/v1/events', summary: 'Server-sent events: every record change, resumable with Last-Event-ID', tag: 'customers',
      query: eventsQuery, headers: eventsHeaders,
      responses: {
        200: {
          description: 'text/event-stream; each event is `id: <localSeq>`, `event: change` and `data: <JSON>` as in the schema; `: keep-alive` comments every 15 s',
          contentType: 'text/event-stream', schema: changeEventData,
        },
      },
      async handle({ query, headers }) {
        const since = headers['Last-Event-ID'] ?? query.since;
        if (since !== undefined && since > (await node.status()).lastLocalSeq) {
          throw new CrmsyncError('ERR_VALIDATION', 'the event id is ahead of this node\'s change log (a stream of another node?): reload and reconnect without it', {
            details: [{ field: headers['Last-Event-ID'] === undefined ? 'since' : 'Last-Event-ID', message: 'ahead of this node\'s change log' }],
          });
        }
        return { stream: (req, res) => deps.events.open(req, res, since) };
      },
    }),
    ...conflictRoutes({ node }),
    ...backupRoutes({ ...deps.backup, node }),
    ...importRoutes({ node }),
    ...opsRoutes({ node }),
    ...trustRoutes({ node, advertise: deps.advertise }),
  ];
  return routes;
}

async function isReady(deps: RouteDeps): Promise<boolean> {
  if (!deps.ready()) return false;
  try {
    await deps.node.status();
    return true;
  } catch (err) {
    // A closed node, or a store that failed (it refuses every write until restarted).
    if (hasCode(err, 'ERR_CLOSED') || hasCode(err, 'ERR_STORAGE')) return false;
    throw err;
  }
}

/**
 * Dialing sends our hello (and its membership proof) to whatever answers, so the caller
 * names the member the URL should reach, or vouches for the URL with `confirm: true`.
 */
function checkPeerTarget(node: CrmNode, body: { node?: string | undefined; confirm?: boolean | undefined }): void {
  if (body.node === undefined) {
    if (body.confirm === true) return;
    throw new CrmsyncError('ERR_VALIDATION', 'name the node this URL reaches (node), or pass confirm: true to vouch for the URL', {
      details: [{ field: 'node', message: 'required unless confirm is true' }],
    });
  }
  const view = node.trust.view();
  if (body.node === view.self.node) {
    throw new CrmsyncError('ERR_VALIDATION', `"${body.node}" is this node`, { details: [{ field: 'node', message: 'this node itself' }] });
  }
  if (!view.members.some((m) => m.node === body.node)) {
    throw new CrmsyncError('ERR_NOT_FOUND', `node "${body.node}" is not a member of this cluster's trust list; see crmsync trust list (or grant it: crmsync trust add)`, {
      details: [{ field: 'node', message: 'not on the trust list' }],
    });
  }
}

/** Throws ERR_NOT_FOUND unless the record exists (deleted or not). */
async function existing(node: CrmNode, id: string): Promise<RecordView> {
  const view = await node.records.get(id);
  if (!view) throw new CrmsyncError('ERR_NOT_FOUND', `customer ${id} does not exist`);
  return view;
}
