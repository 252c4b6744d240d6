/** The demo's convergence verdict: how link ends are merged and when the cluster counts as converged. */
import { describe, expect, it } from 'vitest';
import type { NodeStatus, PeerStatus } from '../../src/index.js';
import { assess, peerViews, type NodeReport } from '../../demo/convergence.js';
import { linkKey, linksOf, NODES } from '../../demo/topology.js';

const URLS: Record<string, string> = Object.fromEntries(NODES.map((n, i) => [`ws://127.0.0.1:${7000 + i}`, n.name]));
const nameOfUrl = (url: string) => URLS[url];
const urlOf = (name: string) => Object.keys(URLS).find((u) => URLS[u] === name)!;

function row(node: string | null, state: PeerStatus['state'], extra: Partial<PeerStatus> = {}): PeerStatus {
  return {
    node: node as PeerStatus['node'], url: null, direction: 'outbound', state, behind: 0, ahead: 0, lagSeconds: 0,
    lastSeenAt: null, retryInMs: null, stats: null, catchUp: null, ...extra,
  };
}

function status(clock: Record<string, number>, peers: PeerStatus[], live = 200): NodeStatus {
  return { clock, peers, records: { live, deleted: 0 }, conflicted: 0, lastLocalSeq: 1 } as unknown as NodeStatus;
}

const LINKS = linksOf(NODES);
const ALL = new Set(LINKS.map((l) => linkKey(l.a, l.b)));

/** Every node connected to every partner, all with the same clock. */
function healthy(clock = { berlin: 200 }): NodeReport[] {
  return NODES.map((n) => {
    const partners = LINKS.filter((l) => l.a === n.name || l.b === n.name).map((l) => (l.a === n.name ? l.b : l.a));
    return { name: n.name, status: status(clock, partners.map((p) => row(p, 'connected'))) };
  });
}

describe('linksOf', () => {
  it('lists the region mesh once per pair and one link per laptop', () => {
    expect(LINKS.map((l) => `${l.a}-${l.b}:${l.kind}`)).toEqual([
      'berlin-london:region', 'berlin-newyork:region', 'london-newyork:region', 'london-laptop-anna:laptop', 'newyork-laptop-ben:laptop',
    ]);
  });
});

describe('peerViews', () => {
  it('prefers the connected row when a dialer is parked beside the inbound session carrying the sync', () => {
    const views = peerViews(status({}, [row('london', 'backoff'), row('london', 'connected', { direction: 'inbound', behind: 3 })]), nameOfUrl);
    expect(views.get('london')).toMatchObject({ state: 'connected', direction: 'inbound', behind: 3 });
  });

  it('names a dialer that never connected by its URL', () => {
    const views = peerViews(status({}, [row(null, 'connecting', { url: urlOf('newyork') })]), nameOfUrl);
    expect(views.get('newyork')?.state).toBe('connecting');
  });
});

describe('assess', () => {
  it('is converged when clocks and counts are equal and every link is up with nothing behind', () => {
    const verdict = assess(healthy(), LINKS, ALL, nameOfUrl);
    expect(verdict).toMatchObject({ converged: true, clocksEqual: true, countsEqual: true, linksUp: true, reasons: [] });
    expect(verdict.links.every((l) => l.up && l.active)).toBe(true);
  });

  it('is diverged while clocks differ', () => {
    const reports = healthy();
    reports[3] = { name: 'laptop-anna', status: status({ berlin: 200, 'laptop-anna': 1 }, [row('london', 'connected')]) };
    const verdict = assess(reports, LINKS, ALL, nameOfUrl);
    expect(verdict.converged).toBe(false);
    expect(verdict.reasons).toContain('vector clocks differ');
  });

  it('ignores a link that was cut on purpose, but not one that should be up', () => {
    const reports = healthy().map((r) => ({
      ...r, status: status(r.status!.clock, r.status!.peers.filter((p) => !(`${r.name}/${p.node}` === 'berlin/london' || `${r.name}/${p.node}` === 'london/berlin'))),
    }));
    const cut = new Set([...ALL].filter((k) => k !== linkKey('berlin', 'london')));
    expect(assess(reports, LINKS, cut, nameOfUrl).converged).toBe(true);
    const verdict = assess(reports, LINKS, ALL, nameOfUrl);
    expect(verdict.converged).toBe(false);
    expect(verdict.reasons).toEqual(['link berlin ⇄ london is not up']);
    expect(verdict.links.find((l) => l.a === 'berlin' && l.b === 'london')?.ends).toEqual({ berlin: 'none', london: 'none' });
  });

  it('is diverged while a link is up but behind, or a node does not answer', () => {
    const reports = healthy();
    reports[0] = { name: 'berlin', status: status({ berlin: 200 }, [row('london', 'connected', { behind: 2 }), row('newyork', 'connected')]) };
    expect(assess(reports, LINKS, ALL, nameOfUrl).reasons).toEqual(['link berlin ⇄ london is 2 change(s) behind']);
    reports[0] = { name: 'berlin', status: undefined, error: 'ECONNREFUSED' };
    expect(assess(reports, LINKS, ALL, nameOfUrl).reasons[0]).toBe('berlin did not answer: ECONNREFUSED');
  });

  it('cross-checks record counts', () => {
    const reports = healthy();
    reports[4] = { name: 'laptop-ben', status: status({ berlin: 200 }, [row('newyork', 'connected')], 199) };
    expect(assess(reports, LINKS, ALL, nameOfUrl)).toMatchObject({ converged: false, countsEqual: false, reasons: ['record counts differ'] });
  });
});
