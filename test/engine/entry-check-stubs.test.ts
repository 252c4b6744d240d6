/**
 * Stub entries (change-entry.ts) in the first gate of ingest: a stub's chain step uses
 * its carried digest, so a run mixing full entries and stubs verifies against the
 * origin's signature exactly as the full run does, and a stub whose digest is not the
 * change's breaks the chain (ERR_SIGNATURE).
 */
import { describe, expect, it } from 'vitest';
import { stubOf, type ChangeEntry } from '../../src/crdt/change-entry.js';
import { entryFromValue } from '../../src/sync/codec.js';
import { checkFrame, type OriginAuthority } from '../../src/engine/entry-check.js';
import { generateNodeKeys, SignatureVerifier } from '../../src/trust/keys.js';
import { OriginLog } from '../support/origin-log.js';

const CLUSTER = 'cluster-x';
const keys = generateNodeKeys();
const authority: OriginAuthority = {
  cluster: CLUSTER, verifier: new SignatureVerifier(),
  writer: (origin) => (origin === 'o' ? { key: keys.publicKey, upTo: Number.MAX_SAFE_INTEGER } : undefined),
};
const noChains = async () => undefined;

function run(count: number): ChangeEntry[] {
  const log = new OriginLog(CLUSTER, 'o', keys);
  const values = log.next(Array.from({ length: count }, (_, i) => ({ record: `r${i}`, change: Buffer.from(`change ${i}`) })));
  return values.map((v) => {
    const parsed = entryFromValue(v);
    if ('error' in parsed) throw new Error(parsed.error);
    return parsed.entry;
  });
}

describe('stub entries in the chain check', () => {
  it('a run of full entries and stubs verifies like the full run', async () => {
    const entries = run(5).map((e, i) => (i % 2 === 0 ? stubOf(e) : e));
    expect(entries[0]!.change).toHaveLength(0);
    const check = await checkFrame(entries, new Map(), authority, noChains);
    expect('runs' in check && check.runs[0]!.fresh.length).toBe(5);
  });

  it('a stub whose digest does not chain is refused (ERR_SIGNATURE)', async () => {
    const entries = run(3);
    entries[1] = { ...stubOf(entries[1]!), digest: 'ab'.repeat(32) };
    await expect(checkFrame(entries, new Map(), authority, noChains)).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
  });

  it('a stub re-labelled with another record id is refused (the chain binds the id)', async () => {
    const entries = run(3);
    entries[1] = { ...stubOf(entries[1]!), record: 'other' as ChangeEntry['record'] };
    await expect(checkFrame(entries, new Map(), authority, noChains)).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
  });
});
