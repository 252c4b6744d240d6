/**
 * A real LevelDB store and its writer in a temp directory, and records written through the
 * writer as given metas (no Automerge document): for tests of engine parts that work on
 * stored metas, indexes and node state.
 */
import { Level } from 'level';
import { makeActorId } from '../../src/crdt/actor.js';
import type { RecordView } from '../../src/crdt/record-schema.js';
import { Writer } from '../../src/engine/writer.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { silentLogger } from '../../src/log.js';
import { openLevelStore } from '../../src/store/level-store.js';
import type { RecordMeta, Store } from '../../src/store/store.js';
import { parseNodeId, parseRecordId, type RecordId } from '../../src/types.js';

const KEY = 'ed25519:' + 'A'.repeat(43);

/** The LevelDB database of a store directory (to look at or damage its keys directly). */
export const level = (dir: string) => new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });

/** A record's meta with `conflicts` (heads from `heads` and the id). */
export function metaOf(id: string, conflicts: string[], heads = 'h1'): RecordMeta {
  const view: RecordView = { id: id as RecordId, name: `n-${id}`, address: {}, tags: [], notes: '', interactions: 0, custom: {}, createdAt: 1, updatedAt: 2, deleted: false, conflicts };
  return { state: { heads: [`${heads}-${id}`], maxOp: 1, actors: [], ops: {} }, view, snapshotAt: 0, pending: 0 };
}

/** A store and its writer on `dir`; close() drains and closes both. */
export async function openAt(dir: string): Promise<{ store: Store; writer: Writer; close(): Promise<void> }> {
  const store = await openLevelStore(level(dir), { createIdentity: () => ({ nodeId: parseNodeId('a'), key: KEY, founder: KEY }), logTailSize: 8, groupCommitMax: 16 });
  const writer = new Writer({ store, actor: makeActorId(parseNodeId('a'), new Uint8Array(8)), limits: DEFAULT_LIMITS, logger: silentLogger(), identity: { cluster: 'c', sign: () => new Uint8Array(64) } });
  return { store, writer, async close() { await writer.drain(); writer.close(); await store.close(); } };
}

/** Writes `meta` as the record's newest state through the writer; resolves once durable. */
export async function put(writer: Writer, id: string, meta: RecordMeta): Promise<void> {
  const staged = await writer.run(async () => {
    const [before] = await writer.metasFor([parseRecordId(id)]);
    return { durable: writer.commit({ records: [{ id: parseRecordId(id), before, after: meta }], entries: [], clock: [] }) };
  });
  await staged.durable;
}
