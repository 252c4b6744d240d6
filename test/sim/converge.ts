/**
 * The end of a simulated run: heal the network, bring every node back, deliver
 * everything FIFO without loss and let timers fire until the cluster is quiet; then
 * read each node's complete observable state for comparison.
 */
import { listAll } from '../support/records.js';
import type { FieldConflict, RecordView } from '../../src/index.js';
import { packetType, type SimCluster } from './cluster.js';

/** Everything a node exposes about its replicated data. */
export interface NodeSnapshot {
  clock: Record<string, number>;
  counts: { live: number; deleted: number };
  conflicted: number;
  /** All records including deleted ones, read page by page. */
  records: RecordView[];
  conflicts: Record<string, FieldConflict[]>;
  /** Per record: history length, and its entries as sorted `node:seq:hash` (log order differs per node). */
  historyLength: Record<string, number>;
  history: Record<string, string[]>;
}

/** How the final phase went. */
export interface ConvergeReport {
  converged: boolean;
  /** Virtual ms the final phase took. */
  elapsedMs: number;
  deliveries: number;
  /** Why it did not converge (clocks per node), when it did not. */
  reason?: string;
}

/** Reads node i's complete state through the public API. */
export async function snapshot(cluster: SimCluster, i: number, pageSize = 3): Promise<NodeSnapshot> {
  const node = cluster.node(i);
  const status = await node.status();
  const records = await listAll(node, pageSize);
  const snap: NodeSnapshot = {
    clock: status.clock, counts: { live: status.records.live, deleted: status.records.deleted }, conflicted: status.conflicted, records,
    conflicts: {}, historyLength: {}, history: {},
  };
  for (const record of records) {
    snap.conflicts[record.id] = await node.records.conflicts(record.id);
    const history = await node.records.history(record.id, { limit: 10_000 });
    snap.historyLength[record.id] = history.length;
    snap.history[record.id] = history.map((h) => `${h.node}:${h.seq}:${h.hash}`).sort();
  }
  return snap;
}

/** The first open session whose node believes one side still lacks changes, if any. */
async function busySession(cluster: SimCluster): Promise<string | undefined> {
  for (const i of cluster.up()) {
    for (const peer of (await cluster.node(i).status()).peers) {
      if (peer.state === 'connected' && (peer.behind > 0 || peer.ahead > 0)) {
        return `n${i} sees ${peer.node ?? peer.url} behind ${peer.behind}, ahead ${peer.ahead}`;
      }
    }
  }
  return undefined;
}

async function clocks(cluster: SimCluster): Promise<string[]> {
  const out: string[] = [];
  for (const i of cluster.up()) out.push(JSON.stringify((await cluster.node(i).status()).clock));
  return out;
}

/**
 * Heals every partition, restarts every stopped node, then alternates "deliver all
 * in-flight packets oldest first" with "advance virtual time by one tick" until all
 * clocks are equal, no open session believes either side lacks changes, nothing is in
 * flight, and no changes or resyncs moved for a whole quiet window (two ack timeouts:
 * long enough for any unacked batch to be resent).
 */
export async function converge(cluster: SimCluster, options: { maxMs?: number; maxDeliveries?: number } = {}): Promise<ConvergeReport> {
  const start = cluster.timers.now();
  for (const [a, b] of cluster.partitioned()) cluster.heal(a, b);
  for (const i of cluster.down()) await cluster.start(i);
  await cluster.settle();
  const ack = cluster.limits.ackTimeoutMs!;
  const tickMs = Math.max(50, Math.min(ack, cluster.limits.handshakeTimeoutMs!) / 4);
  const quietMs = 2 * ack + tickMs;
  const maxMs = options.maxMs ?? 120_000;
  const maxDeliveries = options.maxDeliveries ?? 20_000;
  let deliveries = 0;
  let busyAt = cluster.timers.now();
  let busy: string | undefined;
  while (cluster.timers.now() - start <= maxMs) {
    while (cluster.network.pendingCount > 0) {
      if (++deliveries > maxDeliveries) return report(false, `more than ${maxDeliveries} deliveries (a livelock?)`);
      const type = packetType(cluster.network.inFlight[0]!);
      if (type === 'changes' || type === 'resync') busyAt = cluster.timers.now();
      await cluster.deliver(0);
    }
    const seen = await clocks(cluster);
    busy = new Set(seen).size > 1 ? 'clocks differ' : await busySession(cluster);
    if (busy) busyAt = cluster.timers.now();
    else if (cluster.timers.now() - busyAt >= quietMs) return report(true);
    await cluster.advance(tickMs);
  }
  return report(false, `after ${maxMs} virtual ms: ${busy ?? 'changes still moving'}; clocks ${(await clocks(cluster)).join(' | ')}`);

  function report(converged: boolean, reason?: string): ConvergeReport {
    return { converged, elapsedMs: cluster.timers.now() - start, deliveries, ...(reason ? { reason } : {}) };
  }
}
