/** The dashboard's data shaping: per-node sync figures, the verdict, conflict rows, resolve detection. */
import { describe, expect, it } from 'vitest';
import type { FieldConflict, NodeStatus, PeerStatus } from '../../src/index.js';
import { assess, type NodeReport } from '../../demo/convergence.js';
import {
  conflictRows, judge, nodeCards, RESOLVE_PATH, STUCK_AFTER_MS, supportsResolve, type NodeTrack, type Tracks,
} from '../../demo/dashboard-data.js';
import { linkKey, linksOf, NODES } from '../../demo/topology.js';

const LINKS = linksOf(NODES);
const ALL = new Set(LINKS.map((l) => linkKey(l.a, l.b)));
const WITHOUT_ANNA = new Set([...ALL].filter((k) => k !== linkKey('london', 'laptop-anna')));
const nameOfUrl = () => undefined;
const T0 = 1_000_000;

function peer(node: string, state: PeerStatus['state'] = 'connected'): PeerStatus {
  return { node: node as PeerStatus['node'], url: null, direction: 'outbound', state, behind: 0, ahead: 0, lagSeconds: 0, lastSeenAt: null, retryInMs: null, stats: null, catchUp: null, role: null, key: null, expectedNode: null, lastError: null };
}

function report(name: string, clock: Record<string, number>, connectedTo: string[], live = 200): NodeReport {
  const status = { nodeId: name, clock, peers: connectedTo.map((p) => peer(p)), records: { live, deleted: 0 }, conflicted: 0, lastLocalSeq: 1 };
  return { name, status: status as unknown as NodeStatus };
}

/** Every node linked as in the topology, minus the links not in `active`; `clocks` per node (default berlin:200). */
function reports(active: ReadonlySet<string>, clocks: Record<string, Record<string, number>> = {}): NodeReport[] {
  return NODES.map((n) => {
    const partners = LINKS.filter((l) => (l.a === n.name || l.b === n.name) && active.has(linkKey(l.a, l.b))).map((l) => (l.a === n.name ? l.b : l.a));
    return report(n.name, clocks[n.name] ?? { berlin: 200 }, partners);
  });
}

/** One poll: cards and verdict, carrying the tracks forward like DashboardData does. */
function poll(rs: NodeReport[], active: ReadonlySet<string>, previous: Tracks, now: number) {
  const { links } = assess(rs, LINKS, active, nameOfUrl);
  const members = NODES.map((spec) => ({ spec, pid: 1, apiUrl: 'http://api', peerUrl: 'ws://peer', online: spec.role !== 'laptop' || active.has(linkKey(spec.dials[0]!, spec.name)) }));
  const { cards, tracks: nodes } = nodeCards(members, rs, links, nameOfUrl, previous.nodes, now);
  const { verdict, tracks } = judge(cards, links, { nodes, linksDownSince: previous.linksDownSince }, now);
  return { cards, verdict, tracks, card: (name: string) => cards.find((c) => c.name === name)! };
}

const FRESH: Tracks = { nodes: {}, linksDownSince: {} };

describe('nodeCards', () => {
  it('counts what each node lacks (behind) and what only it holds (unshared)', () => {
    const clocks = { 'laptop-anna': { berlin: 199, 'laptop-anna': 3 }, london: { berlin: 200, 'laptop-anna': 1 } };
    const { card } = poll(reports(WITHOUT_ANNA, clocks), WITHOUT_ANNA, FRESH, T0);
    expect(card('laptop-anna')).toMatchObject({ behind: 1, unshared: 2, reachable: true, connected: false });
    expect(card('london')).toMatchObject({ behind: 2, unshared: 0, connected: true });
    expect(card('berlin')).toMatchObject({ behind: 3, unshared: 0 });
  });

  it('remembers when a node was last in sync and since when it has been offline', () => {
    const first = poll(reports(ALL), ALL, FRESH, T0);
    expect(first.card('laptop-anna')).toMatchObject({ lastSyncedAt: T0, offlineSince: null });
    const clocks = { 'laptop-anna': { berlin: 200, 'laptop-anna': 1 } };
    const second = poll(reports(WITHOUT_ANNA, clocks), WITHOUT_ANNA, first.tracks, T0 + 1000);
    const third = poll(reports(WITHOUT_ANNA, clocks), WITHOUT_ANNA, second.tracks, T0 + 5000);
    expect(third.card('laptop-anna')).toMatchObject({ lastSyncedAt: T0, offlineSince: T0 + 1000 });
    expect(third.card('berlin')).toMatchObject({ lastSyncedAt: T0, offlineSince: null });
  });

  it('reports a node that does not answer as unknown, not as zeros', () => {
    const rs = reports(ALL);
    rs[4] = { name: 'laptop-ben', status: undefined, error: 'connect ECONNREFUSED' };
    const { card } = poll(rs, ALL, FRESH, T0);
    expect(card('laptop-ben')).toMatchObject({
      reachable: false, error: 'connect ECONNREFUSED', clock: null, records: null, conflicted: null, lastLocalSeq: null,
      behind: null, unshared: null, connected: null, offlineSince: T0,
    });
    expect(card('laptop-ben').peers.map((p) => p.state)).toEqual(['unknown']);
  });
});

describe('judge', () => {
  it('is converged when every node holds the same changes', () => {
    const { verdict } = poll(reports(ALL), ALL, FRESH, T0);
    expect(verdict).toMatchObject({ level: 'converged', word: 'CONVERGED', lagging: [], reasons: [] });
  });

  it('calls an offline laptop with pending work an expected divergence, naming it and how far it lags', () => {
    const clocks = { 'laptop-anna': { berlin: 200, 'laptop-anna': 2 }, berlin: { berlin: 201 }, london: { berlin: 201 }, newyork: { berlin: 201 }, 'laptop-ben': { berlin: 201 } };
    const first = poll(reports(WITHOUT_ANNA, clocks), WITHOUT_ANNA, FRESH, T0);
    // Long after STUCK_AFTER_MS it is still expected: the laptop is offline on purpose.
    const { verdict } = poll(reports(WITHOUT_ANNA, clocks), WITHOUT_ANNA, first.tracks, T0 + 10 * STUCK_AFTER_MS);
    expect(verdict.level).toBe('expected');
    expect(verdict.word).toBe('EXPECTED DIVERGENCE');
    expect(verdict.lagging).toEqual([{ node: 'laptop-anna', unshared: 2, behind: 1, offlineSince: T0 }]);
    expect(verdict.headline).toBe('laptop-anna has been offline 100 s: 2 changes not yet shared, 1 behind');
  });

  it('is syncing while linked nodes differ briefly, and a fault once they stay apart', () => {
    const clocks = { berlin: { berlin: 201 } };
    const first = poll(reports(ALL, clocks), ALL, FRESH, T0);
    expect(first.verdict.level).toBe('syncing');
    expect(first.verdict.reasons).toContain('london is catching up: 1 change behind');
    const later = poll(reports(ALL, clocks), ALL, first.tracks, T0 + STUCK_AFTER_MS);
    expect(later.verdict.level).toBe('fault');
    expect(later.verdict.headline).toBe('london has lacked 1 change (held by berlin, linked with it) for 10 s');
  });

  it('is a fault when a node does not answer', () => {
    const rs = reports(ALL);
    rs[0] = { name: 'berlin', status: undefined, error: 'timeout' };
    const { verdict } = poll(rs, ALL, FRESH, T0);
    expect(verdict).toMatchObject({ level: 'fault', word: 'FAULT', headline: 'berlin does not answer: timeout' });
  });

  it('is a fault when a link meant to be up stays down', () => {
    const rs = reports(WITHOUT_ANNA);
    const first = poll(rs, ALL, FRESH, T0);
    expect(first.verdict.level).toBe('syncing');
    const later = poll(rs, ALL, first.tracks, T0 + STUCK_AFTER_MS + 1000);
    expect(later.verdict.level).toBe('fault');
    expect(later.verdict.headline).toBe('link london ⇄ laptop-anna is meant to be up but has not connected for 11 s');
  });

  it('is a fault when the clocks agree but the record counts do not', () => {
    const rs = reports(ALL);
    rs[2] = report('newyork', { berlin: 200 }, ['berlin', 'london', 'laptop-ben'], 199);
    expect(poll(rs, ALL, FRESH, T0).verdict).toMatchObject({ level: 'fault', headline: 'the vector clocks are equal but the record counts differ' });
  });

  it('forgets a lag once it is gone', () => {
    const lagging = poll(reports(ALL, { berlin: { berlin: 201 } }), ALL, FRESH, T0);
    const healed = poll(reports(ALL, Object.fromEntries(NODES.map((n) => [n.name, { berlin: 201 }]))), ALL, lagging.tracks, T0 + 500);
    const track: NodeTrack = healed.tracks.nodes.london!;
    expect(track.laggingSince).toBeNull();
    expect(healed.verdict.level).toBe('converged');
  });
});

describe('conflictRows', () => {
  // As an engine without merge policies reported them: no times, no rule.
  const today = {
    field: 'title',
    values: [
      { value: 'CPO', node: 'laptop-anna', opId: '5@aa', winner: false },
      { value: 'VP', node: 'berlin', opId: '5@bb', winner: true },
    ],
  } as unknown as FieldConflict;
  const record = (conflicts: FieldConflict[]) => [{ id: 'cus-1', name: 'Ada', conflicts }];

  it('merges the nodes reporting the same conflict and keeps the writers', () => {
    const rows = conflictRows([
      { node: 'london', records: record([today]) }, { node: 'berlin', records: record([today]) },
    ], NODES.map((n) => n.name), new Set());
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: 'cus-1', field: 'title', nodes: ['berlin', 'london'], rule: null, resolveVia: null });
    expect(rows[0]!.values.map((v) => [v.value, v.node, v.time, v.rule])).toEqual([['CPO', 'laptop-anna', null, null], ['VP', 'berlin', null, null]]);
  });

  it('passes on write times and the rule when the engine reports them, and who can resolve', () => {
    const later = { field: 'title', values: today.values.map((v, i) => ({ ...v, time: 1000 + i, rule: 'last writer wins' })) } as unknown as FieldConflict;
    const [row] = conflictRows([{ node: 'london', records: record([later]) }], NODES.map((n) => n.name), new Set(['london']));
    expect(row!.values.map((v) => v.time)).toEqual([1000, 1001]);
    expect(row!.rule).toBe('last writer wins');
    expect(row!.resolveVia).toBe('london');
  });

  it('takes the rule from the field and the author from each value, as the engine reports them', () => {
    const reported = {
      field: 'title', rule: 'latest',
      values: today.values.map((v, i) => ({ ...v, time: 2000 + i, author: i === 0 ? 'conflicts:resolve' : null })),
    } as FieldConflict;
    const [row] = conflictRows([{ node: 'berlin', records: record([reported]) }], ['berlin'], new Set(['berlin']));
    expect(row!.rule).toBe('latest');
    expect(row!.values.map((v) => [v.time, v.author])).toEqual([[2000, 'conflicts:resolve'], [2001, null]]);
  });

  it('ignores write times and rules of the wrong type', () => {
    const odd = { field: 'title', rule: 7, values: today.values.map((v) => ({ ...v, time: 'yesterday', author: 3, rule: 42 })) } as unknown as FieldConflict;
    const [row] = conflictRows([{ node: 'london', records: record([odd]) }], ['london'], new Set());
    expect(row!.values.map((v) => [v.time, v.author, v.rule])).toEqual([[null, null, null], [null, null, null]]);
    expect(row!.rule).toBeNull();
  });
});

describe('supportsResolve', () => {
  it('finds the resolve endpoint in an OpenAPI document, and only a POST of it', () => {
    expect(supportsResolve({ paths: { [RESOLVE_PATH]: { post: {} } } })).toBe(true);
    expect(supportsResolve({ paths: { [RESOLVE_PATH]: { get: {} } } })).toBe(false);
    expect(supportsResolve({ paths: { '/v1/customers/{id}/conflicts': { get: {} } } })).toBe(false);
    for (const junk of [null, undefined, 'openapi', 42, { paths: null }, { paths: { [RESOLVE_PATH]: null } }]) expect(supportsResolve(junk)).toBe(false);
  });
});
