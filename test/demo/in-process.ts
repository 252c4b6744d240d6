/**
 * A small demo cluster in the test process: real nodes (LevelDB in temp dirs, peers and
 * HTTP APIs on 127.0.0.1 port 0) wrapped as demo Members, so the dashboard server and
 * the feed can be tested over real sockets without starting five node processes.
 */
import { expect, vi } from 'vitest';
import { Cluster, type Member } from '../../demo/cluster.js';
import { NodeClient } from '../../demo/client.js';
import type { NodeSpec } from '../../demo/topology.js';
import { ApiHarness, TOKEN, type ApiNode } from '../api/helpers.js';

/** berlin and london (regions, linked), laptop-anna dialing london. */
export const SMALL_CAST: NodeSpec[] = [
  { name: 'berlin', role: 'region', label: 'Berlin office', dials: ['london'] },
  { name: 'london', role: 'region', label: 'London office', dials: ['berlin'] },
  { name: 'laptop-anna', role: 'laptop', label: "Anna's laptop", dials: ['london'] },
];

/** The cluster, each node with its API, and the harness to clean up. */
export interface InProcessCluster {
  cluster: Cluster;
  apis: Map<string, ApiNode>;
}

/** Starts every node of `cast`, links them as the cast says and waits until every link is up. */
export async function startInProcess(harness: ApiHarness, cast: NodeSpec[] = SMALL_CAST): Promise<InProcessCluster> {
  const apis = new Map<string, ApiNode>();
  const members: Member[] = [];
  // Every node a member first, so each one's trust list names all the others (as the demo's
  // invitations make them before any link is added): a peer is added naming its node.
  for (const spec of cast) harness.cluster.member(spec.name);
  for (const spec of cast) {
    const api = await harness.start({ nodeId: spec.name, listen: { host: '127.0.0.1', port: 0 }, peerToken: 'peer-secret' });
    apis.set(spec.name, api);
    members.push({ spec, process: { client: new NodeClient(spec.name, api.api.url, TOKEN), apiUrl: api.api.url, peerUrl: api.node.url ?? '', pid: undefined } });
  }
  const cluster = new Cluster(members);
  await cluster.connectAll();
  await vi.waitFor(async () => expect((await cluster.read()).assessment.reasons).toEqual([]), { timeout: 30_000, interval: 50 });
  return { cluster, apis };
}
