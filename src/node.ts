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
import type { ChangeEntry, StoredEntry } from './crdt/change-entry.js';
import { clockRecord, seqsOf } from './crdt/origin-clock.js';
import { Engine } from './engine/engine.js';
import type { BaseFloor } from './engine/truncate.js';
import { createRecordsApi, type RecordsApi } from './engine/records-api.js';
import { startConflictIndexing } from './engine/conflict-index.js';
import type { VerifyReport } from './engine/verify.js';
import type { RecordChangeEvent } from './engine/writer.js';
import type { CacheStats } from './engine/doc-cache.js';
import { CrmsyncError } from './errors.js';
import { applyHeapGrowth, parseHeapGrowth } from './heap-growth.js';
import { resolveLimits, type Limits } from './limits.js';
import { silentLogger, type Logger } from './log.js';
import type { TlsOptions, Transport } from './net/transport.js';
import { createWsTransport, wsLimitsOf } from './net/ws-transport.js';
import { createNodeCertificate } from './net/certificate.js';
import { isLoopback as isLoopbackAddress } from './net/address-policy.js';
import { LEVELDB_BLOCK_BYTES, openLevelStore, type LevelStore } from './store/level-store.js';
import type { BatchWrites } from './store/store.js';
import { Peers, type PeerStatus } from './sync/peers.js';
import { AntiEntropy } from './sync/anti-entropy.js';
import type { AntiEntropyResult } from './sync/anti-entropy-run.js';
import { AntiEntropyRunner, DEFAULT_ANTI_ENTROPY_INTERVAL_MS, type AntiEntropyStatus } from './sync/anti-entropy-runner.js';
import { realTimers, type Timers } from './timers.js';
import { parseNodeId, parseRecordId, type NodeId, type RecordId } from './types.js';
import { policiesDigest, resolvePolicies } from './crdt/merge-policy.js';
import { existingKeys, importStatements, invitationPeers, newIdentity, openTrust, type IdentityOptions } from './node-trust.js';
import type { NodeKeys } from './trust/keys.js';
import type { TrustService } from './trust/trust-service.js';
import type { Role } from './trust/statements.js';
import { createTrustApi, type TrustApi } from './trust/trust-api.js';
import type { HoldingFilter } from './crdt/holding.js';
import { applySubscription, keptSubscription, ownScope, parseSubscription } from './node-holding.js';
import { HoldsBook } from './node-holds.js';
import { startTombstoneCollector, wireErasures, type ErasureApi, type LifecycleStatus } from './node-lifecycle.js';

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
  /** The node's key (PKCS#8 PEM, e.g. `node.key`). Absent: a new data directory generates one and keeps it. */
  identity?: IdentityOptions['identity'];
  /**
   * The cluster to join (founder key fingerprint and starting statements, e.g. this node's
   * grant). Absent on a new data directory: the node founds a new cluster.
   */
  cluster?: IdentityOptions['cluster'];
  /** An invitation code (`crmsync trust invite`) for a new data directory; its issuer is dialed. */
  invitation?: string;
  /** Where to accept peers; `false` to only dial. Default 127.0.0.1, port 0 (any free port). */
  listen?: { host?: string; port?: number } | false;
  /** Peer URLs to dial and keep dialing (ws://host:port). */
  peers?: string[];
  /** Shared secret every peer must present (in addition to its key; sent only over TLS to accepted servers, or to loopback). */
  peerToken?: string;
  /**
   * TLS for the peer port: `'self-signed'` (a certificate bound to the node's key, which
   * peers check against the trust list; the default when listening beyond loopback), an
   * operator's certificate and CA, or `false` for plain ws://.
   */
  tls?: 'self-signed' | TlsOptions | false;
  /**
   * Allows listening beyond loopback without TLS. Peers still authenticate with their
   * keys, but traffic is readable and can be cut by anyone on the path: for test rigs.
   */
  insecure?: boolean;
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
  /**
   * Merge policies by field path (`stage: 'monotonic'`, `custom.budget: 'max'`, ...) over
   * DEFAULT_MERGE_POLICIES. Every node of a cluster must declare the same: peers whose
   * policies differ refuse to sync (close code 4016).
   */
  mergePolicies?: Record<string, string>;
  /** Background anti-entropy with the connected peers in turn, every this many ms (default 10 minutes; 0 disables). */
  antiEntropyIntervalMs?: number;
  /**
   * What this node holds (PROTOCOL.md "Holdings"): records in these territories or of
   * these owners, within its trust-list scope. null: every record its scope allows.
   * Absent: the subscription the data directory was last opened or subscribed with (kept
   * in it), or every record its scope allows if it never had one; so a command that opens
   * a laptop's directory offline holds what the laptop holds.
   */
  subscription?: SubscriptionView | null;
  /**
   * How far V8 lets this process's heap grow past what survived its last full collection
   * before it collects again, in percent (heap-growth.ts): default 100, a factor of 2, where
   * V8 would let it reach 4 on most machines. Process-wide: the last node opened with a number sets it.
   * `false` leaves V8's own choice; a process started with `--heap-growing-percent` keeps its own.
   */
  heapGrowthPercent?: number | false;
}

/** Records in these territories or of these owners (a subscription or a scope, as status shows it). */
export interface SubscriptionView {
  territories?: string[];
  owners?: string[];
}

/** A holding filter as status shows it (plain arrays). */
function viewOf(filter: HoldingFilter | undefined): SubscriptionView | null {
  if (!filter) return null;
  return { ...(filter.territories ? { territories: [...filter.territories] } : {}), ...(filter.owners ? { owners: [...filter.owners] } : {}) };
}

/** Node status. */
export interface NodeStatus {
  nodeId: NodeId;
  url: string | null;
  clock: Record<string, number>;
  /** `indexBacklog`: created records whose index keys wait to be written (store/index-backlog.ts). */
  records: { live: number; deleted: number; indexBacklog: number };
  /** Batches of the commit queue written since the node opened, by kind, and the seconds they waited (a commit's fsync included; store.ts BatchWrites). */
  storage: BatchWrites;
  conflicted: number;
  peers: PeerStatus[];
  cache: CacheStats;
  lastLocalSeq: number;
  /** Connections closed because a peer sent invalid or oversized frames. */
  rejectedConnections: number;
  /** Frames of message kinds this version does not know, ignored (see PROTOCOL.md, Versions). */
  unknownMessages: number;
  /** Who this node is: its id, key and membership (role null while it is not yet on the trust list). */
  identity: { nodeId: NodeId; key: string; role: Role | null; admin: boolean; cluster: string; founder: string };
  /** True when it listens beyond loopback without TLS (`insecure`). */
  insecure: boolean;
  /** Refused peer connections since start, by reason: before a socket (`connections`) and in the handshake (`handshakes`). */
  refused: { connections: Record<string, number>; handshakes: Record<string, number> };
  /** Sessions closed because a peer sent entries that failed verification, by reason. */
  rejectedEntries: Record<string, number>;
  /** Changes received from peers that failed verification and were quarantined. */
  quarantinedChanges: number;
  /** The merge policies this node derives views with (field -> rule), and their digest (peers must match). */
  mergePolicies: { digest: string; rules: Record<string, string> };
  /** Anti-entropy: the background interval, runs, and the last result (see verifyPeer). */
  antiEntropy: AntiEntropyStatus;
  /** What this node holds: its subscription (null: everything its scope allows) and its trust-list scope (null: none). */
  holding: {
    subscription: SubscriptionView | null; scope: SubscriptionView | null;
    /** False while a wider subscription waits for a region to send the records it gains (its data is complete only for an older one). */
    complete: boolean;
  };
  /** Tombstone collection (passes, collected, whether every member's holdings are known) and the cluster's erasures. */
  lifecycle: LifecycleStatus & { erasures: number };
}

/** One entry of the change feed (see changesSince). */
export interface ChangeFeedEntry {
  localSeq: number;
  id: RecordId;
  origin: NodeId;
  time: number;
  /** The record left this node's holding (it was evicted here, not deleted elsewhere). */
  evicted?: true;
}

/** A running crmsync node. */
export interface CrmNode {
  readonly id: NodeId;
  /** URL peers dial to reach this node, or null if it does not listen. */
  readonly url: string | null;
  readonly records: RecordsApi;
  /** The cluster's trust list: members, and (on an administrator) grants, revocations, invitations. */
  readonly trust: TrustApi;
  /** Subscribes to durable record changes; returns the unsubscribe function. */
  onChange(listener: (event: RecordChangeEvent) => void): () => void;
  status(): Promise<NodeStatus>;
  /**
   * Loads every record's document and compares heads and view with what is stored
   * (reads are served from the stored view); with `repair`, rewrites what differs.
   */
  verify(options?: { repair?: boolean }): Promise<VerifyReport>;
  /**
   * Compares this node's holdings with the connected peer `node` through Merkle digests
   * (anti-entropy), repairs what differs through normal sync, and reports both
   * (ERR_NOT_FOUND without an open session with it).
   */
  verifyPeer(node: string): Promise<AntiEntropyResult>;
  /** A small named value stored by a driver (e.g. an import watermark), or undefined. */
  getState<T>(key: string): Promise<T | undefined>;
  /** Full log entries after `after` (a localSeq), oldest first: the unit of backups. */
  exportEntries(after: number, limit: number): Promise<StoredEntry[]>;
  /**
   * Merges entries (from a backup) exactly as if a peer had sent them (verified, else ERR_SIGNATURE /
   * ERR_ORIGIN_FORKED and nothing stored; bad bodies quarantined); durable on return. Origins the trust list does not know: `untrusted`.
   */
  importEntries(entries: ChangeEntry[]): Promise<{ accepted: number; quarantined: number; gap: boolean; untrusted: string[] }>;
  /**
   * Where this node's log starts (`logStart`, 1 until truncated) and each origin's floor:
   * entries up to it are not held here (engine/truncate.ts). A backup of a truncated log
   * carries every record's document and these floors before its entries.
   */
  exportFloors(): { logStart: number; floors: BaseFloor[] };
  /** Every record's whole document (deleted ones included), a page at a time in id order after `after`. */
  exportDocuments(after: string | undefined, limit: number): Promise<{ id: RecordId; doc: Uint8Array }[]>;
  /**
   * Merges record documents (from a backup of a truncated log) into what this node holds,
   * as a region's `record` would be (ERR_PROTOCOL for one that does not load or leaves the
   * record schema); durable on return. The clock does not change: importFloors does.
   */
  importDocuments(docs: readonly { id: string; doc: Uint8Array }[]): Promise<{ adopted: number }>;
  /**
   * Raises the clock to floors (from a backup, after its documents): each checked against
   * its origin's key; one that does not verify fails with ERR_SIGNATURE and nothing is raised.
   */
  importFloors(floors: readonly BaseFloor[]): Promise<{ raised: number; refused: string[] }>;
  /** The trust statements this node holds, as signed values (for a backup: importTrust takes them). */
  exportTrust(): unknown[];
  /** Adds signed trust statements (from a backup), all checked before any is added (else ERR_VALIDATION); durable on return. */
  importTrust(statements: readonly unknown[]): Promise<{ added: number }>;
  /** Log entries stored after `after` (a localSeq), oldest first: resumes a change stream. */
  changesSince(after: number, limit?: number): Promise<ChangeFeedEntry[]>;
  /**
   * Starts dialing a peer (and keeps redialing it). With `node`, the peer must prove that
   * node id: a session with another node is closed and the mismatch shows in status.
   */
  addPeer(url: string, options?: { node?: string }): void;
  removePeer(url: string): boolean;
  /**
   * Changes what this node holds (PROTOCOL.md "Holdings"; undefined: everything its scope
   * allows) without restarting sync: records that leave the holding are evicted here,
   * and peers send the documents of records that enter it. ERR_UNAUTHORIZED beyond the
   * node's scope, ERR_VALIDATION for a malformed subscription.
   */
  subscribe(subscription: SubscriptionView | undefined): Promise<{ evicted: number }>;
  /** Stops syncing, waits for pending writes, closes the store. */
  close(): Promise<void>;
}

/** Opens a node: store, engine, transport, peers; then starts listening and dialing. */
export async function openNode(options: NodeOptions): Promise<CrmNode> {
  const limits = resolveLimits(options.limits);
  const policies = resolvePolicies(options.mergePolicies);
  const heapGrowth = parseHeapGrowth(options.heapGrowthPercent);
  const logger = options.logger ?? silentLogger();
  const timers = options.timers ?? realTimers;
  const bytes = options.randomBytes ?? ((n: number) => randomBytes(n));
  const db = options.db ?? (await levelAt(options.dataDir));
  let created: NodeKeys | undefined;
  const store = await openLevelStore(db, {
    createIdentity: () => {
      const fresh = newIdentity(options, () => parseNodeId(`node-${Buffer.from(bytes(4)).toString('hex')}`));
      created = fresh.keys;
      return fresh.record;
    },
    logTailSize: limits.logTailSize,
    groupCommitMax: limits.groupCommitMax,
    sync: options.sync ?? true,
    timers,
  });
  const log = logger.child({ node: store.nodeId });
  const heap = applyHeapGrowth(heapGrowth, process);
  log.debug({ heapGrowthPercent: heap.percent, by: heap.by }, 'V8 heap growth for this process');
  let trust: TrustService;
  try {
    const keys = created ?? existingKeys(store.identity, options);
    trust = await openTrust(store, keys, options, limits, log.child({ component: 'trust' }), timers.now());
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  const engine = new Engine({
    store, actor: makeActorId(store.nodeId, bytes(8)), limits, logger: log.child({ component: 'engine' }),
    now: () => timers.now(), randomBytes: bytes,
    merge: { policies, roleOf: (node) => trust.list.memberByNode(node)?.role },
    identity: { cluster: trust.cluster, sign: (data) => trust.keys.sign(data) }, authority: trust, erasures: trust.list,
  });
  try {
    let subscription = parseSubscription(options.subscription);
    if (options.subscription === undefined) {
      const kept = keptSubscription(await engine.storedSubscription(), ownScope(trust));
      if (kept.dropped > 0) log.warn({ dropped: kept.dropped }, 'the stored subscription names territories or owners beyond this node\'s scope now: opened without them');
      subscription = kept.subscription;
    }
    await applySubscription(engine, trust, subscription);
    const rederived = await engine.adoptPolicies(policiesDigest(policies));
    if (rederived > 0) log.info({ records: rederived }, 'merge policies changed: conflicted records show the value the new policies pick');
  } catch (err) {
    engine.close();
    await store.close().catch(() => undefined);
    throw err;
  }
  // owner-region picks by role: a role change may change what a conflicted record shows.
  // Other trust changes (a new member, an erasure) cannot, so they re-derive nothing.
  if (Object.values(policies).includes('owner-region')) {
    const rolesOf = () => trust.list.members().map((m) => `${m.node}:${m.role}`).sort().join(',');
    let roles = rolesOf();
    trust.events.on('changed', () => {
      const now = rolesOf();
      if (now === roles) return;
      roles = now;
      engine.rederiveConflicted().catch((err: unknown) => log.warn({ err }, 'could not re-derive conflicted records after a role change'));
    });
  }
  await engine.loadCollected();
  let closed = false;
  const assertOpen = () => {
    if (closed) throw new CrmsyncError('ERR_CLOSED', 'the node is closed');
  };
  const erasure = await wireErasures({ engine, trust, self: store.nodeId, now: () => timers.now(), logger: log.child({ component: 'lifecycle' }), assertOpen });
  const listen = options.listen === false ? undefined : { host: options.listen?.host ?? '127.0.0.1', port: options.listen?.port ?? 0 };
  const tls = await tlsFor(options, listen, trust, store.nodeId);
  const transport = options.transport ?? createWsTransport({
    // The transport names its own component (net.ws); a child here would log "component" twice.
    ...wsLimitsOf(limits), peerToken: options.peerToken, logger: log, tls,
    // A peer whose certificate key is revoked never gets a socket. An unknown key may be a
    // member whose grant has not reached us yet: its hello's proof decides (the handshake).
    acceptPeer: ({ peerKey }) => (peerKey !== undefined && trust.list.standing(peerKey) === 'revoked' ? { ok: false, status: 403, reason: 'key revoked' } : { ok: true }),
    acceptServer: (peerKey) => peerKey === undefined || trust.list.standing(peerKey) !== 'revoked',
    // Talking to an unknown key is fine (the handshake proves who it is); our token is not.
    trustServer: (peerKey) => peerKey !== undefined && trust.list.standing(peerKey) === 'member',
  });
  const ae = new AntiEntropy({ source: engine, limits, timers, logger: log.child({ component: 'anti-entropy' }) });
  const book = await HoldsBook.open({
    store, self: store.nodeId, maxSkewMs: limits.maxClockSkewMs, now: () => timers.now(),
    trust: { cluster: trust.cluster, sign: (data) => trust.keys.sign(data), isMember: (node) => trust.list.memberByNode(node) !== undefined },
  });
  const peers = new Peers({
    engine, trust, transport, limits, timers, random: options.random ?? Math.random, randomBytes: bytes, logger: log.child({ component: 'sync' }), digests: ae,
    holds: book,
  });
  const antiEntropy = new AntiEntropyRunner({
    ae, sessions: () => peers.openSessions(), holdings: () => engine.holdings(), limits, timers, logger: log.child({ component: 'anti-entropy' }),
    intervalMs: antiEntropyInterval(options.antiEntropyIntervalMs),
  });
  const collector = await startTombstoneCollector({
    engine, store, holdings: () => peers.holdings(), members: () => trust.list.members().map((m) => m.node), self: store.nodeId,
    heardFrom: () => {
      const heard = new Map(trust.list.members().map((m) => [m.node as string, m.grantedAt]));
      for (const [node, at] of book.summary()) heard.set(node, Math.max(at, heard.get(node) ?? 0));
      for (const [node] of peers.holdings()) heard.set(node, timers.now());
      return heard;
    },
    book, share: (reports) => peers.shareHolds(reports), limits, timers, logger: log.child({ component: 'lifecycle' }),
  });
  const insecure = options.insecure === true && listen !== undefined && !isLoopback(listen.host) && !tls;
  if (insecure) log.warn({ host: listen!.host }, 'INSECURE: peers connect without TLS beyond loopback (--insecure)');
  const url = await peers.start(listen);
  for (const peer of new Set([...(options.peers ?? []), ...invitationPeers(options)])) peers.add(peer);
  antiEntropy.start();
  log.info({ url, peers: options.peers?.length ?? 0 }, 'node started');
  // In the background: a data directory from before the conflict index is indexed while writes go on.
  const indexing = startConflictIndexing((signal) => engine.indexConflicts(signal), log.child({ component: 'engine' }));
  return buildNode({ store, engine, trust, peers, antiEntropy, transport, insecure, limits, timers, url, log, erasure: erasure.api, lifecycleIdle: async () => { await collector.stop(); await erasure.idle(); }, lifecycle: collector.status, stopIndexing: indexing.stop, assertOpen, markClosed: () => { closed = true; } });
}

/** The background anti-entropy interval: the default, or a whole number of ms >= 0 (0 disables). */
function antiEntropyInterval(value: number | undefined): number {
  if (value === undefined) return DEFAULT_ANTI_ENTROPY_INTERVAL_MS;
  if (!Number.isSafeInteger(value) || value < 0) throw new CrmsyncError('ERR_VALIDATION', `antiEntropyIntervalMs must be a whole number of ms >= 0 (0 disables), got ${String(value)}`);
  return value;
}

/** This node's identity and membership, as status reports it. */
function identityOf(trust: TrustService, nodeId: NodeId): NodeStatus['identity'] {
  const self = trust.list.memberByKey(trust.keys.publicKey);
  return {
    nodeId, key: trust.keys.fingerprint, role: self?.role ?? null, admin: trust.list.isAdmin(trust.keys.fingerprint),
    cluster: trust.cluster, founder: trust.list.founder,
  };
}

/** True for a host name or address that never leaves this machine. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host);
}

/**
 * The peer port's TLS: a node listening beyond loopback uses TLS unless told it may not
 * (`insecure`), with a self-signed certificate bound to its key by default.
 */
async function tlsFor(options: NodeOptions, listen: { host: string } | undefined, trust: TrustService, nodeId: string): Promise<TlsOptions | undefined> {
  const wanted = options.tls ?? (listen && !isLoopback(listen.host) ? 'self-signed' : false);
  if (wanted === false) {
    if (listen && !isLoopback(listen.host) && !options.insecure && !options.transport) {
      throw new CrmsyncError('ERR_VALIDATION', `refusing to listen on ${listen.host} without TLS: peers beyond loopback need wss:// (remove tls: false, or pass insecure: true for a test rig)`);
    }
    return undefined;
  }
  if (wanted !== 'self-signed') return wanted;
  return { key: trust.keys.privateKeyPem, cert: await createNodeCertificate(trust.keys.privateKeyPem, nodeId) };
}

async function levelAt(dataDir: string | undefined): Promise<Level<string, Uint8Array>> {
  if (!dataDir) throw new TypeError('openNode needs `dataDir` or `db`');
  // Customer data: owner-only (an existing directory keeps its mode).
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  return new Level<string, Uint8Array>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'view', blockSize: LEVELDB_BLOCK_BYTES });
}

interface Parts {
  store: LevelStore;
  engine: Engine;
  trust: TrustService;
  peers: Peers;
  antiEntropy: AntiEntropyRunner;
  transport: Transport;
  insecure: boolean;
  limits: Limits;
  timers: Timers;
  url: string | null;
  log: Logger;
  erasure: ErasureApi;
  /** Stops tombstone collection; resolves when no erasure or collection is running. */
  lifecycleIdle: () => Promise<void>;
  lifecycle: () => LifecycleStatus;
  /** Stops the conflict index migration between two pages; resolves when it no longer runs. */
  stopIndexing: () => Promise<void>;
  assertOpen: () => void;
  markClosed: () => void;
}

function buildNode({ store, engine, trust, peers, antiEntropy, transport, insecure, limits, timers, url, log, erasure, lifecycleIdle, lifecycle, stopIndexing, assertOpen, markClosed }: Parts): CrmNode {
  let closed = false;
  const readFeed = (after: number, limit: number) => store.readLog(after + 1, Math.min(Math.max(1, limit), limits.maxFeedEntries), limits.maxFeedBytes);
  return {
    id: store.nodeId,
    url,
    records: createRecordsApi(engine, store, limits, assertOpen, erasure),
    trust: createTrustApi(trust, { self: store.nodeId, clock: () => store.clock, now: () => timers.now(), assertOpen }),
    onChange: (listener) => engine.onChange(listener),
    async status() {
      assertOpen();
      const counts = store.recordCounts();
      return {
        nodeId: store.nodeId, url, clock: clockRecord(seqsOf(store.clock)),
        records: { live: counts.live, deleted: counts.deleted, indexBacklog: store.indexBacklog() }, storage: store.batchWrites(),
        conflicted: counts.conflicted, peers: peers.status(),
        cache: engine.cacheStats(), lastLocalSeq: store.lastLocalSeq, rejectedConnections: peers.rejected, unknownMessages: peers.unknownMessages,
        identity: identityOf(trust, store.nodeId), insecure,
        refused: { connections: { ...transport.stats().refused }, handshakes: Object.fromEntries(peers.refusedHandshakes) },
        rejectedEntries: Object.fromEntries(peers.rejectedEntries), quarantinedChanges: peers.quarantined,
        mergePolicies: { digest: engine.policies, rules: { ...engine.mergePolicies } },
        antiEntropy: antiEntropy.status(),
        holding: { subscription: viewOf(engine.subscription()), scope: viewOf(ownScope(trust)), complete: engine.coveredOnly() === undefined },
        lifecycle: { ...lifecycle(), erasures: trust.list.erasureCount },
      };
    },
    async verify(options = {}) {
      assertOpen();
      return engine.verify({ repair: options.repair ?? false });
    },
    async verifyPeer(node) {
      assertOpen();
      return antiEntropy.run(node);
    },
    async getState<T>(key: string) {
      assertOpen();
      return store.getState<T>(key);
    },
    async exportEntries(after, limit) {
      assertOpen();
      return readFeed(after, limit);
    },
    async importEntries(entries) {
      assertOpen();
      const result = await engine.ingest(entries, RESTORE_SOURCE);
      return { accepted: result.accepted, quarantined: result.quarantined, gap: result.gap, untrusted: result.untrusted };
    },
    exportFloors() {
      assertOpen();
      return { logStart: store.logStart, floors: engine.floorsBelow(new Map()) };
    },
    async exportDocuments(after, limit) {
      assertOpen();
      const docs: { id: RecordId; doc: Uint8Array }[] = [];
      // A page whose records all went meanwhile (erased) must not read as the end: read on.
      for (let from = after; docs.length === 0;) {
        const ids = await engine.recordIds(from, Math.min(Math.max(1, limit), limits.batchChanges));
        if (ids.length === 0) break;
        for (const id of ids) {
          const doc = await engine.recordDocument(id);
          if (doc) docs.push({ id, doc });
        }
        from = ids.at(-1);
      }
      return docs;
    },
    async importDocuments(docs) {
      assertOpen();
      let adopted = 0;
      for (const { id, doc } of docs) {
        const result = await engine.adopt(parseRecordId(id), doc, RESTORE_SOURCE);
        if (result === 'adopted' || result === 'partial') adopted++;
      }
      return { adopted };
    },
    async importFloors(floors) {
      assertOpen();
      // applyBase checks every floor first: a backup with one forged floor raises nothing.
      const result = await engine.applyBase(floors, RESTORE_SOURCE);
      if (result.forged.length > 0) throw new CrmsyncError('ERR_SIGNATURE', `floors of origins ${result.forged.slice(0, 5).join(', ')} are not signed by those origins' keys: the backup was altered`);
      return { raised: result.raised.length, refused: result.refused };
    },
    exportTrust() {
      assertOpen();
      return trust.statements();
    },
    async importTrust(statements) {
      assertOpen();
      return { added: await importStatements(trust, statements, RESTORE_SOURCE) };
    },
    async changesSince(after, limit = 1000) {
      assertOpen();
      const entries = await readFeed(after, limit);
      // Stubs of records never held here are no part of the feed; evicted ones say so.
      return entries.filter((e) => e.digest === undefined || e.evicted).map((e) => ({
        localSeq: e.localSeq, id: e.record, origin: e.origin, time: e.time, ...(e.evicted ? { evicted: true as const } : {}),
      }));
    },
    addPeer(peerUrl, options = {}) {
      assertOpen();
      peers.add(peerUrl, options.node === undefined ? undefined : parseNodeId(options.node));
    },
    removePeer: (peerUrl) => peers.remove(peerUrl),
    async subscribe(subscription) {
      assertOpen();
      const evicted = await applySubscription(engine, trust, parseSubscription(subscription));
      peers.resubscribe();
      log.info({ evicted, territories: subscription?.territories?.length ?? null, owners: subscription?.owners?.length ?? null }, 'subscription changed');
      return { evicted };
    },
    async close() {
      if (closed) return;
      closed = true;
      markClosed();
      // Each step runs even if an earlier one failed: a failing transport must not leave
      // the store open (and its directory locked) or pending writes unflushed.
      const failures: unknown[] = [];
      const step = async (name: string, fn: () => Promise<void> | void) => {
        try {
          await fn();
        } catch (err) {
          log.error({ err, step: name }, 'close step failed');
          failures.push(err);
        }
      };
      await step('anti-entropy', () => antiEntropy.stop());
      await step('peers', () => peers.stop());
      await step('lifecycle', () => lifecycleIdle());
      await step('conflict index', () => stopIndexing());
      await step('engine', () => engine.drain());
      await step('documents', () => engine.close());
      await step('store', () => store.close());
      log.info('node stopped');
      if (failures.length > 0) throw failures[0];
    },
  };
}
