/**
 * Helpers for the backup tests: nodes that are members of one test cluster on real
 * LevelDB directories, and backup files built frame by frame (every hash recomputed), so
 * a test can alter exactly one thing and still pass the container checks.
 */
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { CrmNode, NodeOptions, StoredEntry } from '../../src/index.js';
import type { TestCluster } from '../../src/testing.js';
import { encodeEntry } from '../../src/migrate/backup-entry.js';
import { blockFrame, ChainDigest, headerFrame, trailerFrame, type BackupHeader } from '../../src/migrate/backup-format.js';
import { customer, nodeAt } from './helpers.js';

/** Opens member `nodeId` of `cluster` on `dir/name`. */
export function memberAt(cluster: TestCluster, dir: string, name: string, nodeId = name, options: Partial<NodeOptions> = {}): Promise<CrmNode> {
  return nodeAt(join(dir, name), nodeId, { ...cluster.member(nodeId), ...options });
}

/** Upserts `count` deterministic customers from `from` on, 50 per commit. */
export async function seed(n: CrmNode, count: number, from = 0, extra: (i: number) => Record<string, unknown> = () => ({})): Promise<void> {
  for (let i = from; i < from + count; i += 50) {
    const items = Array.from({ length: Math.min(50, from + count - i) }, (_, k) => {
      const { id, ...fields } = customer(i + k, extra(i + k));
      return { id, fields };
    });
    await n.records.upsertMany(items);
  }
}

/** The clock a list of entries reaches. */
export function clockOf(entries: readonly StoredEntry[]): Record<string, number> {
  const clock: Record<string, number> = {};
  for (const e of entries) clock[e.origin] = e.seq;
  return clock;
}

/**
 * A backup file (gzip bytes) of `entries` with every hash, count and the trailer digest
 * computed afresh: whatever the entries hold, the container checks pass. `encoded`
 * replaces the entries' encoding, `header` parts of the header.
 */
export function buildBackup(
  source: { header: Pick<BackupHeader, 'founder' | 'trust'> & Partial<BackupHeader>; entries: readonly StoredEntry[]; encoded?: Uint8Array[]; blockEntries?: number },
): Buffer {
  const { entries } = source;
  const encoded = source.encoded ?? entries.map(encodeEntry);
  const head = headerFrame({
    nodeId: 'source', createdAt: 1, clock: clockOf(entries), lastLocalSeq: entries.at(-1)?.localSeq ?? 0, ...source.header,
  });
  const chain = new ChainDigest();
  chain.add(head.hash);
  const blocks: Buffer[] = [];
  const per = source.blockEntries ?? (encoded.length || 1);
  for (let i = 0; i < encoded.length; i += per) {
    const block = blockFrame(encoded.slice(i, i + per));
    chain.add(block.hash);
    blocks.push(block.bytes);
  }
  return gzipSync(Buffer.concat([head.bytes, ...blocks, trailerFrame(encoded.length, blocks.length, chain.digest())]));
}

/** The header fields a built backup of `node` needs to be of its cluster. */
export function trustOf(node: CrmNode): Pick<BackupHeader, 'founder' | 'trust'> {
  return { founder: node.trust.view().founder, trust: node.exportTrust() };
}

/** Every log entry of a node. */
export async function allEntries(node: CrmNode): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  for (;;) {
    const page = await node.exportEntries(out.at(-1)?.localSeq ?? 0, 1000);
    if (page.length === 0) return out;
    out.push(...page);
  }
}
