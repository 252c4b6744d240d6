/**
 * Prometheus metrics of one API server, on a Registry of its own (never prom-client's
 * global default registry, so two servers in one process do not share or clash).
 * Node-level gauges are read from one `node.status()` per scrape; change counters and
 * the sync-latency histogram are fed by `node.onChange`.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CrmNode, NodeStatus, PeerStatus, RecordChangeEvent } from '../index.js';

/** Latency buckets (seconds): sub-second on a LAN up to an hour for a laptop that was offline. */
export const SYNC_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** The metrics of one server. */
export interface ApiMetrics {
  /** Content-Type of the exposition format. */
  readonly contentType: string;
  /** Refreshes the node gauges and renders every metric. */
  scrape(): Promise<string>;
  /** Stops listening to the node and drops every metric. */
  close(): void;
}

interface PeerTotals {
  connected: number;
  lagChanges: number;
  lagSeconds: number;
  bytes: { in: number; out: number };
  changes: { in: number; out: number };
}

/** Creates the registry and subscribes to the node's changes. */
export function createMetrics(node: CrmNode): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });

  const m = {
    records: gauge('crmsync_records', 'Records stored on this node by state.', ['state']),
    conflicted: gauge('crmsync_conflicted_records', 'Records holding at least one field with concurrent values.'),
    clock: gauge('crmsync_clock', 'Version vector: highest change sequence held per origin node.', ['origin']),
    peerConnected: gauge('crmsync_peer_connected', '1 when a sync session with the peer is open.', ['peer']),
    peerLagChanges: gauge('crmsync_peer_lag_changes', 'Changes this node holds that the peer lacks.', ['peer']),
    peerLagSeconds: gauge('crmsync_peer_lag_seconds', 'Seconds the peer has been behind this node.', ['peer']),
    peerBytes: counter('crmsync_peer_bytes_total', 'Bytes exchanged with the peer in the current session.', ['peer', 'direction']),
    peerChanges: counter('crmsync_peer_changes_total', 'Changes exchanged with the peer in the current session.', ['peer', 'direction']),
    rejected: counter('crmsync_rejected_connections_total', 'Peer connections closed for invalid or oversized frames.'),
    unknownMessages: counter('crmsync_unknown_messages_total', 'Frames of message kinds this version does not know, ignored (versioning policy).'),
    refused: counter('crmsync_refused_connections_total', 'Peer connections refused, by stage (connection: before a socket; handshake) and reason.', ['stage', 'reason']),
    rejectedEntries: counter('crmsync_rejected_entries_total', 'Peer sessions closed because entries failed verification, by reason (signature, forked, unauthorized-origin).', ['reason']),
    quarantined: counter('crmsync_quarantined_changes_total', 'Changes received that failed verification: stored and relayed, never applied.'),
    aeRuns: counter('crmsync_anti_entropy_runs_total', 'Anti-entropy exchanges run (background and on demand), by result (ok, failed).', ['result']),
    aeLast: gauge('crmsync_anti_entropy_last', 'The last completed anti-entropy exchange: records differing, repaired and remaining, round trips, records compared.', ['peer', 'value']),
    aeLastTime: gauge('crmsync_anti_entropy_last_timestamp_seconds', 'When the last completed anti-entropy exchange started.', ['peer']),
    aeRefused: counter('crmsync_anti_entropy_refused_requests_total', "Peers' digest requests refused (busy, or over the rate limit)."),
    insecure: gauge('crmsync_insecure', '1 when the node listens beyond loopback without TLS (--insecure).'),
    cacheSize: gauge('crmsync_doc_cache_size', 'Record documents held in memory.'),
    indexBacklog: gauge('crmsync_index_backlog_records', 'Created records whose index keys are not written yet (written when writes pause, and before any index scan: a filtered listing, a search).'),
    storageBatches: counter('crmsync_storage_batches_total', 'Batches of the commit queue written to LevelDB, by kind: commit (records, changes, clock; fsynced before anyone hears of them) and index (waiting index keys alone, not fsynced).', ['kind']),
    storageSeconds: counter('crmsync_storage_batch_seconds_total', 'Seconds from handing those batches to LevelDB until the node saw them written (a commit\'s fsync included): its rate over the batches\' rate is the mean time a batch of that kind waited.', ['kind']),
    cacheHits: counter('crmsync_doc_cache_hits_total', 'Document cache hits.'),
    cacheMisses: counter('crmsync_doc_cache_misses_total', 'Document cache misses.'),
    cacheEvictions: counter('crmsync_doc_cache_evictions_total', 'Documents evicted from the cache.'),
    changes: counter('crmsync_changes_total', 'Record changes that became durable, by where they were made.', ['source']),
    latency: new Histogram({
      name: 'crmsync_sync_latency_seconds',
      help: 'Time from a change being made on its origin node to it being durable here (remote changes).',
      buckets: SYNC_LATENCY_BUCKETS,
      registers,
    }),
  };
  // Both label values exist from the start, so a fresh node exports zeros instead of nothing.
  m.changes.inc({ source: 'local' }, 0);
  m.changes.inc({ source: 'remote' }, 0);

  const unsubscribe = node.onChange((event: RecordChangeEvent) => {
    m.changes.inc({ source: event.source });
    if (event.source === 'remote') m.latency.observe(Math.max(0, Date.now() - event.time) / 1000);
  });

  // Counters read from status() are totals kept by the engine: reset, then set to them.
  const setCounter = <L extends string>(c: Counter<L>, value: number, labels?: Partial<Record<L, string>>) => {
    if (labels) c.inc(labels, value);
    else c.inc(value);
  };

  const refresh = (status: NodeStatus) => {
    m.records.set({ state: 'live' }, status.records.live);
    m.records.set({ state: 'deleted' }, status.records.deleted);
    m.conflicted.set(status.conflicted);
    m.clock.reset();
    for (const [origin, seq] of Object.entries(status.clock)) m.clock.set({ origin }, seq);
    for (const c of [m.peerConnected, m.peerLagChanges, m.peerLagSeconds]) c.reset();
    for (const c of [m.peerBytes, m.peerChanges, m.rejected, m.unknownMessages, m.cacheHits, m.cacheMisses, m.cacheEvictions, m.refused, m.rejectedEntries, m.quarantined, m.storageBatches, m.storageSeconds]) c.reset();
    for (const [peer, t] of peerTotals(status.peers)) {
      m.peerConnected.set({ peer }, t.connected);
      m.peerLagChanges.set({ peer }, t.lagChanges);
      m.peerLagSeconds.set({ peer }, t.lagSeconds);
      for (const direction of ['in', 'out'] as const) {
        setCounter(m.peerBytes, t.bytes[direction], { peer, direction });
        setCounter(m.peerChanges, t.changes[direction], { peer, direction });
      }
    }
    setCounter(m.rejected, status.rejectedConnections);
    for (const [stage, counts] of [['connection', status.refused.connections], ['handshake', status.refused.handshakes]] as const) {
      for (const [reason, n] of Object.entries(counts)) setCounter(m.refused, n, { stage, reason });
    }
    for (const [reason, n] of Object.entries(status.rejectedEntries)) setCounter(m.rejectedEntries, n, { reason });
    setCounter(m.quarantined, status.quarantinedChanges);
    refreshAntiEntropy(m, status.antiEntropy, setCounter);
    m.insecure.set(status.insecure ? 1 : 0);
    setCounter(m.unknownMessages, status.unknownMessages);
    m.cacheSize.set(status.cache.size);
    m.indexBacklog.set(status.records.indexBacklog);
    for (const kind of ['commit', 'index'] as const) {
      setCounter(m.storageBatches, status.storage[kind].batches, { kind });
      setCounter(m.storageSeconds, status.storage[kind].seconds, { kind });
    }
    setCounter(m.cacheHits, status.cache.hits);
    setCounter(m.cacheMisses, status.cache.misses);
    setCounter(m.cacheEvictions, status.cache.evictions);
  };

  return {
    contentType: registry.contentType,
    async scrape() {
      refresh(await node.status());
      return registry.metrics();
    },
    close() {
      unsubscribe();
      registry.clear();
    },
  };
}

/** The anti-entropy metrics from status (the last result's values as one gauge with a `value` label). */
function refreshAntiEntropy(
  m: { aeRuns: Counter<'result'>; aeLast: Gauge<'peer' | 'value'>; aeLastTime: Gauge<'peer'>; aeRefused: Counter },
  ae: NodeStatus['antiEntropy'],
  setCounter: <L extends string>(c: Counter<L>, value: number, labels?: Partial<Record<L, string>>) => void,
): void {
  for (const c of [m.aeRuns, m.aeRefused]) c.reset();
  for (const g of [m.aeLast, m.aeLastTime]) g.reset();
  setCounter(m.aeRuns, ae.runs - ae.failures, { result: 'ok' });
  setCounter(m.aeRuns, ae.failures, { result: 'failed' });
  setCounter(m.aeRefused, ae.refusedRequests);
  const last = ae.last;
  if (!last) return;
  const values = { differing: last.differing, repaired: last.repaired, remaining: last.remaining, round_trips: last.roundTrips, compared: last.compared };
  for (const [value, n] of Object.entries(values)) m.aeLast.set({ peer: last.peer, value }, n);
  m.aeLastTime.set({ peer: last.peer }, last.at / 1000);
}

/**
 * One row per peer, labelled by node id when known (else by URL). A dialed peer and an
 * inbound connection from the same node can both be listed: connected and lag take the
 * maximum, traffic adds up.
 */
function peerTotals(peers: PeerStatus[]): Map<string, PeerTotals> {
  const totals = new Map<string, PeerTotals>();
  for (const p of peers) {
    const label = p.node ?? p.url ?? 'unknown';
    const t = totals.get(label) ?? { connected: 0, lagChanges: 0, lagSeconds: 0, bytes: { in: 0, out: 0 }, changes: { in: 0, out: 0 } };
    t.connected = Math.max(t.connected, p.state === 'connected' ? 1 : 0);
    t.lagChanges = Math.max(t.lagChanges, p.behind);
    t.lagSeconds = Math.max(t.lagSeconds, p.lagSeconds);
    t.bytes.in += p.stats?.bytesIn ?? 0;
    t.bytes.out += p.stats?.bytesOut ?? 0;
    t.changes.in += p.stats?.changesIn ?? 0;
    t.changes.out += p.stats?.changesOut ?? 0;
    totals.set(label, t);
  }
  return totals;
}
