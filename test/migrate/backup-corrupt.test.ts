/**
 * A damaged backup is refused with ERR_CORRUPT before anything is written: truncated
 * files, flipped bytes in the compressed file and inside the decompressed frames, and
 * well-formed files whose content breaks the format's rules. A file altered on purpose,
 * every hash recomputed so it passes all of that, is refused by the node's signature
 * checks, batch by batch, exactly as a peer's altered frame.
 *
 * The fixture is deterministic (a fixed clock and seeded random bytes for the node, a
 * fixed backup time; the node's and cluster's keys are fresh, but their bytes sit in
 * the header and in signatures, which every position check treats alike).
 */
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom, type CrmNode, type StoredEntry, type Timers } from '../../src/index.js';
import { createTestCluster, type TestCluster } from '../../src/testing.js';
import { realTimers } from '../../src/timers.js';
import { decodeValue, encodeEntry, encodeValue } from '../../src/migrate/backup-entry.js';
import { verifyBackup } from '../../src/migrate/backup-reader.js';
import { writeBackupFile } from '../../src/migrate/backup.js';
import { restoreBackup } from '../../src/migrate/restore.js';
import { chainNext, chainStart, entrySigningInput } from '../../src/crdt/origin-clock.js';
import { changeDigest } from '../../src/engine/entry-check.js';
import { loadNodeKeys } from '../../src/trust/keys.js';
import { clusterIdOf } from '../../src/trust/statements.js';
import { customer, snapshotOf, tempDir } from './helpers.js';
import { allEntries, buildBackup, memberAt, trustOf } from './backup-helpers.js';

let dir: string;
let remove: () => Promise<void>;
let cluster: TestCluster;
let source: CrmNode;
let target: CrmNode;
let good: Buffer;

/** A clock that starts at a fixed time and advances 1 ms per reading. */
function fixedClock(start: number): Timers {
  let now = start;
  return { now: () => now++, after: realTimers.after };
}

/** Seeded random bytes (ids, actor incarnations). */
function seededBytes(seed: number): (n: number) => Uint8Array {
  const random = seededRandom(seed);
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  cluster = createTestCluster();
  source = await memberAt(cluster, dir, 'source', 'source', { timers: fixedClock(1_700_000_000_000), random: seededRandom(7), randomBytes: seededBytes(11) });
  await source.records.upsertMany(Array.from({ length: 40 }, (_, i) => {
    const { id, ...fields } = customer(i);
    return { id, fields };
  }));
  await source.records.update('c-00003', { notes: 'x'.repeat(5000) });
  const file = join(dir, 'good.crmbak');
  await writeBackupFile(source, file, { blockBytes: 4096, now: () => 1_700_000_100_000 });
  good = await readFile(file);
  target = await memberAt(cluster, dir, 'target');
  await target.records.create({ id: 'mine', name: 'Target record' });
});
afterAll(async () => {
  await source.close();
  await target.close();
  await remove();
});

/**
 * A seeded choice of positions: all of the first and last 64, plus `n` distinct ones
 * spread between. Drawing until `n` are new matters: the file's length moves by a few
 * bytes with its fresh keys, and for some lengths (2,752 = 64 × 43) the generator's low
 * bits repeat, so a fixed number of draws gave as few as 50 new positions.
 */
function positions(length: number, n: number): number[] {
  const out = new Set<number>();
  for (let i = 0; i < Math.min(64, length); i++) out.add(i).add(length - 1 - i);
  const wanted = Math.min(length, out.size + n);
  let x = 12345;
  while (out.size < wanted) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.add(Math.floor((x / 2 ** 31) * length));
  }
  return [...out].sort((a, b) => a - b);
}

async function expectCorrupt(bytes: Buffer): Promise<void> {
  await expect(verifyBackup([bytes])).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
}

const flip = (bytes: Buffer, at: number) => {
  const copy = Buffer.from(bytes);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
};

describe('a corrupted backup', () => {
  it('is refused when truncated, and the target node is unchanged', async () => {
    const before = await snapshotOf(target);
    for (const length of [0, 5, 9, 30, good.length >> 1, good.length - 9, good.length - 1]) {
      const truncated = good.subarray(0, length);
      await expectCorrupt(truncated);
      await expect(restoreBackup(target, () => [truncated])).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    }
    expect(await snapshotOf(target)).toEqual(before);
  });

  // A flipped bit inside a DEFLATE back-reference can give a different but valid
  // stream that decompresses to the same bytes (a copy from a run of one repeated
  // character reads the same whatever the distance): then the backup is not damaged,
  // gzip's CRC-32 agrees, and accepting it is right. Every other flip must be refused.
  it('refuses any flipped byte of the compressed file that changes its content', async () => {
    const before = await snapshotOf(target);
    const content = gunzipSync(good);
    let refused = 0;
    for (const at of positions(good.length, 300)) {
      const bad = flip(good, at);
      const outcome = await verifyBackup([bad]).then(() => 'accepted' as const, (err: unknown) => err);
      if (outcome === 'accepted') {
        expect({ at, same: gunzipSync(bad).equals(content) }).toEqual({ at, same: true });
      } else {
        expect(outcome).toMatchObject({ code: 'ERR_CORRUPT' });
        refused++;
      }
    }
    expect(refused, `refused of ${positions(good.length, 300).length} positions in ${good.length} bytes`).toBeGreaterThan(300);
    await expect(restoreBackup(target, () => [flip(good, good.length >> 1)])).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    expect(await snapshotOf(target)).toEqual(before);
  });

  it('is refused with any flipped byte inside the decompressed frames', async () => {
    const inner = gunzipSync(good);
    for (const at of positions(inner.length, 300)) await expectCorrupt(gzipSync(flip(inner, at)));
  });

  it('is refused with bytes after the trailer or a frame of unknown kind', async () => {
    const inner = gunzipSync(good);
    await expectCorrupt(gzipSync(Buffer.concat([inner, Buffer.of(0)])));
    await expectCorrupt(gzipSync(inner.subarray(0, inner.length - 8)));
  });

  it('of format version 1 (unsigned logs) is refused with the way to migrate, not as corruption', async () => {
    const inner = Buffer.from(gunzipSync(good));
    inner.writeUInt16BE(1, 8);
    const refused = verifyBackup([gzipSync(inner)]);
    await expect(refused).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(refused).rejects.toThrow(/format version 1, .* unsigned: .*crmsync export .*crmsync import/);
    const before = await snapshotOf(target);
    await expect(restoreBackup(target, () => [gzipSync(inner)])).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    expect(await snapshotOf(target)).toEqual(before);
  });

  it('is refused when it is not a backup at all', async () => {
    await expectCorrupt(Buffer.from('id,name\n1,Ann\n'));
    await expectCorrupt(gzipSync(Buffer.from('id,name\n1,Ann\n')));
  });

  it('is refused when hashes match but the content breaks the rules', async () => {
    const entries = await source.exportEntries(0, 100);
    const header = trustOf(source);
    const build = (list: StoredEntry[], extra: { encoded?: Uint8Array[]; clock?: Record<string, number> } = {}) => buildBackup({
      header: { ...header, ...(extra.clock ? { clock: extra.clock } : {}) }, entries: list, ...(extra.encoded ? { encoded: extra.encoded } : {}),
    });
    const full = (await verifyBackup([build(entries)])).header.clock;
    // The builder itself makes valid files.
    await expect(verifyBackup([build(entries)])).resolves.toMatchObject({ entries: entries.length });
    // A gap in an origin's sequence.
    await expectCorrupt(build(entries.filter((_, i) => i !== 5), { clock: full }));
    // A header clock that does not match the entries.
    await expectCorrupt(build(entries, { clock: { ...full, source: 99 } }));
    // Entries out of log order.
    await expectCorrupt(build([entries[1]!, entries[0]!, ...entries.slice(2)]));
    // A log that does not end at a boundary (its last commit cut short).
    await expectCorrupt(build(entries.slice(0, 10)));
    // An entry that is not an entry; one with a key the format does not have; one with a `prev`.
    const rest = entries.slice(1).map(encodeEntry);
    await expectCorrupt(build(entries, { encoded: [Buffer.from([0xc0]), ...rest] }));
    await expectCorrupt(build(entries, { encoded: [encodeValue({ e: {}, l: 1 }), ...rest] }));
    const first = decodeValue(encodeEntry(entries[0]!)) as { e: Record<string, unknown>; l: number };
    await expectCorrupt(build(entries, { encoded: [encodeValue({ ...first, v: {} }), ...rest] }));
    await expectCorrupt(build(entries, { encoded: [encodeValue({ ...first, b: 1 }), ...rest] }));
    await expectCorrupt(build(entries, { encoded: [encodeValue({ ...first, e: { ...first.e, p: Buffer.alloc(32) } }), ...rest] }));
    // A header whose trust statements grant no key to an origin of its clock.
    await expectCorrupt(buildBackup({ header: { ...header, trust: [] }, entries }));
    // A header that is not of this format (no founder).
    await expectCorrupt(buildBackup({ header: { ...header, founder: 'source' }, entries }));
  });

  it('passes a read error of the file itself on as it is, not as corruption', async () => {
    await expect(verifyBackup(createReadStream(join(dir, 'missing.crmbak')))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('leaves the target unchanged when a corrupted file is restored from disk', async () => {
    const before = await snapshotOf(target);
    const bad = join(dir, 'bad.crmbak');
    await writeFile(bad, flip(good, good.length - 20));
    await expect(restoreBackup(target, () => createReadStream(bad))).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    expect(await snapshotOf(target)).toEqual(before);
  });
});

describe('a backup altered on purpose, every hash recomputed', () => {
  let signed: CrmNode;
  let entries: StoredEntry[];
  let fresh: CrmNode;
  beforeAll(async () => {
    // Five commits of 20 rows: a boundary every 20 entries, so batches of 20.
    signed = await memberAt(cluster, dir, 'signed');
    for (let c = 0; c < 5; c++) {
      await signed.records.upsertMany(Array.from({ length: 20 }, (_, i) => {
        const { id, ...fields } = customer(c * 20 + i);
        return { id, fields };
      }));
    }
    entries = await allEntries(signed);
    fresh = await memberAt(cluster, dir, 'fresh');
  });
  afterAll(async () => {
    await signed.close();
    await fresh.close();
  });

  /** The backup with entry `at` replaced; it passes every container check. */
  const altered = async (at: number, change: (e: StoredEntry) => StoredEntry) => {
    const bytes = buildBackup({ header: trustOf(signed), entries: entries.map((e, i) => (i === at ? change(e) : e)), blockEntries: 7 });
    await expect(verifyBackup([bytes])).resolves.toMatchObject({ entries: entries.length });
    return bytes;
  };

  it('is refused by signature verification in the batch it alters; earlier batches stay, the node runs on', async () => {
    const flipped = (e: StoredEntry) => {
      const change = Uint8Array.from(e.change);
      const at = change.length >> 1;
      change[at] = change[at]! ^ 0x01;
      return { ...e, change };
    };
    const unsigned = /not signed by that origin's key .*nothing of this batch was stored/;
    const cases: [Buffer, RegExp][] = [
      [await altered(65, flipped), unsigned], // an unsigned entry: the chain covers it
      [await altered(66, (e) => ({ ...e, record: 'c-99999' as StoredEntry['record'] })), unsigned],
      [await altered(79, (e) => ({ ...e, sig: entries[59]!.sig! })), unsigned], // another entry's signature
      [await altered(79, flipped), unsigned], // the signed entry itself
      [await altered(79, ({ sig: _, ...e }) => e), /must carry the origin's signature; nothing of this batch was stored/], // a boundary without its signature
    ];
    for (const [bytes, reason] of cases) {
      let progress = 0;
      const refused = restoreBackup(fresh, () => [bytes], { batchEntries: 20, onProgress: (done) => void (progress = done) });
      await expect(refused).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
      await expect(refused).rejects.toThrow(reason);
      // Batches 1-3 verified and stay (a merge); nothing of batch 4 was stored.
      expect((await fresh.status()).clock).toEqual({ signed: 60 });
      expect((await fresh.status()).lastLocalSeq).toBe(60);
      expect(progress).toBe(60);
    }
    expect(await fresh.records.get('c-00065')).toBeUndefined();
    await fresh.records.create({ id: 'still-running', name: 'Still running' });
    // The genuine file completes the restore.
    const good = buildBackup({ header: trustOf(signed), entries });
    expect(await restoreBackup(fresh, () => [good])).toMatchObject({ applied: 40, alreadyPresent: 60 });
    expect((await fresh.status()).clock).toEqual({ signed: 100, fresh: 1 });
    expect(await fresh.records.get('c-00065')).toEqual(await signed.records.get('c-00065'));
  });

  it('is refused before any entry is written when a trust statement was altered', async () => {
    const target = await memberAt(cluster, dir, 'trust-target');
    try {
      const [first, ...others] = trustOf(signed).trust as Record<string, unknown>[];
      const bytes = buildBackup({ header: { founder: cluster.founder.fingerprint, trust: [{ ...first, admin: true }, ...others] }, entries });
      await verifyBackup([bytes]);
      const before = target.exportTrust();
      await expect(restoreBackup(target, () => [bytes])).rejects.toMatchObject({ code: 'ERR_CORRUPT', message: expect.stringMatching(/trust statements do not verify/) });
      expect((await target.status()).lastLocalSeq).toBe(0);
      expect(target.exportTrust()).toEqual(before);
    } finally {
      await target.close();
    }
  });

  it('keeps a validly signed entry whose change is malformed, quarantined, as from a peer', async () => {
    // Only a member's own key can sign its entries: the member "forger" signs a change that is no Automerge change.
    const forger = cluster.member('forger');
    const keys = loadNodeKeys(forger.identity.privateKeyPem);
    const change = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const chain = chainNext(chainStart(clusterIdOf(cluster.founder.publicKey), 'forger'), { seq: 1, record: 'forged' }, changeDigest(change));
    const entry = {
      origin: 'forger', seq: 1, record: 'forged', change, sig: keys.sign(entrySigningInput(chain)), localSeq: 1, boundary: true,
    } as unknown as StoredEntry;
    const bytes = buildBackup({ header: { founder: cluster.founder.fingerprint, trust: forger.cluster.statements }, entries: [entry] });
    const target = await memberAt(cluster, dir, 'quarantine-target');
    try {
      expect(await restoreBackup(target, () => [bytes])).toMatchObject({ applied: 1, quarantined: 1, clock: { forger: 1 } });
      expect(await target.records.get('forged')).toBeUndefined();
    } finally {
      await target.close();
    }
  });
});
