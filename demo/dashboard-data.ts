/**
 * The data shaping behind the dashboard, as pure functions (no I/O, time passed in):
 * per-node health from the polled statuses (behind, unshared, last synced, offline
 * for), the verdict (converged / syncing / expected divergence / fault) and the
 * conflict rows. dashboard-reads.ts does the reading and keeps the tracks between polls.
 */
import type { ConflictValue, FieldConflict } from '../src/index.js';
import { peerViews, type EndState, type LinkReport, type NodeReport, type PeerView } from './convergence.js';
import { canonicalJson } from './protocol.js';
import { linkKey, type LinkSpec, type NodeSpec } from './topology.js';

/** How long linked, reachable nodes may differ (or an active link stay down) before it is a fault, not syncing. */
export const STUCK_AFTER_MS = 10_000;
/** The node API route that resolves a conflict (older engines lack it: then no button). */
export const RESOLVE_PATH = '/v1/customers/{id}/conflicts/{field}/resolve';

/** One peer row of a card: 'unknown' when the node itself did not answer. */
export type CardPeer = Omit<PeerView, 'state'> & { state: EndState | 'unknown'; active: boolean; kind: LinkSpec['kind'] };

/** One node card. Every number is null ("unknown") when the node did not answer. */
export interface NodeCard {
  name: string;
  role: string;
  label: string;
  pid: number | null;
  apiUrl: string;
  peerUrl: string;
  /** Laptops: whether their link is meant to be up. Regions: always true. */
  online: boolean;
  reachable: boolean;
  error: string | null;
  clock: Record<string, number> | null;
  records: { live: number; deleted: number } | null;
  conflicted: number | null;
  lastLocalSeq: number | null;
  /** Changes some other node holds that this one lacks. */
  behind: number | null;
  /** Changes of this node's own origin that no other node (that answered) holds yet. */
  unshared: number | null;
  /** Whether at least one peer session is connected. */
  connected: boolean | null;
  /** When the dashboard last saw it holding everything and having shared everything (null: not yet). */
  lastSyncedAt: number | null;
  /** Since when it has had no connected peer, or has not answered (null: connected). */
  offlineSince: number | null;
  peers: CardPeer[];
}

/** What the dashboard remembers about a node between polls. */
export interface NodeTrack {
  lastSyncedAt: number | null;
  offlineSince: number | null;
  /** Since when it has lacked changes that a node linked with it holds. */
  laggingSince: number | null;
}

/** Everything remembered between polls: per node, and when each active link went down. */
export interface Tracks {
  nodes: Record<string, NodeTrack>;
  linksDownSince: Record<string, number>;
}

/** A node outside the main group whose divergence is expected (offline, or cut off on purpose). */
export interface Lagging {
  node: string;
  unshared: number;
  behind: number;
  offlineSince: number | null;
}

/** The big indicator. */
export interface Verdict {
  level: 'converged' | 'syncing' | 'expected' | 'fault';
  word: string;
  headline: string;
  reasons: string[];
  lagging: Lagging[];
  clocksEqual: boolean;
  countsEqual: boolean;
  linksUp: boolean;
}

/** What a node card is built from besides its status. */
export interface MemberInfo {
  spec: NodeSpec;
  pid: number | null;
  apiUrl: string;
  peerUrl: string;
  online: boolean;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
const seconds = (ms: number) => `${Math.max(0, Math.round(ms / 1000))} s`;

/** Changes in `clock` below the per-origin maxima. */
function lacking(clock: Record<string, number>, maxima: Record<string, number>): number {
  return sum(Object.entries(maxima).map(([origin, max]) => Math.max(0, max - (clock[origin] ?? 0))));
}

/** Per-origin maximum over clocks. */
export function maxClock(clocks: Record<string, number>[]): Record<string, number> {
  const max: Record<string, number> = {};
  for (const clock of clocks) for (const [origin, seq] of Object.entries(clock)) max[origin] = Math.max(max[origin] ?? 0, seq);
  return max;
}

/** Builds the node cards and the node tracks of this poll. */
export function nodeCards(members: MemberInfo[], reports: NodeReport[], links: (LinkSpec & { active: boolean })[], nameOfUrl: (url: string) => string | undefined,
  previous: Record<string, NodeTrack>, now: number): { cards: NodeCard[]; tracks: Record<string, NodeTrack> } {
  const maxima = maxClock(reports.flatMap((r) => (r.status ? [r.status.clock] : [])));
  const tracks: Record<string, NodeTrack> = {};
  const cards = members.map((m, i): NodeCard => {
    const { status, error } = reports[i]!;
    const name = m.spec.name;
    const before = previous[name] ?? { lastSyncedAt: null, offlineSince: null, laggingSince: null };
    const views = status ? peerViews(status, nameOfUrl) : new Map<string, PeerView>();
    const peers = links.filter((l) => l.a === name || l.b === name).map((l): CardPeer => {
      const other = l.a === name ? l.b : l.a;
      const view = views.get(other) ?? { node: other, state: status ? 'none' as const : 'unknown' as const, direction: null, behind: 0, ahead: 0, lagSeconds: 0 };
      return { ...view, active: l.active, kind: l.kind };
    });
    const base = { name, role: m.spec.role, label: m.spec.label, pid: m.pid, apiUrl: m.apiUrl, peerUrl: m.peerUrl, online: m.online, peers };
    if (!status) {
      tracks[name] = { ...before, offlineSince: before.offlineSince ?? now };
      return {
        ...base, reachable: false, error: error ?? 'no answer', clock: null, records: null, conflicted: null, lastLocalSeq: null,
        behind: null, unshared: null, connected: null, lastSyncedAt: before.lastSyncedAt, offlineSince: tracks[name].offlineSince,
      };
    }
    const own = status.nodeId;
    const othersHold = Math.max(0, ...reports.filter((r, j) => j !== i && r.status).map((r) => r.status!.clock[own] ?? 0));
    const behind = lacking(status.clock, maxima);
    const unshared = Math.max(0, (status.clock[own] ?? 0) - othersHold);
    const connected = status.peers.some((p) => p.state === 'connected');
    tracks[name] = {
      lastSyncedAt: behind === 0 && unshared === 0 ? now : before.lastSyncedAt,
      offlineSince: connected ? null : before.offlineSince ?? now,
      laggingSince: before.laggingSince,
    };
    return {
      ...base, reachable: true, error: null, clock: status.clock, records: status.records, conflicted: status.conflicted,
      lastLocalSeq: status.lastLocalSeq, behind, unshared, connected, lastSyncedAt: tracks[name].lastSyncedAt, offlineSince: tracks[name].offlineSince,
    };
  });
  return { cards, tracks };
}

/** Groups of reachable nodes joined by links meant to be up, in cast order; the largest first. */
export function groups(cards: NodeCard[], links: (LinkSpec & { active: boolean })[]): NodeCard[][] {
  const parent = new Map(cards.filter((c) => c.reachable).map((c) => [c.name, c.name]));
  const find = (n: string): string => (parent.get(n) === n ? n : find(parent.get(n)!));
  for (const l of links) if (l.active && parent.has(l.a) && parent.has(l.b)) parent.set(find(l.a), find(l.b));
  const byRoot = new Map<string, NodeCard[]>();
  for (const c of cards) if (c.reachable) byRoot.set(find(c.name), [...(byRoot.get(find(c.name)) ?? []), c]);
  // Stable sort: equal sizes keep the group of the earlier node (cast order) first.
  return [...byRoot.values()].sort((a, b) => b.length - a.length);
}

/**
 * Judges the cluster from the cards and links of one poll; returns the verdict and the
 * tracks to keep. `previous.nodes` are the tracks nodeCards() returned for this poll.
 */
export function judge(cards: NodeCard[], links: LinkReport[], previous: Tracks, now: number): { verdict: Verdict; tracks: Tracks } {
  const faults: string[] = [];
  const syncing: string[] = [];
  const nodes: Record<string, NodeTrack> = { ...previous.nodes };
  const linksDownSince: Record<string, number> = {};
  const stuck = (since: number) => now - since >= STUCK_AFTER_MS;

  for (const c of cards) if (!c.reachable) faults.push(`${c.name} does not answer: ${c.error}`);
  for (const l of links) {
    if (!l.active || l.up) continue;
    const key = linkKey(l.a, l.b);
    const since = (linksDownSince[key] = previous.linksDownSince[key] ?? now);
    if (stuck(since)) faults.push(`link ${l.a} ⇄ ${l.b} is meant to be up but has not connected for ${seconds(now - since)}`);
    else syncing.push(`link ${l.a} ⇄ ${l.b} is connecting`);
  }
  const parts = groups(cards, links);
  for (const group of parts) {
    const maxima = maxClock(group.map((c) => c.clock!));
    for (const c of group) {
      const track = { ...(previous.nodes[c.name] ?? { lastSyncedAt: null, offlineSince: null, laggingSince: null }) };
      const lag = lacking(c.clock!, maxima);
      track.laggingSince = lag > 0 ? track.laggingSince ?? now : null;
      nodes[c.name] = track;
      if (lag === 0) continue;
      const holders = group.filter((o) => o !== c && lacking(c.clock!, o.clock!) > 0).map((o) => o.name);
      const linked = holders.length ? ` (held by ${holders.join(', ')}, linked with it)` : '';
      if (stuck(track.laggingSince!)) faults.push(`${c.name} has lacked ${plural(lag, 'change')}${linked} for ${seconds(now - track.laggingSince!)}`);
      else syncing.push(`${c.name} is catching up: ${plural(lag, 'change')} behind`);
    }
  }
  const answered = cards.filter((c) => c.reachable);
  const clocksEqual = new Set(answered.map((c) => canonicalJson(c.clock))).size <= 1;
  const countsEqual = new Set(answered.map((c) => `${c.records!.live}/${c.records!.deleted}`)).size <= 1;
  if (clocksEqual && !countsEqual) faults.push('the vector clocks are equal but the record counts differ');

  const lagging = parts.slice(1).flat().filter((c) => c.behind! > 0 || c.unshared! > 0)
    .map((c): Lagging => ({ node: c.name, unshared: c.unshared!, behind: c.behind!, offlineSince: c.offlineSince }));
  const linksUp = links.every((l) => !l.active || (l.up && l.behind === 0));
  const base = { lagging, clocksEqual, countsEqual, linksUp };
  const tracks = { nodes, linksDownSince };
  if (faults.length) return { verdict: { ...base, level: 'fault', word: 'FAULT', headline: faults[0]!, reasons: [...faults, ...syncing] }, tracks };
  if (lagging.length) {
    const describe = (l: Lagging) => `${l.node} ${l.offlineSince === null ? 'is cut off' : `has been offline ${seconds(now - l.offlineSince)}`}: `
      + `${plural(l.unshared, 'change')} not yet shared, ${l.behind} behind`;
    return { verdict: { ...base, level: 'expected', word: 'EXPECTED DIVERGENCE', headline: lagging.map(describe).join('; '), reasons: syncing }, tracks };
  }
  if (syncing.length || !clocksEqual) return { verdict: { ...base, level: 'syncing', word: 'SYNCING', headline: syncing[0] ?? 'changes are spreading', reasons: syncing }, tracks };
  const offline = cards.filter((c) => !c.online).map((c) => c.name);
  const note = offline.length ? ` (${offline.join(', ')} offline with nothing pending)` : '';
  return { verdict: { ...base, level: 'converged', word: 'CONVERGED', headline: `all ${cards.length} nodes hold the same changes${note}`, reasons: [] }, tracks };
}

/** One value of a conflicted field as the page shows it. */
export interface ConflictValueRow {
  value: ConflictValue['value'];
  /** The node that wrote it (null if the engine could not tell). */
  node: string | null;
  opId: string;
  winner: boolean;
  /** When it was written (ms), if the engine reports it. */
  time: number | null;
  /** The author its change carries (an importer, a resolve), if the engine reports one. */
  author: string | null;
  /** The rule that picked the winner, if the engine reports it. */
  rule: string | null;
}

/** One conflicted field of one record. */
export interface ConflictRow {
  id: string;
  name: string;
  field: string;
  values: ConflictValueRow[];
  /** The rule that picked the winner, if reported. */
  rule: string | null;
  /** Nodes that report this conflict, in cast order. */
  nodes: string[];
  /** A reporting node whose API can resolve it (null: no resolve endpoint). */
  resolveVia: string | null;
}

/** One node's conflicted records. */
export interface NodeConflicts {
  node: string;
  records: { id: string; name: string; conflicts: FieldConflict[] }[];
}

/**
 * What an engine may report beyond the oldest shape: a value's time and author, the
 * field's rule (earlier drafts put the rule on each value). Checked, not trusted.
 */
type ReportedValue = ConflictValue & { time?: unknown; author?: unknown; rule?: unknown };
type ReportedConflict = FieldConflict & { rule?: unknown };

/** Merges every node's conflicts into one row per distinct (record, field, values). */
export function conflictRows(reports: NodeConflicts[], order: string[], canResolve: ReadonlySet<string>): ConflictRow[] {
  const rows = new Map<string, ConflictRow>();
  for (const { node, records } of reports) {
    for (const record of records) {
      for (const c of record.conflicts as ReportedConflict[]) {
        const values = c.values.map((v: ReportedValue): ConflictValueRow => ({
          value: v.value, node: v.node, opId: v.opId, winner: v.winner,
          time: typeof v.time === 'number' ? v.time : null, author: typeof v.author === 'string' ? v.author : null,
          rule: typeof v.rule === 'string' ? v.rule : null,
        }));
        const key = `${record.id}\u0000${c.field}\u0000${canonicalJson(values)}`;
        const winner = values.find((v) => v.winner);
        const rule = typeof c.rule === 'string' ? c.rule : winner?.rule ?? values.find((v) => v.rule)?.rule ?? null;
        const row = rows.get(key) ?? { id: record.id, name: record.name, field: c.field, values, rule, nodes: [], resolveVia: null };
        row.nodes.push(node);
        rows.set(key, row);
      }
    }
  }
  const rank = new Map(order.map((n, i) => [n, i]));
  for (const row of rows.values()) {
    row.nodes.sort((a, b) => rank.get(a)! - rank.get(b)!);
    row.resolveVia = row.nodes.find((n) => canResolve.has(n)) ?? null;
  }
  return [...rows.values()].sort((a, b) => a.id.localeCompare(b.id) || a.field.localeCompare(b.field) || b.nodes.length - a.nodes.length);
}

/** Whether a node's OpenAPI document offers the resolve endpoint. */
export function supportsResolve(openapi: unknown): boolean {
  const paths = (openapi as { paths?: Record<string, Record<string, unknown>> } | null)?.paths;
  return typeof paths?.[RESOLVE_PATH]?.post === 'object';
}
