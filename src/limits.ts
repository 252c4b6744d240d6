/**
 * Every limit in one place. Each constant names the resource it protects; each can be
 * overridden through `NodeOptions.limits`; each has a row in the README's Limits table.
 */
export interface Limits {
  /** Largest WebSocket frame accepted from a peer (bytes). Protects memory and the event loop. */
  maxFrameBytes: number;
  /** Target size of one catch-up batch on the wire (bytes). Bounds memory per send. */
  batchBytes: number;
  /** Most changes in one catch-up batch. Bounds the size of one atomic LevelDB batch. */
  batchChanges: number;
  /** Socket buffer level (bytes) above which a sender waits for drain. Backpressure. */
  sendHighWaterBytes: number;
  /** Live Automerge documents held in memory; evicted documents are freed. Bounds wasm memory. */
  docCacheSize: number;
  /** Incremental chunks stored per record before the document is compacted into one snapshot. */
  maxDocChunks: number;
  /** Recently appended changes kept in memory so live pushes do not read LevelDB. */
  logTailSize: number;
  /** Most local writes committed in one group-commit batch. Bounds one fsync's batch. */
  groupCommitMax: number;
  /** First reconnect delay (ms). */
  reconnectBaseMs: number;
  /** Reconnect delay cap (ms): backoff never grows beyond it. */
  reconnectMaxMs: number;
  /** Heartbeat interval (ms); a peer silent for two intervals is considered dead. */
  heartbeatMs: number;
  /** Time (ms) without an ack for sent changes before they are sent again. */
  ackTimeoutMs: number;
  /** Time (ms) a connection may take to complete the handshake. */
  handshakeTimeoutMs: number;
  /** Most records returned by one list page. */
  maxPageSize: number;
}

/** Defaults, sized for a 2-core machine holding ~10^5 records. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: 4 * 1024 * 1024,
  batchBytes: 256 * 1024,
  batchChanges: 1024,
  sendHighWaterBytes: 1024 * 1024,
  docCacheSize: 1000,
  maxDocChunks: 8,
  logTailSize: 4096,
  groupCommitMax: 512,
  reconnectBaseMs: 100,
  reconnectMaxMs: 30_000,
  heartbeatMs: 10_000,
  ackTimeoutMs: 15_000,
  handshakeTimeoutMs: 10_000,
  maxPageSize: 1000,
});

/** Merges user overrides over the defaults, rejecting nonsense values. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new TypeError(`limits.${key} must be a positive number, got ${String(value)}`);
    }
  }
  return limits;
}
