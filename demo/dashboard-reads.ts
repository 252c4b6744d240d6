/**
 * What the dashboard's JSON endpoints return, read from the nodes' HTTP APIs: the
 * cluster state (cards, links, verdict), the conflict list, the record picker and one
 * record as every node sees it. The shaping is in dashboard-data.ts; this class reads
 * and remembers what the verdict needs between polls (last in sync, offline since).
 *
 * Invariant: `tracks` changes only in state(), from one poll's observations at a time.
 */
import type { ConflictInboxItem } from '../src/index.js';
import type { Cluster } from './cluster.js';
import { conflictRows, judge, nodeCards, supportsResolve, type ConflictRow, type NodeConflicts, type Tracks } from './dashboard-data.js';

/** Records of each node's conflict inbox the panel shows (its first page). */
export const CONFLICT_PANEL_RECORDS = 50;

/** Filters of the conflicts panel. */
export interface ConflictFilter {
  territory?: string;
  owner?: string;
}

/** The JSON behind the dashboard's endpoints. */
export class DashboardData {
  private tracks: Tracks = { nodes: {}, linksDownSince: {} };
  private polling: Promise<unknown> = Promise.resolve();
  /** Per node: whether its API offers the resolve endpoint (absent until a node has answered). */
  private readonly resolvable = new Map<string, Promise<boolean>>();

  constructor(private readonly cluster: Cluster, private readonly now: () => number = Date.now) {}

  /** Cards, links and the verdict (polls one at a time, so the tracks follow time). */
  state() {
    const next = this.polling.catch(() => undefined).then(() => this.poll());
    this.polling = next;
    return next;
  }

  private async poll() {
    const { reports, assessment } = await this.cluster.read();
    const now = this.now();
    const members = this.cluster.all().map((m) => ({
      spec: m.spec, pid: m.process.pid ?? null, apiUrl: m.process.apiUrl, peerUrl: m.process.peerUrl,
      online: m.spec.role !== 'laptop' || this.cluster.isOnline(m.spec.name),
    }));
    const { cards, tracks: nodes } = nodeCards(members, reports, assessment.links, this.cluster.nameOfUrl, this.tracks.nodes, now);
    const { verdict, tracks } = judge(cards, assessment.links, { nodes, linksDownSince: this.tracks.linksDownSince }, now);
    this.tracks = tracks;
    return { at: now, nodes: cards, links: assessment.links, verdict };
  }

  /** Every conflicted field of the records in each node's conflict inbox (first page), merged across nodes. */
  async conflicts(filter: ConflictFilter = {}): Promise<ConflictRow[]> {
    const reports = await Promise.all(this.cluster.all().map(async (m): Promise<NodeConflicts> => {
      const client = m.process.client;
      // A node that does not answer reports nothing; the cards say why.
      const inbox = await client.conflictInbox(filter, CONFLICT_PANEL_RECORDS).catch(() => [] as ConflictInboxItem[]);
      const records = await Promise.all(inbox.map(async (item) => ({
        id: item.id, name: item.name, conflicts: await client.conflicts(item.id).catch(() => []),
      })));
      return { node: m.spec.name, records };
    }));
    const order = this.cluster.all().map((m) => m.spec.name);
    const can = await Promise.all(order.map((name) => this.canResolve(name)));
    return conflictRows(reports, order, new Set(order.filter((_, i) => can[i])));
  }

  /** Whether the node's /openapi.json lists the resolve endpoint; asked once per node that answers. */
  private canResolve(name: string): Promise<boolean> {
    let known = this.resolvable.get(name);
    if (!known) {
      known = this.cluster.get(name).process.client.openapi().then(supportsResolve);
      this.resolvable.set(name, known);
      // A node that did not answer is asked again next time.
      known.catch(() => this.resolvable.delete(name));
    }
    return known.catch(() => false);
  }

  /** The record picker: every live record of the first node. */
  async records(): Promise<{ id: string; name: string; company: string | null }[]> {
    const views = await this.cluster.all()[0]!.process.client.listAll();
    return views.map((v) => ({ id: v.id, name: v.name, company: v.company ?? null })).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** One record as every node sees it. */
  async record(id: string) {
    return Promise.all(this.cluster.all().map(async (m) => {
      try {
        return { node: m.spec.name, customer: await m.process.client.get(id), error: null };
      } catch (err) {
        return { node: m.spec.name, customer: null, error: (err as Error).message };
      }
    }));
  }
}
