/**
 * Every limit in one place. Each names the resource it protects and has a row in the
 * README's Limits table (test/limits.test.ts fails when the two disagree). Limits in
 * LIMIT_TABLE can be overridden through `NodeOptions.limits`; FIXED_LIMITS are part of
 * the wire protocol or the storage format and change only with a new version.
 */

/** How a limit is documented. */
export interface LimitDoc {
  /** The default value. */
  value: number;
  /** How the README shows the value. */
  unit: 'bytes' | 'ms' | 'count';
  /** What the limit protects, and what happens at it. */
  reason: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** Overridable limits: defaults sized for a 2-core machine holding ~10^5 records. */
export const LIMIT_TABLE = {
  maxFrameBytes: { value: 4 * MiB, unit: 'bytes', reason: "memory and the event loop, against a peer's large frames; a larger frame closes the connection with 1009" },
  // 64 KiB, not 256: the receiver holds a frame's decoded changes and new records until
  // its commit is queued, and V8's heap grows to fit. Measured on the bench's initial sync
  // of 10,000 records: B's RSS after it 183 to 186 MB (2 runs) instead of 222 to 259 MB
  // (6 runs), the same wall time, the sender about 100 ms more CPU (4 times the frames) and 1.8 MiB on the
  // wire instead of 1.7 (smaller frames deflate a little worse).
  batchBytes: { value: 64 * KiB, unit: 'bytes', reason: "target size of one catch-up batch on the wire: memory per send, and the receiver's memory while it applies one" },
  batchChanges: { value: 1024, unit: 'count', reason: "most changes in one catch-up batch: size of one atomic LevelDB batch on the receiver" },
  sendHighWaterBytes: { value: 1 * MiB, unit: 'bytes', reason: 'socket send buffer; above it the sender waits for drain' },
  // 16 batches of 64 KiB: the bytes in flight that 4 batches of 256 KiB were. A catch-up
  // is limited by the window once the round trip exceeds window x batchBytes divided by
  // what the receiver applies per second (about 3 MB/s of frames on the bench's machine):
  // past about 340 ms either way, where 4 of 64 KiB would already be past 85 ms (hotel
  // and airport networks, a VPN).
  sendWindowBatches: { value: 16, unit: 'count', reason: 'unacknowledged batches in flight per session (every frame of a split batch counts): receiver memory, and how long a round trip may be before it, not the receiver, limits a catch-up' },
  minDeflateFrameBytes: { value: 4 * KiB, unit: 'bytes', reason: 'smallest frame after the handshake sent deflated on its own to a peer that accepts it (frame-deflate.ts); a smaller one of up to 4 KiB goes deflated from the session dictionary (frame-dictionary.ts) to a peer that accepts that, since on its own it has too little to repeat; above maxFrameBytes, nothing is deflated' },
  maxInboxFrames: { value: 64, unit: 'count', reason: 'inbound frames queued per session before the peer is closed with 1008: memory, against a flooding peer' },
  docCacheSize: { value: 1000, unit: 'count', reason: 'live Automerge documents (wasm memory); evicted documents are freed' },
  maxDocChunks: { value: 8, unit: 'count', reason: 'changes after a record\'s snapshot before a write that has the document in hand compacts it into a new snapshot: load time' },
  maxPendingChanges: { value: 128, unit: 'count', reason: 'changes after a record\'s snapshot that writes which need no document may pile up before one loads the document to compact it: load time' },
  logTailSize: { value: 4096, unit: 'count', reason: 'recent log entries kept in memory so live pushes do not read LevelDB' },
  groupCommitMax: { value: 512, unit: 'count', reason: 'commits grouped into one fsynced batch' },
  signEveryEntries: { value: 64, unit: 'count', reason: "a node signs at least every this many of its own entries within one commit: the longest run a frame cannot cut" },
  maxErasures: { value: 100_000, unit: 'count', reason: 'erasure statements the trust list holds (kept forever, one hash each): memory; beyond it an erasure is refused with ERR_VALIDATION' },
  erasureScanPage: { value: 10_000, unit: 'count', reason: 'record ids one step of an erasure\'s scan reads (the record keys, then the history index, which also finds records held only as quarantined changes): memory of one step' },
  tombstoneRetentionMs: { value: 30 * 24 * 3600 * 1000, unit: 'ms', reason: 'a deleted record is kept (restorable) at least this long after its deletion, and until every member holds the delete; then it is collected' },
  logRetentionMs: { value: 30 * 24 * 3600 * 1000, unit: 'ms', reason: 'a log entry is kept at least this long after it was made, and until every member heard from within this period holds it; then it is truncated (a node away longer, or a new one, bootstraps from record documents)' },
  maxTruncatedPerPass: { value: 100_000, unit: 'count', reason: 'log entries one lifecycle pass truncates at most (in steps of truncateStepEntries, each one atomic batch): how long a pass runs' },
  truncateStepEntries: { value: 5_000, unit: 'count', reason: 'log entries one truncation step removes (one atomic batch, after compacting the records they touch): memory and the size of one batch' },
  lifecycleIntervalMs: { value: 60_000, unit: 'ms', reason: 'how often a node records what its connected peers hold, signs and passes on the holds reports of every member (one hop per pass), and collects the tombstones that became collectable (one pass scans the deleted records)' },
  maxTrustStatements: { value: 10_000, unit: 'count', reason: 'signed statements a trust list holds: memory, and the time to evaluate it' },
  reconnectBaseMs: { value: 100, unit: 'ms', reason: 'first reconnect delay (full jitter)' },
  reconnectMaxMs: { value: 30_000, unit: 'ms', reason: 'reconnect delay cap: backoff never grows beyond it' },
  heartbeatMs: { value: 10_000, unit: 'ms', reason: 'dead-peer detection: a peer that answers no ping for two intervals is closed with 4004 (data does not count)' },
  ackTimeoutMs: { value: 15_000, unit: 'ms', reason: 'resend from what the peer holds when acks stop coming' },
  handshakeTimeoutMs: { value: 10_000, unit: 'ms', reason: 'connections that never complete the handshake are closed with 4005' },
  connectTimeoutMs: { value: 10_000, unit: 'ms', reason: 'a dial (TCP connect and WebSocket upgrade) that takes longer fails' },
  closeTimeoutMs: { value: 5_000, unit: 'ms', reason: 'a closing handshake that takes longer destroys the socket' },
  maxConcurrentCatchUps: { value: 4, unit: 'count', reason: 'sessions streaming a catch-up from the log at once; the others wait in arrival order (status shows where), so memory stays bounded and the first laptops finish early' },
  catchUpThresholdChanges: { value: 4096, unit: 'count', reason: 'log positions a peer may be behind before sending to it counts as a catch-up (and needs a slot); live pushes never wait' },
  maxConnections: { value: 256, unit: 'count', reason: 'open peer connections, inbound and outbound (file descriptors, memory); beyond it upgrades get 503 and dials fail with ERR_BUSY' },
  maxConnectionsPerAddress: { value: 32, unit: 'count', reason: 'inbound connections from one IP address that have not proven membership yet (laptops behind one hotel NAT share it; members, once authenticated, count only towards maxConnections); beyond it upgrades get 429' },
  maxUnauthenticatedConnections: { value: 64, unit: 'count', reason: 'inbound connections whose handshake has not authenticated the peer yet; beyond it upgrades get 503' },
  maxPendingUpgrades: { value: 64, unit: 'count', reason: 'TCP sockets that have not completed the WebSocket upgrade (file descriptors, against half-open requests); beyond it the oldest is destroyed' },
  upgradeTimeoutMs: { value: 5_000, unit: 'ms', reason: 'time a TCP socket may take for the TLS handshake and the upgrade request; then it is destroyed' },
  maxInboundBytesPerConnection: { value: 8 * MiB, unit: 'bytes', reason: 'received bytes the owner has not processed yet, per connection: memory; above it the socket is not read (TCP backpressure)' },
  maxInboundBytesTotal: { value: 64 * MiB, unit: 'bytes', reason: 'received bytes not processed yet, all connections together: memory; above it no socket is read' },
  refusedLogIntervalMs: { value: 10_000, unit: 'ms', reason: 'log volume under a connection flood: one line per refusal reason per interval, with a count' },
  maxClockSkewMs: { value: 5 * 60_000, unit: 'ms', reason: "how far ahead of our wall clock a peer's change time may pull our hybrid logical clock: a machine with a wrong clock cannot drag every later edit into the future" },
  maxPageSize: { value: 1000, unit: 'count', reason: 'records per list page: memory and time of one call' },
  maxConflictPageSize: { value: 200, unit: 'count', reason: 'records one conflict-inbox page lists: memory and time of one call (the page reads stored views, never documents)' },
  maxHistoryEntries: { value: 10_000, unit: 'count', reason: 'history entries one call returns' },
  maxFeedEntries: { value: 10_000, unit: 'count', reason: 'log entries one changesSince / exportEntries call returns' },
  maxFeedBytes: { value: 16 * MiB, unit: 'bytes', reason: 'bytes one changesSince / exportEntries call reads' },
  verifyPageRecords: { value: 100, unit: 'count', reason: 'records verified per step; each step holds the write lock, so writes wait at most one step' },
  digestWindowMs: { value: 10_000, unit: 'ms', reason: "anti-entropy rate window per peer: at most maxDigestRequestsPerWindow digest requests, and one rescan of our holdings (about 3 s per 100,000 records) per window: within it a peer is served the snapshot already built" },
  maxDigestRequestsPerWindow: { value: 64, unit: 'count', reason: "digest requests one peer may make per digestWindowMs (an exchange needs about depth + 4): CPU, against a peer that loops over our digest" },
  digestSnapshotTtlMs: { value: 60_000, unit: 'ms', reason: 'how long a digest snapshot is reused while the log has not moved: memory (about 80 bytes per record) against rescans' },
  digestRequestTimeoutMs: { value: 60_000, unit: 'ms', reason: 'an anti-entropy request the peer has not answered by then fails the exchange' },
  antiEntropySettleMs: { value: 15_000, unit: 'ms', reason: 'how long a repair waits for changes in flight (one side behind the other) to arrive before it compares again' },
  conflictIndexPageRecords: { value: 500, unit: 'count', reason: 'records one step of the one-time conflict index migration reads (memory of one step; the write lock is held only to re-read the conflicted ones among them)' },
  maxReportedProblems: { value: 100, unit: 'count', reason: 'problems a verify report lists (all are counted)' },
} as const satisfies Record<string, LimitDoc>;

/** Limits fixed by the protocol or the storage format (not overridable). */
export const FIXED_LIMITS = {
  maxEntriesPerFrame: { value: 10_000, unit: 'count', reason: 'change entries one frame may carry (checked before any entry is validated)' },
  maxStagedFrames: { value: 2, unit: 'count', reason: "frames of one session queued for commit but not yet durable: the next frame is checked while one is written, and a peer that ignores the send window still holds at most this many in memory beside the inbox" },
  maxClockEntries: { value: 10_000, unit: 'count', reason: 'origins in one wire clock (a clock only ever names trust-list members)' },
  maxHoldingNames: { value: 100, unit: 'count', reason: 'territories (and owners) one subscription may name, as a trust-list scope may' },
  maxBootstrapTracked: { value: 100_000, unit: 'count', reason: 'record documents a subscriber notes per session as a bootstrap\'s (before `base`); beyond it, it asks the region about every record it holds instead of only those the bootstrap left out' },
  maxQueuedWants: { value: 4, unit: 'count', reason: '`want`s of one peer waiting for their answers (an honest peer asks again only once answered); beyond, the peer is closed with 1008' },
  maxWantIds: { value: 256, unit: 'count', reason: 'record ids one `want` may name, and a session keeps waiting to ask for (each answered with a whole document; the inbox limit bounds how many wants wait)' },
  maxProofStatements: { value: 16, unit: 'count', reason: 'trust statements a hello may carry to prove its key' },
  maxStatementsPerMessage: { value: 10_000, unit: 'count', reason: 'trust statements one trust message may carry' },
  maxHoldsReports: { value: 64, unit: 'count', reason: 'member holds reports one `holds` message may carry (each costs a signature check; a node sends more in several messages)' },
  maxHoldsKnown: { value: 10_000, unit: 'count', reason: 'members one `holds` summary (`known`) may name; a session answers one summary at most' },
  maxHoldsClockEntries: { value: 20_000, unit: 'count', reason: 'clock entries of all the reports of one `holds` message together (a node splits its reports to stay below it)' },
  maxHandshakeFrameBytes: { value: 64 * KiB, unit: 'bytes', reason: 'largest frame accepted before the peer proved its identity' },
  maxFrameValues: { value: 2 * 1024 * 1024, unit: 'count', reason: 'MessagePack values one frame may hold, counted before it is decoded: the time and memory decoding takes (a 4 MiB frame of empty maps would otherwise be four million objects)' },
  maxFrameContainers: { value: 65_536, unit: 'count', reason: 'maps and arrays one frame may hold, counted before it is decoded: the objects one frame makes the node allocate' },
  maxFrameDepth: { value: 32, unit: 'count', reason: 'nesting depth of a frame, checked before it is decoded' },
  maxHandshakeFrameValues: { value: 8192, unit: 'count', reason: 'MessagePack values (maps and arrays included) one frame may hold before the peer proved its identity' },
  maxEarlyFrames: { value: 1024, unit: 'count', reason: 'frames buffered before a connection has handlers; beyond it the connection is closed with 1008' },
  earlyFrameBytesFactor: { value: 4, unit: 'count', reason: 'bytes buffered before a connection has handlers, as a multiple of maxFrameBytes' },
  maxCloseReasonBytes: { value: 123, unit: 'bytes', reason: 'close reason length (RFC 6455: a close frame payload is at most 125 bytes)' },
  maxUpgradeHeaders: { value: 32, unit: 'count', reason: "headers parsed in a peer's upgrade request (our dialer sends 8)" },
  maxUpgradeHeaderBytes: { value: 8 * KiB, unit: 'bytes', reason: "size of a peer's upgrade request head: parser memory per socket" },
  maxRequestsPerSocket: { value: 1, unit: 'count', reason: 'HTTP requests on one peer-port socket: the port serves only the upgrade' },
  maxCertificateNameBytes: { value: 64, unit: 'bytes', reason: 'subject and issuer names of a node certificate (RFC 5280 ub-common-name)' },
  maxDigestPaths: { value: 64, unit: 'count', reason: 'digest tree nodes one anti-entropy request may name (and one response answer)' },
  maxDigestLeafRecords: { value: 64, unit: 'count', reason: 'records one digest node may hold to be listed by id; a fuller node is descended into instead' },
  maxDigestGroups: { value: 4096, unit: 'count', reason: 'territory groups one digest response may list; a node holding more territories refuses the exchange (refused: limit)' },
  maxDigestIds: { value: 256, unit: 'count', reason: 'record ids one anti-entropy compare or repair request may name (a repair loads each document)' },
  indexScanFactor: { value: 10, unit: 'count', reason: 'index keys one list page examines per record returned: time of one filtered listing' },
  maxTextTokens: { value: 48, unit: 'count', reason: 'search tokens indexed per record: index writes per change' },
  indexBacklog: { value: 20_000, unit: 'count', reason: 'created records whose index keys wait to be written while writes keep coming (store/index-backlog.ts): about 350 B of memory each (7 MB at the limit), and about 40 µs each for a filtered listing or search that must write them first (0.8 s at the limit, measured here), 42 to 56 µs each for a node opening after a stop (0.9 to 1.2 s); past it, each commit writes as many as it added' },
} as const satisfies Record<string, LimitDoc>;

/** The overridable limits of a node. */
export type Limits = { [K in keyof typeof LIMIT_TABLE]: number };

/** Defaults of every overridable limit. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze(
  Object.fromEntries(Object.entries(LIMIT_TABLE).map(([key, doc]) => [key, doc.value])) as Limits,
);

/** Values of the fixed limits. */
export const FIXED: { readonly [K in keyof typeof FIXED_LIMITS]: number } = Object.freeze(
  Object.fromEntries(Object.entries(FIXED_LIMITS).map(([key, doc]) => [key, doc.value])) as { [K in keyof typeof FIXED_LIMITS]: number },
);

/** Merges user overrides over the defaults, rejecting unknown names and nonsense values. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  for (const key of Object.keys(overrides)) {
    if (!(key in LIMIT_TABLE)) throw new TypeError(`unknown limit "${key}"; the limits are ${Object.keys(LIMIT_TABLE).join(', ')}`);
  }
  const limits: Limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new TypeError(`limits.${key} must be a positive number, got ${String(value)}`);
    }
  }
  return limits;
}
