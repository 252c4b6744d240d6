/**
 * Helpers for the backup tests: nodes that are members of one test cluster on real
 * LevelDB directories (one of them with a truncated log), and backup files built frame
 * by frame (every hash recomputed), so a test can alter exactly one thing and still pass
 * the container checks.
 */
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect, vi } from 'vitest';
import type { CrmNode, NodeOptions, StoredEntry } from '../../src/index.js';
import type { TestCluster } from '../../src/testing.js';
import { realTimers } from '../../src/timers.js';
import { encodeDocument, encodeFloors } from '../../src/migrate/backup-document.js';
import { encodeEntry } from '../../src/migrate/backup-entry.js';
import {
  BLOCK_KIND, DOCUMENTS_KIND, FLOORS_KIND, blockFrame, ChainDigest, headerFrame, payloadFrame, trailerFrame, type BackupHeader, type FormatVersion, type TrailerCounts,
} from '../../src/migrate/backup-format.js';
import { readBackup } from '../../src/migrate/backup-reader.js';
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
  return gzipSync(Buffer.concat([head.bytes, ...blocks, trailerFrame({ entries: encoded.length, blocks: blocks.length }, chain.digest())]));
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

/** Lifecycle limits under which a node truncates every entry older than a minute, checking every 50 ms. */
export const TRUNCATING = { logRetentionMs: 60_000, lifecycleIntervalMs: 50 };

/**
 * Member `nodeId` on `dir/name` whose log was truncated: 120 customers (one updated, one
 * deleted) were written, its clock moved two minutes on so the lifecycle truncated them
 * (compacting their records into snapshots first), and then a few more changes were made
 * (kept as entries: younger than the retention). So a backup of it holds documents,
 * floors and entries.
 */
export async function truncatedMember(cluster: TestCluster, dir: string, name: string, nodeId = name): Promise<CrmNode> {
  let offset = 0;
  const timers = { now: () => Date.now() + offset, after: realTimers.after };
  const node = await memberAt(cluster, dir, name, nodeId, { timers, limits: TRUNCATING });
  await seed(node, 120);
  await node.records.update('c-00003', { stage: 'won', addTags: ['vip'] });
  await node.records.delete('c-00004');
  offset += 120_000;
  await vi.waitFor(async () => expect((await node.status()).lifecycle.logStart).toBeGreaterThan(1), { timeout: 20_000, interval: 20 });
  await node.records.update('c-00005', { title: 'after the truncation', addTags: ['late'] });
  await node.records.create({ id: 'late-1', name: 'Late One' });
  await node.records.create({ id: 'late-2', name: 'Late Two' });
  await node.records.delete('c-00006');
  await node.records.delete('late-2');
  return node;
}

/** One frame of a backup between its header and trailer: its kind and its items, encoded. */
export interface RawFrame {
  kind: number;
  items: Uint8Array[];
}

/** A backup taken apart: header, version and frames, each item encoded again as the writer does. */
export async function framesOf(bytes: Buffer): Promise<{ header: BackupHeader; version: FormatVersion; frames: RawFrame[] }> {
  let header: BackupHeader | undefined;
  let version: FormatVersion = 2;
  const frames: RawFrame[] = [];
  for await (const frame of readBackup([bytes])) {
    if (frame.kind === 'header') ({ header, version } = frame);
    if (frame.kind === 'documents') frames.push({ kind: DOCUMENTS_KIND, items: frame.documents.map(encodeDocument) });
    if (frame.kind === 'floors') frames.push({ kind: FLOORS_KIND, items: [encodeFloors(frame.floors)] });
    if (frame.kind === 'block') {
      frames.push({ kind: BLOCK_KIND, items: frame.entries.map(({ entry, localSeq, boundary }) => encodeEntry({ ...entry, localSeq, boundary } as StoredEntry)) });
    }
  }
  return { header: header!, version, frames };
}

/**
 * A backup assembled from frames with every hash, the digest and the trailer computed
 * afresh (the counts from the frames, unless `counts` says otherwise).
 */
export function assemble(header: BackupHeader, version: FormatVersion, frames: readonly RawFrame[], counts: Partial<TrailerCounts> = {}): Buffer {
  const head = headerFrame(header, version);
  const chain = new ChainDigest();
  chain.add(head.hash);
  const bodies = frames.map((f) => {
    const frame = payloadFrame(f.kind, f.items);
    chain.add(frame.hash);
    return frame.bytes;
  });
  const of = (kind: number) => frames.filter((f) => f.kind === kind);
  const total: TrailerCounts = {
    entries: of(BLOCK_KIND).reduce((n, f) => n + f.items.length, 0), blocks: of(BLOCK_KIND).length,
    documents: of(DOCUMENTS_KIND).reduce((n, f) => n + f.items.length, 0), documentBlocks: of(DOCUMENTS_KIND).length, ...counts,
  };
  return gzipSync(Buffer.concat([head.bytes, ...bodies, trailerFrame(total, chain.digest(), version)]));
}
