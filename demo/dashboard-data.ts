/**
 * What the dashboard's JSON endpoints return, read from the nodes' HTTP APIs: the
 * cluster state (cards, links, verdict), the conflict list, the record picker and one
 * record as every node sees it. Nothing here holds state of its own.
 */
import type { ConflictValue, RecordView } from '../src/index.js';
import type { Cluster } from './cluster.js';
import type { EndState, PeerView } from './convergence.js';
import { peerViews } from './convergence.js';
import { canonicalJson } from './protocol.js';
import type { LinkSpec } from './topology.js';

/** One node card. */
export interface NodeCard {
  name: string;
  role: string;
  label: string;
  pid: number | null;
  apiUrl: string;
  peerUrl: string;
  /** Laptops: whether their link is meant to be up. Regions: always true. */
  online: boolean;
  error: string | null;
  clock: Record<string, number>;
  records: { live: number; deleted: number } | null;
  conflicted: number;
  lastLocalSeq: number;
  /** Every node this one is, or is meant to be, linked with. */
  peers: (PeerView & { active: boolean; kind: LinkSpec['kind'] })[];
}

/** One conflicted field of one record. */
export interface ConflictRow {
  id: string;
  name: string;
  field: string;
  values: ConflictValue[];
  /** Nodes that report this conflict. */
  nodes: string[];
}

/** The JSON behind the dashboard's endpoints. */
export class DashboardData {
  /** `since`: records updated before this (the seed) cannot hold conflicts the demo made. */
  constructor(private readonly cluster: Cluster, private readonly since: number) {}

  /** Cards, links and the verdict. */
  async state() {
    const { reports, assessment } = await this.cluster.read();
    const nodes = this.cluster.all().map((m, i): NodeCard => {
      const status = reports[i]!.status;
      const views = status ? peerViews(status, this.cluster.nameOfUrl) : new Map<string, PeerView>();
      const partners = this.cluster.links.filter((l) => l.a === m.spec.name || l.b === m.spec.name)
        .map((l) => ({ other: l.a === m.spec.name ? l.b : l.a, active: this.cluster.isActive(l.a, l.b), kind: l.kind }));
      const peers = partners.map(({ other, active, kind }) => ({
        ...(views.get(other) ?? { node: other, state: 'none' as EndState, direction: null, behind: 0, ahead: 0, lagSeconds: 0 }), active, kind,
      }));
      return {
        name: m.spec.name, role: m.spec.role, label: m.spec.label, pid: m.process.pid ?? null,
        apiUrl: m.process.apiUrl, peerUrl: m.process.peerUrl,
        online: m.spec.role !== 'laptop' || this.cluster.isOnline(m.spec.name),
        error: reports[i]!.error ?? null,
        clock: status?.clock ?? {}, records: status?.records ?? null, conflicted: status?.conflicted ?? 0,
        lastLocalSeq: status?.lastLocalSeq ?? 0, peers,
      };
    });
    const { links, ...verdict } = assessment;
    return { at: Date.now(), nodes, links, verdict };
  }

  /** Every conflicted field of records changed since the seed, on any node. */
  async conflicts(): Promise<ConflictRow[]> {
    const rows = new Map<string, ConflictRow>();
    await Promise.all(this.cluster.all().map(async (m) => {
      const client = m.process.client;
      const changed = await client.listAll({ updatedSince: String(this.since), includeDeleted: 'true' }).catch(() => [] as RecordView[]);
      for (const view of changed.filter((v) => v.conflicts.length > 0)) {
        const fields = await client.conflicts(view.id).catch(() => []);
        for (const c of fields) {
          const key = `${view.id}\u0000${c.field}\u0000${canonicalJson(c.values)}`;
          const row = rows.get(key) ?? { id: view.id, name: view.name, field: c.field, values: c.values, nodes: [] };
          row.nodes.push(m.spec.name);
          rows.set(key, row);
        }
      }
    }));
    const order = new Map(this.cluster.all().map((m, i) => [m.spec.name, i]));
    for (const row of rows.values()) row.nodes.sort((a, b) => order.get(a)! - order.get(b)!);
    return [...rows.values()].sort((a, b) => a.id.localeCompare(b.id) || a.field.localeCompare(b.field) || b.nodes.length - a.nodes.length);
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
