/**
 * The sync phases that need more than one call: P3 (edit propagation), P4 (offline
 * edits on both sides, reconnect, convergence check) and P5 (idle reconnect).
 */
import type { NodeStatus, RecordView } from '../src/index.js';
import { editsOn, recordId, uniqueValue, type Edit } from './data.js';
import type { Agent } from './ipc.js';

/** The two nodes: B dials A at `aUrl`. */
export interface Pair {
  A: Agent;
  B: Agent;
  aUrl: string;
  n: number;
}

/** Bytes A→B and B→A, read from B's session with A. */
export interface Wire {
  ab: number;
  ba: number;
}

/** The wire counters of B's current session with A (zeros if none). */
export function wireOf(status: NodeStatus, aUrl: string): Wire {
  const row = status.peers.find((p) => p.url === aUrl && p.stats);
  return { ab: row?.stats?.bytesIn ?? 0, ba: row?.stats?.bytesOut ?? 0 };
}

/** b - a, for two wire readings of the same session. */
export function wireDelta(a: Wire, b: Wire): Wire {
  return { ab: b.ab - a.ab, ba: b.ba - a.ba };
}

/** P3a: edits as fast as A takes them, until all are visible at B. P3b: paced edits. */
export async function editPropagation({ A, B, aUrl, n }: Pair, count: number, paced: number, intervalMs: number) {
  const before = wireOf(await B.call('status'), aUrl);
  const burst = editsOn(n, count, 0, Math.max(1, Math.floor(n / count)), 'title', 'p3');
  await B.call('watchEdits', { edits: burst });
  // Each edit awaited before the next, the way an application edits (issue 9).
  const sent = await A.call<{ startAt: number; ms: number; ackAt: number[] }>('edits', { edits: burst, concurrency: 1 });
  const seen = await B.call<{ visibleAt: number[]; missing: number }>('waitEdits', { timeoutMs: 60_000 });
  const burstMs = Math.max(...seen.visibleAt) - sent.startAt;
  const burstWire = wireDelta(before, wireOf(await B.call('status'), aUrl));

  const slow = editsOn(n, paced, 1, Math.max(1, Math.floor(n / paced)), 'phone', 'p3p');
  await B.call('watchEdits', { edits: slow });
  const acked = await A.call<{ ackAt: number[]; startAt: number[] }>('paced', { edits: slow, intervalMs });
  const vis = await B.call<{ visibleAt: number[]; missing: number }>('waitEdits', { timeoutMs: 30_000 });
  // From the start of the edit call on A to the change being durable and readable on B.
  const latencies = slow.map((_, k) => (vis.visibleAt[k]! > 0 ? vis.visibleAt[k]! - acked.startAt[k]! : NaN)).filter(Number.isFinite);
  const after = wireOf(await B.call('status'), aUrl);
  return {
    acceptMs: sent.ms, burstMs, burstMissing: seen.missing, burstWire,
    latencies, pacedMissing: vis.missing, pacedWire: wireDelta(before, after),
  };
}

/** Takes B offline (B stops dialing A) and waits until neither side has a session. */
export async function disconnect({ A, B, aUrl }: Pair): Promise<void> {
  await B.call('removePeer', { url: aUrl });
  await Promise.all([A.call('waitNoSession', { timeoutMs: 10_000 }), B.call('waitNoSession', { timeoutMs: 10_000 })]);
}

/** Reconnects and waits until both sides have an open session with 0 behind / 0 ahead. */
export async function reconnect({ A, B, aUrl }: Pair, timeoutMs: number, everyMs: number) {
  const aSettled = A.call<{ at: number; status: NodeStatus }>('waitSettled', { timeoutMs, everyMs });
  const { at } = await B.call<{ at: number }>('addPeer', { url: aUrl });
  const bSettled = B.call<{ at: number; status: NodeStatus }>('waitSettled', { timeoutMs, everyMs });
  const [a, b] = await Promise.all([aSettled, bSettled]);
  return { ms: Math.max(a.at, b.at) - at, startAt: at, a: a.status, b: b.status };
}

const sameClock = (a: NodeStatus, b: NodeStatus) => stable(a.clock) === stable(b.clock);

/** JSON with sorted keys, so equal views compare equal whatever their key order. */
export function stable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1))) : v);
}

/** P4: both offline, 1,000 edits each (half on shared records), reconnect, converge, verify. */
export async function offlineEdits(pair: Pair, perSide: number, log: (msg: string) => void = () => undefined) {
  const { A, B, n } = pair;
  await disconnect(pair);
  const shared = perSide / 2;
  const stride = Math.max(1, Math.floor(n / (perSide * 1.5)));
  const pos = (j: number) => recordId((j * stride + 5) % n);
  const edit = (j: number, field: Edit['field'], tag: string): Edit => ({ id: pos(j), field, value: uniqueValue(field, tag, j) });
  const sameField = Math.floor(shared / 2);
  const aEdits: Edit[] = [];
  const bEdits: Edit[] = [];
  for (let j = 0; j < shared; j++) {
    aEdits.push(edit(j, j < sameField ? 'title' : 'phone', 'p4a'));
    bEdits.push(edit(j, j < sameField ? 'title' : 'owner', 'p4b'));
  }
  for (let j = shared; j < perSide; j++) aEdits.push(edit(j, 'company', 'p4a'));
  for (let j = perSide; j < perSide + (perSide - shared); j++) bEdits.push(edit(j, 'company', 'p4b'));
  const [wa, wb] = await Promise.all([
    A.call<{ ms: number }>('edits', { edits: aEdits, concurrency: 64 }),
    B.call<{ ms: number }>('edits', { edits: bEdits, concurrency: 64 }),
  ]);

  log('P4: reconnecting');
  const joined = await reconnect(pair, 60_000, 5); // status() polls cost CPU: 5 ms grain
  let convergeMs = joined.ms;
  let statusA = joined.a;
  let statusB = joined.b;
  while (!sameClock(statusA, statusB)) { // settled should imply equal clocks; poll if it did not
    [statusA, statusB] = await Promise.all([A.call<NodeStatus>('status'), B.call<NodeStatus>('status')]);
    convergeMs = performance.timeOrigin + performance.now() - joined.startAt;
    if (convergeMs > 60_000) break;
  }
  const wire = wireOf(statusB, pair.aUrl);
  log('P4: converged; verifying views');

  const ids = [...new Set([...aEdits, ...bEdits].map((e) => e.id))];
  const [va, vb] = await Promise.all([A.call<RecordView[]>('views', { ids }), B.call<RecordView[]>('views', { ids })]);
  const viewsAt = performance.timeOrigin + performance.now() - joined.startAt;
  const byId = (views: RecordView[]) => new Map(views.filter(Boolean).map((v) => [v.id as string, v as unknown as Record<string, unknown>]));
  const [ma, mb] = [byId(va), byId(vb)];
  const problems: string[] = [];
  const differing = ids.filter((id) => stable(ma.get(id)) !== stable(mb.get(id)));
  if (differing.length) problems.push(`${differing.length} touched records differ between A and B (e.g. ${differing[0]})`);
  const expect = (e: Edit, what: string) => {
    for (const [side, m] of [['A', ma], ['B', mb]] as const) {
      if (m.get(e.id)?.[e.field] !== e.value) problems.push(`${what} ${e.field}=${e.value} of ${e.id} lost on ${side}`);
    }
  };
  let conflictFlagged = 0;
  let aWins = 0;
  for (let j = 0; j < shared; j++) {
    const [ea, eb] = [aEdits[j]!, bEdits[j]!];
    if (j < sameField) {
      const value = ma.get(ea.id)?.title;
      if (value !== ea.value && value !== eb.value) problems.push(`${ea.id}: title ${String(value)} is neither side's value`);
      if (value === ea.value) aWins++;
      if ((ma.get(ea.id)?.conflicts as string[] | undefined)?.includes('title')) conflictFlagged++;
    } else {
      expect(ea, 'different-field edit');
      expect(eb, 'different-field edit');
    }
  }
  for (const e of [...aEdits.slice(shared), ...bEdits.slice(shared)]) expect(e, 'one-sided edit');
  return {
    offlineMs: Math.max(wa.ms, wb.ms), convergeMs, viewsMs: viewsAt, wire, clocksEqual: sameClock(statusA, statusB),
    touched: ids.length, sameField, differentField: shared - sameField, conflictFlagged, aWins,
    problems, pass: problems.length === 0 && sameClock(statusA, statusB),
  };
}

/** P5: reconnect when nothing changed: time to settled on both sides and bytes exchanged. */
export async function idleReconnect(pair: Pair) {
  await disconnect(pair);
  const joined = await reconnect(pair, 30_000, 1);
  const atSettle = wireOf(joined.b, pair.aUrl);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const later = wireOf(await pair.B.call('status'), pair.aUrl);
  return { ms: joined.ms, wire: atSettle, wireAfter500ms: later };
}
