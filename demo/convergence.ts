/**
 * Pure judgement of the cluster's state from every node's status: how each link looks
 * from both ends, and whether the cluster has converged. Used by the story (to wait),
 * by the dashboard server (for the indicator) and by unit tests.
 *
 * Converged means: every node answered, all vector clocks are equal (for a CRDT equal
 * clocks mean identical state), the record counts agree (a cheap cross-check of that),
 * and every link that is meant to be up is connected at both ends with nothing behind.
 */
import type { NodeStatus, PeerStatus } from '../src/index.js';
import { canonicalJson } from './protocol.js';
import { linkKey, type LinkSpec } from './topology.js';

/** What one node reported (or why it could not). */
export interface NodeReport {
  name: string;
  status: NodeStatus | undefined;
  error?: string;
}

/** How one end of a link sees the other end. */
export type EndState = 'connected' | 'connecting' | 'backoff' | 'stopped' | 'none';

/** One end's view of a peer, merged over all of its rows for that peer. */
export interface PeerView {
  node: string;
  state: EndState;
  direction: PeerStatus['direction'] | null;
  /** Changes we hold that the peer lacks. */
  behind: number;
  /** Changes the peer holds that we lack. */
  ahead: number;
  lagSeconds: number;
}

/** A link as both ends see it. */
export interface LinkReport extends LinkSpec {
  /** Whether the demo wants this link up (not cut, laptop online). */
  active: boolean;
  up: boolean;
  /** The larger of the two ends' `behind`. */
  behind: number;
  lagSeconds: number;
  ends: Record<string, EndState>;
}

/** The verdict shown by the big indicator. */
export interface Assessment {
  converged: boolean;
  clocksEqual: boolean;
  countsEqual: boolean;
  linksUp: boolean;
  /** Why not converged (empty when converged). */
  reasons: string[];
  links: LinkReport[];
}

const RANK: Record<EndState, number> = { connected: 4, connecting: 3, backoff: 2, stopped: 1, none: 0 };

/**
 * A node's peers by remote node name. One remote can have several rows (a dialer parked
 * as a duplicate plus the inbound session that carries the sync); the best row wins.
 * Rows of dialers that never connected are named through `nameOfUrl`.
 */
export function peerViews(status: NodeStatus, nameOfUrl: (url: string) => string | undefined): Map<string, PeerView> {
  const views = new Map<string, PeerView>();
  for (const row of status.peers) {
    const node = row.node ?? (row.url === null ? undefined : nameOfUrl(row.url));
    if (node === undefined) continue;
    const state = row.state as EndState;
    const current = views.get(node);
    if (current && RANK[current.state] >= RANK[state]) continue;
    views.set(node, { node, state, direction: row.direction, behind: row.behind, ahead: row.ahead, lagSeconds: row.lagSeconds });
  }
  return views;
}

/** Judges the cluster. `active` holds the keys (linkKey) of the links meant to be up. */
export function assess(reports: NodeReport[], links: LinkSpec[], active: ReadonlySet<string>, nameOfUrl: (url: string) => string | undefined): Assessment {
  const reasons: string[] = [];
  const views = new Map<string, Map<string, PeerView>>();
  for (const r of reports) {
    if (r.status) views.set(r.name, peerViews(r.status, nameOfUrl));
    else reasons.push(`${r.name} did not answer${r.error ? `: ${r.error}` : ''}`);
  }
  const answered = reports.filter((r) => r.status !== undefined);
  const clocks = new Set(answered.map((r) => canonicalJson(r.status!.clock)));
  const counts = new Set(answered.map((r) => `${r.status!.records.live}/${r.status!.records.deleted}`));
  const clocksEqual = clocks.size <= 1;
  const countsEqual = counts.size <= 1;
  if (!clocksEqual) reasons.push('vector clocks differ');
  if (!countsEqual) reasons.push('record counts differ');

  const linkReports = links.map((link): LinkReport => {
    const ab = views.get(link.a)?.get(link.b);
    const ba = views.get(link.b)?.get(link.a);
    const up = ab?.state === 'connected' && ba?.state === 'connected';
    return {
      ...link,
      active: active.has(linkKey(link.a, link.b)),
      up,
      behind: up ? Math.max(ab.behind, ba.behind) : 0,
      lagSeconds: up ? Math.max(ab.lagSeconds, ba.lagSeconds) : 0,
      ends: { [link.a]: ab?.state ?? 'none', [link.b]: ba?.state ?? 'none' },
    };
  });
  let linksUp = true;
  for (const l of linkReports) {
    if (!l.active) continue;
    if (!l.up) reasons.push(`link ${l.a} ⇄ ${l.b} is not up`);
    else if (l.behind > 0) reasons.push(`link ${l.a} ⇄ ${l.b} is ${l.behind} change(s) behind`);
    if (!l.up || l.behind > 0) linksUp = false;
  }
  const converged = reasons.length === 0;
  return { converged, clocksEqual, countsEqual, linksUp, reasons, links: linkReports };
}
