/**
 * Helpers for the migrate tests: nodes on real LevelDB directories in fresh temp dirs
 * (no sockets unless a test asks), and whole-node snapshots to compare.
 */
import { openNode, type CrmNode, type NodeOptions, type NodeStatus, type RecordView } from '../../src/index.js';
import { loadConfig } from '../../src/config/load.js';
import { openLocalNode } from '../../src/cli/node-files.js';
import { listAll } from '../support/records.js';

export { listAll };
export { tempDir } from '../support/temp-dirs.js';

/** Opens a node on `dir` without listening for peers. */
export function nodeAt(dir: string, nodeId: string, options: Partial<NodeOptions> = {}): Promise<CrmNode> {
  return openNode({ dataDir: dir, nodeId, listen: false, ...options });
}

/**
 * Opens the node of a CLI data directory (`crmsync init`, or a CLI import or restore made
 * it) as the CLI does: with its node.key and the cluster in its crmsync.json, without
 * listening. `nodeId` names the node of a directory without a config file.
 */
export async function nodeOfDataDir(dataDir: string, nodeId?: string): Promise<CrmNode> {
  const loaded = await loadConfig({ flags: { dataDir }, env: {}, readToken: false });
  return openLocalNode(loaded, () => {}, loaded.config.nodeId ?? nodeId);
}

/**
 * What "unchanged" and "identical" compare: the clock, the counts and every record. Not
 * the index backlog: when a node's indexes catch up is its own (index-backlog.ts).
 */
export async function snapshotOf(node: CrmNode): Promise<{ clock: NodeStatus['clock']; records: RecordView[]; counts: { live: number; deleted: number } }> {
  const status = await node.status();
  return { clock: status.clock, counts: { live: status.records.live, deleted: status.records.deleted }, records: await listAll(node) };
}

/** A deterministic customer. */
export function customer(i: number, extra: Record<string, unknown> = {}) {
  return {
    id: `c-${String(i).padStart(5, '0')}`,
    name: `Customer ${i}`,
    email: `customer${i}@example.com`,
    company: `Company ${i % 7}`,
    territory: ['north', 'south', 'east'][i % 3]!,
    owner: ['anna', 'ben'][i % 2]!,
    stage: 'lead' as const,
    tags: [`t${i % 4}`],
    ...extra,
  };
}
