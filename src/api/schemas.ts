/**
 * Zod schemas of the HTTP API: query strings, path parameters, headers and the
 * response bodies. Routes validate with them and the OpenAPI document is generated
 * from them; response schemas are strict and checked against the engine's types
 * below, so a field added to RecordView without a schema change fails to compile.
 */
import { z } from 'zod';
import {
  DEFAULT_CONFLICT_PAGE, DEFAULT_LIMITS, FIXED_LIMITS, MERGE_RULES, ROLES, STAGES, recordViewSchema,
  type AntiEntropyResult, type ConflictInboxItem, type ConflictValue, type FieldConflict, type HistoryEntry, type NodeStatus, type PeerStatus, type RecordView,
} from '../index.js';
import { MAX_HOLDING_NAME } from '../crdt/holding.js';
import { NODE_ID_PATTERN, MAX_RECORD_ID_LENGTH } from '../types.js';

/** Largest request body accepted (bytes). Protects memory; a record is far smaller. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Most records one list page returns (the contract's 1-1000). */
export const MAX_PAGE_LIMIT = 1000;
/** Most history entries one request returns. */
export const MAX_HISTORY_LIMIT = 10_000;

const queryBoolean = z.enum(['true', 'false'], { error: 'must be true or false' }).transform((value) => value === 'true');

/** A whole number in [min, max] from a query string, with one message for every way to miss. */
function queryInt(min: number, max: number) {
  const error = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}
const filterText = z.string().min(1).max(200);

/** Milliseconds since the epoch, or an ISO date / date-time. */
const timeQuery = z
  .union([
    z.string().regex(/^\d{1,15}$/),
    z.iso.datetime({ offset: true }),
    z.iso.date(),
  ], { error: 'must be milliseconds since the epoch, an ISO date (2024-05-01) or an ISO date-time with offset (2024-05-01T12:00:00Z)' })
  .transform((value) => (/^\d+$/.test(value) ? Number(value) : Date.parse(value)));

/** Path parameter of every /v1/customers/:id route (the engine checks the id's syntax). */
export const customerParams = z.strictObject({ id: z.string().min(1).max(MAX_RECORD_ID_LENGTH, { error: 'too long' }) });

/** GET /v1/customers filters and paging. */
export const listQuery = z.strictObject({
  territory: filterText.optional(),
  owner: filterText.optional(),
  stage: z.enum(STAGES).optional(),
  updatedSince: timeQuery.optional(),
  q: filterText.optional(),
  limit: queryInt(1, MAX_PAGE_LIMIT).default(100),
  cursor: z.string().min(1).max(2048).optional(),
  includeDeleted: queryBoolean.optional(),
});

/** Longest conflict field path: `custom.` and the longest custom field name. */
export const MAX_FIELD_PATH_LENGTH = 'custom.'.length + 64;

/** GET /v1/conflicts: the conflict inbox's filters and paging. */
export const conflictInboxQuery = z.strictObject({
  territory: filterText.optional(),
  owner: filterText.optional(),
  limit: queryInt(1, DEFAULT_LIMITS.maxConflictPageSize).default(DEFAULT_CONFLICT_PAGE),
  cursor: z.string().min(1).max(2048).optional(),
});

/** Path parameters of POST /v1/customers/:id/conflicts/:field/resolve. */
export const conflictFieldParams = customerParams.extend({
  field: z.string().min(1).max(MAX_FIELD_PATH_LENGTH, { error: 'too long' })
    .describe('the conflicted field: an atomic field (email), address.<part>, custom.<key> or deleted'),
});

/** POST /v1/customers/:id/conflicts/:field/resolve body: exactly one of keep and keepNode. */
export const resolveBody = z.strictObject({
  keep: z.union([z.string().max(2000), z.number(), z.boolean()]).optional()
    .describe('the concurrent value to keep, as listed; a string also matches a number or boolean by its text ("42" keeps 42)'),
  keepNode: z.string().min(1).max(64).optional().describe('keep the value this node wrote'),
}).refine((body) => (body.keep === undefined) !== (body.keepNode === undefined), { error: 'give exactly one of keep and keepNode' });

/** GET /v1/customers/:id/history. */
export const historyQuery = z.strictObject({
  limit: queryInt(1, MAX_HISTORY_LIMIT).default(1000),
});

/** A local sequence number (event ids, `since`). */
const localSeq = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** GET /v1/events. */
export const eventsQuery = z.strictObject({ since: localSeq.optional() });
/** GET /v1/events headers (EventSource sends Last-Event-ID when it reconnects). */
export const eventsHeaders = z.object({ 'Last-Event-ID': localSeq.optional() });

/** POST /v1/customers headers. */
export const createHeaders = z.object({
  'Idempotency-Key': z.string().regex(/^[\x20-\x7e]{1,200}$/, 'must be 1-200 printable ASCII characters').optional(),
});

/** A node id (as the trust list names members). */
export const nodeIdText = z.string().regex(NODE_ID_PATTERN, 'must be a node id');

const peerUrl = z.url({ protocol: /^wss?$/, error: 'must be a ws:// or wss:// URL' }).max(2048);
/** PUT /v1/subscription: what the node holds (both absent: every record its scope allows). */
const holdingNames = z.array(z.string().trim().min(1).max(MAX_HOLDING_NAME)).max(FIXED_LIMITS.maxHoldingNames.value);
export const subscriptionBody = z.strictObject({ territories: holdingNames.optional(), owners: holdingNames.optional() });

/** POST /v1/peers body. */
export const addPeerBody = z.strictObject({
  url: peerUrl,
  node: nodeIdText.optional()
    .describe('the node id the URL must reach: a member of the trust list; a session that proves another id is closed'),
  confirm: z.boolean().optional().describe('without `node`: true vouches for the URL (our hello goes to whatever answers there)'),
});
/** DELETE /v1/peers query. */
export const removePeerQuery = z.strictObject({ url: peerUrl });

// ---- responses ------------------------------------------------------------------

/** RecordView as JSON: the record schema's own view schema (one definition, see record-schema.ts). */
export const customerView = recordViewSchema;

const conflictValue = z.strictObject({
  value: z.union([z.string(), z.number(), z.boolean(), z.null()]),
  node: z.string().nullable(),
  opId: z.string(),
  time: z.number().describe('when it was written (ms since the epoch, hybrid logical clock)'),
  author: z.string().nullable().describe("who wrote it, as the writing node recorded (an importer, 'conflicts:resolve'), or null"),
  winner: z.boolean().describe('the value every node shows'),
});

const fieldConflict = z.strictObject({
  field: z.string(),
  rule: z.enum(MERGE_RULES).describe('the merge policy that picked the winner'),
  values: z.array(conflictValue),
});

const conflictInboxItem = z.strictObject({
  id: z.string(),
  name: z.string(),
  territory: z.string().nullable(),
  owner: z.string().nullable(),
  fields: z.array(z.string()).describe('the field paths holding concurrent values'),
  updatedAt: z.number(),
  deleted: z.boolean(),
});

const historyEntry = z.strictObject({
  node: z.string(), seq: z.number(), at: z.number(), fields: z.array(z.string()), hash: z.string(),
  author: z.string().optional().describe("set for changes made by an importer or another tool, e.g. 'import:crm-export'"),
  quarantined: z.string().optional().describe('set for a change this node refused to apply (it failed verification), with the reason'),
});

const peerStatus = z.strictObject({
  node: z.string().nullable(),
  url: z.string().nullable(),
  direction: z.enum(['inbound', 'outbound']),
  state: z.enum(['connecting', 'connected', 'standby', 'backoff', 'stopped']),
  behind: z.number(),
  ahead: z.number(),
  lagSeconds: z.number(),
  lastSeenAt: z.number().nullable(),
  retryInMs: z.number().nullable(),
  stats: z.strictObject({
    framesIn: z.number(), framesOut: z.number(), bytesIn: z.number(), bytesOut: z.number(),
    changesIn: z.number(), changesOut: z.number(), lastSeenAt: z.number(),
  }).nullable(),
  catchUp: z.union([z.strictObject({ state: z.literal('active') }), z.strictObject({ state: z.literal('waiting'), ahead: z.number() })]).nullable()
    .describe('sending a catch-up to this peer: streaming, or waiting for one of maxConcurrentCatchUps slots behind `ahead` others'),
  role: z.enum(ROLES).nullable().describe('the role the peer proved in the handshake (its trust-list entry); null without an open session'),
  key: z.string().nullable().describe('fingerprint of the key the peer proved it holds; null without an open session'),
  expectedNode: z.string().nullable().describe('the node id this URL must reach (POST /v1/peers `node`), or null'),
  lastError: z.string().nullable().describe('why the last dial or session failed (a refused address, another node than expected), or null'),
});

const counts = z.record(z.string(), z.number());
const batchTotals = z.strictObject({ batches: z.number(), seconds: z.number().describe('from handing each batch to LevelDB until the node saw it written (its fsync, for a commit)') });

/** The result of one anti-entropy exchange (POST /v1/verify/peer/{node}, status.antiEntropy.last). */
const antiEntropyResult = z.strictObject({
  peer: z.string(),
  at: z.number().describe('when the exchange started (ms since the epoch)'),
  durationMs: z.number(),
  roundTrips: z.number().describe('digest requests made (about log16(records) + 5 when one record differs)'),
  compared: z.number().describe('records compared: the larger of the two holdings'),
  differing: z.number().describe('records held by one side only or with other heads'),
  differingIds: z.array(z.string()).describe('ids of the differing records (the first maxReportedProblems)'),
  repaired: z.number().describe('differing records that were the same after the repair'),
  remaining: z.number().describe('records still different after the repair'),
  remainingIds: z.array(z.string()),
});

/** Anti-entropy in /v1/status. */
const antiEntropyStatus = z.strictObject({
  intervalMs: z.number().describe('background interval (0: disabled)'),
  runs: z.number(),
  failures: z.number(),
  last: antiEntropyResult.nullable().describe('the last exchange that completed'),
  lastError: z.strictObject({ at: z.number(), peer: z.string(), code: z.string() }).nullable().describe('the last exchange that failed'),
  refusedRequests: z.number().describe("peers' digest requests refused (busy, or over the rate limit)"),
});

/** This node's identity block of /v1/status. */
const identity = z.strictObject({
  nodeId: z.string(),
  key: z.string().describe('fingerprint of the node key (ed25519:…)'),
  role: z.enum(ROLES).nullable().describe('null while the node is not yet on its cluster\'s trust list'),
  admin: z.boolean(),
  cluster: z.string(),
  founder: z.string().describe('fingerprint of the key that founded the cluster'),
});

/** The JSON `data` of one `change` event of /v1/events. */
export const changeEventData = z.strictObject({
  localSeq: z.number().describe('position in this node\'s change log; also the event id'),
  id: z.string(),
  source: z.enum(['local', 'remote']),
  origin: z.string().describe('node that made the change'),
  time: z.number().describe('when the change was made at its origin (ms since the epoch)'),
  customer: customerView,
});

/** Response bodies by name. */
/** Records in these territories or of these owners (a subscription or a scope). */
const holdingFilter = z.strictObject({ territories: z.array(z.string()).optional(), owners: z.array(z.string()).optional() });
const erasureView = z.strictObject({
  subject: z.string().describe('SHA-256 of the cluster id and the record id: the erasure never names the record'),
  node: z.string().describe('the administrator node that erased it'),
  key: z.string().describe('fingerprint of the key that signed the erasure'),
  at: z.number().describe('when (ms since the epoch)'),
});

export const responses = {
  erasure: z.strictObject({ erasure: erasureView }),
  erasures: z.strictObject({ erasures: z.array(erasureView) }),
  customer: z.strictObject({ customer: customerView }),
  customers: z.strictObject({ customers: z.array(customerView), next: z.string().nullable() }),
  conflicts: z.strictObject({ conflicts: z.array(fieldConflict) }),
  conflictInbox: z.strictObject({ records: z.array(conflictInboxItem), next: z.string().nullable() }),
  resolved: z.strictObject({ customer: customerView, field: z.string(), kept: conflictValue }),
  history: z.strictObject({ history: z.array(historyEntry) }),
  peers: z.strictObject({ peers: z.array(peerStatus) }),
  removed: z.strictObject({ removed: z.boolean() }),
  subscription: z.strictObject({ evicted: z.number().describe('records that left the holding and were evicted here') }),
  status: z.strictObject({
    nodeId: z.string(),
    url: z.string().nullable(),
    clock: z.record(z.string(), z.number()),
    records: z.strictObject({ live: z.number(), deleted: z.number(), indexBacklog: z.number() }),
    storage: z.strictObject({
      commit: batchTotals.describe('batches of records, changes and clock, each fsynced before anyone hears of them (a group of commits a batch)'),
      index: batchTotals.describe('batches of waiting index keys alone, not fsynced (their records are marked)'),
    }).describe('batches of the commit queue written since the node opened'),
    conflicted: z.number(),
    peers: z.array(peerStatus),
    cache: z.strictObject({ size: z.number(), hits: z.number(), misses: z.number(), evictions: z.number() }),
    lastLocalSeq: z.number(),
    rejectedConnections: z.number(),
    unknownMessages: z.number(),
    identity,
    insecure: z.boolean().describe('true when the node listens beyond loopback without TLS (--insecure)'),
    refused: z.strictObject({
      connections: counts.describe('refused before a socket existed, by reason (token, peer, tls, connections, address, …)'),
      handshakes: counts.describe('refused in the handshake, by reason (unknown, revoked, wrong-cluster, bad-proof, invitation-…)'),
    }),
    rejectedEntries: counts.describe('sessions closed because the peer sent entries that failed verification, by reason'),
    quarantinedChanges: z.number().describe('changes received that failed verification: stored and relayed, never applied'),
    mergePolicies: z.strictObject({
      digest: z.string().describe('peers with another digest are refused (close code 4016)'),
      rules: z.record(z.string(), z.string()).describe('field path -> merge rule; fields not named use latest'),
    }),
    antiEntropy: antiEntropyStatus,
    holding: z.strictObject({
      subscription: holdingFilter.nullable().describe('what this node subscribed to (null: every record its scope allows)'),
      scope: holdingFilter.nullable().describe('its scope in the trust list (null: unrestricted)'),
      complete: z.boolean().describe('false while a wider subscription waits for a region to send the records it gains'),
    }),
    lifecycle: z.strictObject({
      passes: z.number().describe('tombstone collection passes since start'),
      collected: z.number().describe('deleted records whose tombstones this node collected'),
      stable: z.boolean().describe('false while some member\'s holdings are unknown here: then nothing is collected'),
      waitingFor: z.array(z.string()).describe('the first 10 members (by node id) whose holdings are unknown here: nothing is collected until each is met or its signed holds report arrives'),
      erasures: z.number().describe('records erased in the cluster'),
      truncated: z.number().describe('log entries this node truncated since start (held by every member heard from within logRetentionMs, and older than it)'),
      logStart: z.number().describe('the first log position still held (1 until the log was truncated); feed positions below it are gone'),
      absent: z.array(z.string()).describe('the first 10 members not heard from within logRetentionMs: the log is truncated without waiting for them; a region brings them back with record documents'),
    }),
  }),
  antiEntropy: antiEntropyResult,
  health: z.strictObject({ status: z.string() }),
  error: z.strictObject({
    error: z.strictObject({
      code: z.string(),
      message: z.string(),
      details: z.array(z.strictObject({ field: z.string(), message: z.string() })).optional(),
    }),
  }),
};

// ---- compile-time agreement with the engine's types -----------------------------

type Out<S extends z.ZodType> = z.output<S>;
/** Fails to compile unless T is assignable to S and both have the same keys. */
type Describes<T, S> = [T] extends [S] ? ([Exclude<keyof T, keyof S> | Exclude<keyof S, keyof T>] extends [never] ? true : false) : false;
type Assert<T extends true> = T;
/**
 * A conflict as served: the merge policies' `time`, `author` and `rule` are optional
 * until every engine reports them (once FieldConflict has them, they are required here too).
 */
/** Never instantiated: compiling it is the check. */
export type SchemasAgreeWithEngine = [
  Assert<Describes<RecordView, Out<typeof customerView>>>,
  Assert<Describes<FieldConflict, Out<typeof fieldConflict>>>,
  Assert<Describes<ConflictValue, Out<typeof conflictValue>>>,
  Assert<Describes<ConflictInboxItem, Out<typeof conflictInboxItem>>>,
  Assert<Describes<HistoryEntry, Out<typeof historyEntry>>>,
  Assert<Describes<PeerStatus, Out<typeof peerStatus>>>,
  Assert<Describes<NonNullable<PeerStatus['stats']>, NonNullable<Out<typeof peerStatus>['stats']>>>,
  Assert<Describes<NodeStatus, Out<typeof responses.status>>>,
  Assert<Describes<NodeStatus['cache'], Out<typeof responses.status>['cache']>>,
  Assert<Describes<NodeStatus['identity'], Out<typeof identity>>>,
  Assert<Describes<NodeStatus['antiEntropy'], Out<typeof antiEntropyStatus>>>,
  Assert<Describes<AntiEntropyResult, Out<typeof antiEntropyResult>>>,
];
