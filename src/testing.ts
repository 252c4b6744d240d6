/**
 * Test infrastructure for applications and simulations built on crmsync (the
 * `crmsync/testing` entry point), kept apart from the product API in index.ts.
 */
import { generateNodeKeys, type NodeKeys } from './trust/keys.js';
import { signStatement, type Role, type Scope, type TrustStatement } from './trust/statements.js';
import { clusterIdOf } from './trust/statements.js';
import { parseNodeId } from './types.js';

export { MemoryNetwork, type InFlightItem } from './net/memory-transport.js';

/** The options that make a node a member of a test cluster (spread them into openNode's). */
export interface MemberOptions {
  nodeId: string;
  identity: { privateKeyPem: string };
  cluster: { founder: string; statements: unknown[] };
}

/** A cluster for tests: a founder key that grants membership to any node id asked for. */
export interface TestCluster {
  /** The founder's keys (an administrator that is not itself a node). */
  readonly founder: NodeKeys;
  /** The same key for the same node id; its grant, and every grant issued before. */
  member(nodeId: string, grant?: { role?: Role; admin?: boolean; scope?: Scope }): MemberOptions;
  /** Signs a further statement as the founder (e.g. a revocation). */
  statement(body: { op: 'grant' | 'revoke'; node: string; key: string; role?: Role; admin?: boolean; scope?: Scope }): TrustStatement;
}

/** Creates a test cluster. Keys are fresh per cluster; nothing is written anywhere. */
export function createTestCluster(): TestCluster {
  const founder = generateNodeKeys();
  const cluster = clusterIdOf(founder.publicKey);
  const keys = new Map<string, NodeKeys>();
  const grants = new Map<string, TrustStatement>();
  let n = 0;
  const statement: TestCluster['statement'] = (body) => signStatement({ cluster, n: ++n, at: 0, ...body, node: parseNodeId(body.node) }, founder);
  return {
    founder,
    statement,
    member(nodeId, grant = {}) {
      let key = keys.get(nodeId);
      if (!key) {
        key = generateNodeKeys();
        keys.set(nodeId, key);
      }
      grants.set(nodeId, statement({ op: 'grant', node: nodeId, key: key.fingerprint, role: grant.role ?? 'region', admin: grant.admin ?? false, ...(grant.scope ? { scope: grant.scope } : {}) }));
      // Every grant so far: a node knows the members created before it without meeting them.
      return { nodeId, identity: { privateKeyPem: key.privateKeyPem }, cluster: { founder: founder.fingerprint, statements: [...grants.values()] } };
    },
  };
}
