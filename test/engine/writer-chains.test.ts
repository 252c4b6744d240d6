/**
 * Writer invariant 6: the chain hash of an entry whose commit is queued but not yet
 * durable is answered from memory. The heads already count such an entry, and a run
 * from another peer overlapping it was reported as a fork (held "") when chainAt read
 * only the store.
 */
import { describe, expect, it } from 'vitest';
import type { LoggedEntry, StoredEntry } from '../../src/crdt/change-entry.js';
import { Writer } from '../../src/engine/writer.js';
import { DEFAULT_LIMITS, silentLogger } from '../../src/index.js';
import type { Mutation, Store } from '../../src/store/store.js';

/** A store whose commits become durable when the test says so; chainAt knows only durable entries. */
function heldStore() {
  const durable = new Map<string, string>();
  let release: (() => void) | undefined;
  const store = {
    clock: new Map(),
    nodeId: 'b',
    commit(mutation: Mutation): Promise<StoredEntry[]> {
      return new Promise((resolve) => {
        release = () => {
          for (const e of mutation.entries) durable.set(`${e.origin}/${e.seq}`, e.chain);
          resolve(mutation.entries.map((e, i) => ({ ...e, localSeq: i + 1 })));
        };
      });
    },
    chainAt: async (origin: string, seq: number) => durable.get(`${origin}/${seq}`),
  };
  return { store: store as unknown as Store, release: () => release!() };
}

describe('Writer.chainAt', () => {
  it('answers for entries queued but not yet durable, and from the store afterwards', async () => {
    const { store, release } = heldStore();
    const writer = new Writer({ store, actor: 'ab'.repeat(16), limits: DEFAULT_LIMITS, logger: silentLogger(), identity: { cluster: 'c', sign: () => new Uint8Array(64) } });
    const entry = { origin: 'a', seq: 1, chain: 'cd'.repeat(32) } as LoggedEntry;
    const committed = writer.commit({ records: [], entries: [entry], clock: [['a', { seq: 1, hash: entry.chain }]] });
    expect(await writer.chainAt('a', 1)).toBe(entry.chain);
    expect(await writer.chainAt('a', 2)).toBeUndefined();
    release();
    await committed;
    expect(await writer.chainAt('a', 1)).toBe(entry.chain);
    writer.close();
  });
});
