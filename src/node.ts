/**
 * The composition root: the one place where the store, the replica, the transport and
 * the peer sessions are built and wired together. Everything else receives its
 * collaborators. `openNode()` returns the public library API.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { AbstractLevel } from 'abstract-level';
import { Level } from 'level';
import { makeActorId } from './crdt/actor.js';
import type { FieldConflict } from './crdt/record-doc.js';
import { writeFromInput, writeFromPatch } from './crdt/record-input.js';
import type { ChangeEntry, StoredEntry } from './crdt/change-entry.js';
import {
  recordInputSchema, recordPatchSchema, validate,
  type RecordInputLike, type RecordPatchLike, type RecordView,
} from './crdt/record-schema.js';
import { clockEntries } from './crdt/vector-clock.js';
import { CrmsyncError } from './errors.js';
import { resolveLimits, type Limits } from './limits.js';
import { silentLogger, type Logger } from './log.js';
import type { Transport } from './net/transport.js';
import { createWsTransport } from './net/ws-transport.js';
import { openLevelStore, type LevelStore } from './store/level-store.js';
import { queryRecords, type RecordQuery } from './store/query.js';
import { Peers, type PeerStatus } from './sync/peers.js';
import { Replica, type HistoryEntry, type RecordChangeEvent } from './sync/replica.js';
import type { VerifyReport } from './sync/verify.js';
import { realTimers, type Timers } from './timers.js';
import { parseNodeId, parseRecordId, type NodeId, type RecordId } from './types.js';

/** The `source` recorded for changes merged from a backup. */
const RESTORE_SOURCE = parseNodeId('restore');

/** How to open a node. */
export interface NodeOptions {
  /** LevelDB directory (created if missing). Either this or `db`. */
  dataDir?: string;
  /** An abstract-level database instead of a directory (memory-level in simulations). */
  db?: AbstractLevel<any, string, Uint8Array>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Node id for a new data directory; generated if absent; must match an existing one. */
  nodeId?: string;
  /** Where to accept peers; `false` to only dial. Default 127.0.0.1, port 0 (any free port). */
  listen?: { host?: string; port?: number } | false;
  /** Peer URLs to dial and keep dialing (ws://host:port). */
  peers?: string[];
  /** Shared secret every peer must present. */
  peerToken?: string;
  /** Transport (default: WebSocket). */
  transport?: Transport;
  limits?: Partial<Limits>;
  logger?: Logger;
  timers?: Timers;
  /** Uniform random source for backoff jitter (seeded in simulations). */
  random?: () => number;
  /** Random bytes for ids and actor incarnations (seeded in simulations). */
  randomBytes?: (n: number) => Uint8Array;
  /** fsync every commit (default true; only simulations turn it off). */
  sync?: boolean;
}

/** Filters and paging for list(); every filter is served from a secondary index. */
export interface ListOptions extends Partial<Omit<RecordQuery, 'limit' | 'cursor'>> {
  limit?: number;
  /** Cursor: the previous page's `next`. */
  after?: string;
}

/** Node status. */
export interface NodeStatus {
  nodeId: NodeId;
  url: string | null;
  clock: Record<string, number>;
  records: { live: number; deleted: number };
  conflicted: number;
  peers: PeerStatus[];
  cache: ReturnType<Replica['cache']['snapshot']>;
  lastLocalSeq: number;
  /** Connections closed because a peer sent invalid or oversized frames. */
  rejectedConnections: number;
}

/** One entry of the change feed (see changesSince). */
export interface ChangeFeedEntry {
  localSeq: number;
  id: RecordId;
  origin: NodeId;
  time: number;
}

/** One record of upsertMany. */
export interface UpsertItem {
  id: string;
  fields: RecordPatchLike;
}

/** Outcome of one upsertMany item. */
export interface UpsertResult {
  id: string;
  status: 'created' | 'updated' | 'unchanged' | 'rejected';
  customer?: RecordView;
  /** For rejected items: the error (ERR_VALIDATION with field details). */
  error?: CrmsyncError;
}

/** The record operations of a node. */
export interface RecordsApi {
  /** Creates a record (id generated unless given); fails with ERR_EXISTS if the id exists. */
  create(input: RecordInputLike): Promise<RecordView>;
  /** Creates or fully replaces a record (absent fields are cleared). */
  put(id: string, input: RecordInputLike): Promise<RecordView>;
  /** put(), also saying whether it created the record (no record, not even a deleted one, had that id). */
  putWithOutcome(id: string, input: RecordInputLike): Promise<{ view: RecordView; created: boolean }>;
  /** Field-level update of an existing, non-deleted record. */
  update(id: string, patch: RecordPatchLike): Promise<RecordView>;
  /** Writes a tombstone (restorable). */
  delete(id: string): Promise<RecordView>;
  /** Clears the tombstone. */
  restore(id: string): Promise<RecordView>;
  /** The record, or undefined; deleted records are returned with `deleted: true`. */
  get(id: string): Promise<RecordView | undefined>;
  list(options?: ListOptions): Promise<{ records: RecordView[]; next: string | undefined }>;
  conflicts(id: string): Promise<FieldConflict[]>;
  /**
   * Creates or field-level updates many records in ONE atomic, durable commit: absent
   * records are created (then `name` is required), present ones get only the given
   * fields. Each item reports created/updated/unchanged/rejected; `state` entries (an
   * import watermark) become durable in the same batch. `author` marks the changes in
   * history (e.g. 'import:legacy-crm').
   */
  upsertMany(items: UpsertItem[], options?: { author?: string; state?: Record<string, unknown> }): Promise<UpsertResult[]>;
  history(id: string, options?: { limit?: number }): Promise<HistoryEntry[]>;
}

/** A running crmsync node. */
export interface CrmNode {
  readonly id: NodeId;
  /** URL peers dial to reach this node, or null if it does not listen. */
  readonly url: string | null;
  readonly records: RecordsApi;
  /** Subscribes to durable record changes; returns the unsubscribe function. */
  onChange(listener: (event: RecordChangeEvent) => void): () => void;
  status(): Promise<NodeStatus>;
  /**
   * Loads every record's document and compares heads and view with what is stored
   * (reads are served from the stored view); with `repair`, rewrites what differs.
   */
  verify(options?: { repair?: boolean }): Promise<VerifyReport>;
  /** A small named value stored by a driver (e.g. an import watermark), or undefined. */
  getState<T>(key: string): Promise<T | undefined>;
  /** Full log entries after `after` (a localSeq), oldest first: the unit of backups. */
  exportEntries(after: number, limit: number): Promise<StoredEntry[]>;
  /** Merges entries (from a backup) exactly as if a peer had sent them; durable on return. */
  importEntries(entries: ChangeEntry[]): Promise<{ accepted: number; gap: boolean }>;
  /** Log entries stored after `after` (a localSeq), oldest first: resumes a change stream. */
  changesSince(after: number, limit?: number): Promise<ChangeFeedEntry[]>;
  /** Starts dialing a peer (and keeps redialing it). */
  addPeer(url: string): void;
  removePeer(url: string): boolean;
  /** Stops syncing, waits for pending writes, closes the store. */
  close(): Promise<void>;
}

/** Opens a node: store, replica, transport, peers. */
export async function openNode(options: NodeOptions): Promise<CrmNode> {
  const limits = resolveLimits(options.limits);
  const logger = options.logger ?? silentLogger();
  const timers = options.timers ?? realTimers;
  const bytes = options.randomBytes ?? ((n: number) => randomBytes(n));
  const db = options.db ?? (await levelAt(options.dataDir));
  const store = await openLevelStore(db, {
    nodeId: options.nodeId === undefined ? undefined : parseNodeId(options.nodeId),
    generateNodeId: () => parseNodeId(`node-${Buffer.from(bytes(4)).toString('hex')}`),
    logTailSize: limits.logTailSize,
    groupCommitMax: limits.groupCommitMax,
    sync: options.sync ?? true,
  });
  const log = logger.child({ node: store.nodeId });
  const replica = new Replica({
    store, actor: makeActorId(store.nodeId, bytes(8)), limits, logger: log.child({ component: 'replica' }),
    now: () => timers.now(), randomBytes: bytes,
  });
  const transport = options.transport ?? createWsTransport({
    maxFrameBytes: limits.maxFrameBytes, sendHighWaterBytes: limits.sendHighWaterBytes,
    // The transport names its own component (net.ws); a child here would log "component" twice.
    heartbeatMs: limits.heartbeatMs, peerToken: options.peerToken, logger: log,
  });
  const peers = new Peers(transport, {
    nodeId: store.nodeId,
    clock: () => store.clock,
    lastLocalSeq: () => store.lastLocalSeq,
    readLog: (from, max, maxBytes) => store.readLog(from, max, maxBytes),
    localSeqOf: (origin, seq) => store.localSeqOf(origin, seq),
    ingest: (entries, from) => replica.ingest(entries, from),
  }, limits, timers, options.random ?? Math.random, log.child({ component: 'sync' }));
  replica.events.on('appended', (entries, source) => peers.notifyAppended(source, [...new Set(entries.map((e) => e.origin))]));
  let url: string | null = null;
  if (options.listen !== false) {
    url = (await transport.listen({ host: options.listen?.host ?? '127.0.0.1', port: options.listen?.port ?? 0 })).url;
  }
  for (const peer of options.peers ?? []) peers.add(peer);
  log.info({ url, peers: options.peers?.length ?? 0 }, 'node started');
  return buildNode(store, replica, peers, limits, url, log);
}

async function levelAt(dataDir: string | undefined): Promise<Level<string, Uint8Array>> {
  if (!dataDir) throw new TypeError('openNode needs `dataDir` or `db`');
  await mkdir(dataDir, { recursive: true });
  return new Level<string, Uint8Array>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'view' });
}

function buildNode(store: LevelStore, replica: Replica, peers: Peers, limits: Limits, url: string | null, log: Logger): CrmNode {
  let closed = false;
  const open = () => {
    if (closed) throw new CrmsyncError('ERR_CLOSED', 'the node is closed');
  };
  const live = (id: RecordId, current: RecordView | undefined) => {
    if (!current) throw new CrmsyncError('ERR_NOT_FOUND', `record ${id} does not exist`);
    if (current.deleted) throw new CrmsyncError('ERR_NOT_FOUND', `record ${id} is deleted; restore it first`);
    return current;
  };
  const records: RecordsApi = {
    async create(input) {
      open();
      const valid = validate(recordInputSchema, input, 'record');
      const id = valid.id === undefined ? replica.newRecordId() : parseRecordId(valid.id);
      return replica.write(id, (current) => {
        if (current) throw new CrmsyncError('ERR_EXISTS', `record ${id} already exists; update it, or create without an id`, { details: [{ field: 'id', message: 'already exists' }] });
        return writeFromInput(valid);
      });
    },
    async put(rawId, input) {
      return (await records.putWithOutcome(rawId, input)).view;
    },
    async putWithOutcome(rawId, input) {
      open();
      const id = parseRecordId(rawId);
      const valid = validate(recordInputSchema, { ...input, id }, 'record');
      let created = false;
      // decide() runs under the record's write lock, so `current` is what this write replaces.
      const view = await replica.write(id, (current) => {
        created = current === undefined;
        return writeFromInput(valid);
      });
      return { view, created };
    },
    async update(rawId, patch) {
      open();
      const id = parseRecordId(rawId);
      const valid = validate(recordPatchSchema, patch, 'patch');
      return replica.write(id, (current) => {
        live(id, current);
        return writeFromPatch(valid);
      });
    },
    async delete(rawId) {
      open();
      const id = parseRecordId(rawId);
      return replica.write(id, (current) => {
        live(id, current);
        return { deleted: true };
      });
    },
    async restore(rawId) {
      open();
      const id = parseRecordId(rawId);
      return replica.write(id, (current) => {
        if (!current) throw new CrmsyncError('ERR_NOT_FOUND', `record ${id} does not exist`);
        return { deleted: false };
      });
    },
    async get(rawId) {
      open();
      return replica.get(parseRecordId(rawId));
    },
    async list(options = {}) {
      open();
      const { after, limit, ...filters } = options;
      return queryRecords(store, { ...filters, cursor: after, limit: Math.min(Math.max(1, limit ?? 100), limits.maxPageSize) });
    },
    async upsertMany(items, options = {}) {
      open();
      const prepared = items.map((item) => {
        try {
          const id = parseRecordId(item.id);
          const patch = validate(recordPatchSchema, item.fields, 'record');
          return { id, patch };
        } catch (error) {
          return { id: item.id as RecordId, error };
        }
      });
      const results = await replica.writeMany(
        prepared.map((p) => ({
          id: p.id,
          decide: (current) => {
            if ('error' in p) throw p.error;
            if (!current) validate(recordInputSchema, { ...p.patch, id: p.id }, 'record');
            return writeFromPatch(p.patch);
          },
        })),
        { author: options.author, state: options.state ? Object.entries(options.state) : undefined },
      );
      return results.map((r) => ({
        id: r.id, status: r.status, ...(r.view ? { customer: r.view } : {}),
        ...(r.error ? { error: r.error instanceof CrmsyncError ? r.error : new CrmsyncError('ERR_VALIDATION', String(r.error)) } : {}),
      }));
    },
    async conflicts(rawId) {
      open();
      return replica.conflicts(parseRecordId(rawId));
    },
    async history(rawId, options = {}) {
      open();
      return replica.history(parseRecordId(rawId), Math.min(options.limit ?? 1000, 10_000));
    },
  };
  return {
    id: store.nodeId,
    url,
    records,
    onChange(listener) {
      replica.events.on('change', listener);
      return () => replica.events.off('change', listener);
    },
    async status() {
      open();
      const counts = store.recordCounts();
      return {
        nodeId: store.nodeId, url,
        clock: Object.fromEntries(clockEntries(new Map([...store.clock].map(([o, h]) => [o, h.seq])))),
        records: { live: counts.live, deleted: counts.deleted }, conflicted: counts.conflicted, peers: peers.status(),
        cache: replica.cache.snapshot(), lastLocalSeq: store.lastLocalSeq, rejectedConnections: peers.rejected,
      };
    },
    async verify(options = {}) {
      open();
      return replica.verify({ repair: options.repair ?? false });
    },
    async getState<T>(key: string) {
      open();
      return store.getState<T>(key);
    },
    async exportEntries(after, limit) {
      open();
      return store.readLog(after + 1, Math.min(Math.max(1, limit), 10_000), 16 * 1024 * 1024);
    },
    async importEntries(entries) {
      open();
      const result = await replica.ingest(entries, RESTORE_SOURCE);
      return { accepted: result.accepted, gap: result.gap };
    },
    async changesSince(after, limit = 1000) {
      open();
      const entries = await store.readLog(after + 1, Math.min(Math.max(1, limit), 10_000), 16 * 1024 * 1024);
      return entries.map((e) => ({ localSeq: e.localSeq, id: e.record, origin: e.origin, time: e.time }));
    },
    addPeer(peerUrl) {
      open();
      peers.add(peerUrl);
    },
    removePeer: (peerUrl) => peers.remove(peerUrl),
    async close() {
      if (closed) return;
      closed = true;
      await peers.stop();
      await replica.drain();
      replica.close();
      await store.close();
      log.info('node stopped');
    },
  };
}
