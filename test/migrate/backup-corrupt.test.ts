/**
 * A damaged backup is refused with ERR_CORRUPT before anything is written: truncated
 * files, flipped bytes in the compressed file and inside the decompressed frames, and
 * well-formed files whose content breaks the format's rules; for a backup of a truncated
 * log (format version 3) also in its document blocks and floors frame. A file altered on purpose,
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
import { decodeFloors, encodeDocument, encodeFloors } from '../../src/migrate/backup-document.js';
import { decodeValue, encodeEntry, encodeValue } from '../../src/migrate/backup-entry.js';
import { BLOCK_KIND, DOCUMENTS_KIND, FLOORS_KIND, TRAILER_KIND } from '../../src/migrate/backup-format.js';
import { verifyBackup } from '../../src/migrate/backup-reader.js';
import { writeBackupFile } from '../../src/migrate/backup.js';
import { restoreBackup } from '../../src/migrate/restore.js';
import { chainNext, chainStart, entrySigningInput } from '../../src/crdt/origin-clock.js';
import { changeDigest } from '../../src/engine/entry-check.js';
import { loadNodeKeys } from '../../src/trust/keys.js';
import { clusterIdOf } from '../../src/trust/statements.js';
import { customer, snapshotOf, tempDir } from './helpers.js';
import { allEntries, assemble, buildBackup, framesOf, memberAt, trustOf, truncatedMember, type RawFrame } from './backup-helpers.js';

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

/** Where each frame of a decompressed backup lies: the header (kind 0), every payload frame, the trailer. */
function frameSpans(inner: Buffer): { kind: number; start: number; end: number }[] {
  let at = 14 + inner.readUInt32BE(10) + 32;
  const spans = [{ kind: 0, start: 0, end: at }];
  while (inner[at] !== TRAILER_KIND) {
    const end = at + 41 + inner.readUInt32BE(at + 1);
    spans.push({ kind: inner[at]!, start: at, end });
    at = end;
  }
  return [...spans, { kind: TRAILER_KIND, start: at, end: inner.length }];
}

describe('a corrupted backup of a truncated log (format version 3)', () => {
  let truncated: CrmNode;
  let v3: Buffer;
  let inner: Buffer;
  let spans: { kind: number; start: number; end: number }[];
  let parts: Awaited<ReturnType<typeof framesOf>>;
  beforeAll(async () => {
    truncated = await truncatedMember(cluster, dir, 'truncated');
    const file = join(dir, 'truncated.crmbak');
    await writeBackupFile(truncated, file, { blockBytes: 2048, pageEntries: 2 });
    v3 = await readFile(file);
    inner = gunzipSync(v3);
    spans = frameSpans(inner);
    parts = await framesOf(v3);
  });
  afterAll(async () => {
    await truncated.close();
  });

  const inside = (kind: number) => spans.filter((s) => s.kind === kind);
  /** The backup with its frames replaced (every hash recomputed), and trailer counts overridden. */
  const rebuilt = (edit: (frames: RawFrame[]) => RawFrame[], counts = {}, header = parts.header) => assemble(header, parts.version, edit(parts.frames.map((f) => ({ ...f, items: [...f.items] }))), counts);
  const floorsWith = (change: (floors: ReturnType<typeof decodeFloors>) => unknown) => rebuilt((frames) => frames.map((f) => (
    f.kind === FLOORS_KIND ? { kind: f.kind, items: [encodeValue(change(decodeFloors(f.items[0]!)))] } : f
  )));

  it('has several document blocks, one floors frame and entry blocks, in that order', () => {
    expect(spans.map((s) => s.kind).filter((k) => k !== DOCUMENTS_KIND && k !== BLOCK_KIND)).toEqual([0, FLOORS_KIND, TRAILER_KIND]);
    expect(inside(DOCUMENTS_KIND).length).toBeGreaterThan(2);
    expect(spans.findIndex((s) => s.kind === FLOORS_KIND)).toBe(inside(DOCUMENTS_KIND).length + 1);
    expect(inside(BLOCK_KIND).length).toBeGreaterThan(0);
  });

  it('is refused when truncated inside its documents, floors or entries, and the target is unchanged', async () => {
    const before = await snapshotOf(target);
    const cuts = [...inside(DOCUMENTS_KIND), ...inside(FLOORS_KIND), ...inside(BLOCK_KIND)].flatMap((s) => [s.start, s.start + 1, s.start + 20, (s.start + s.end) >> 1, s.end - 1]);
    for (const at of cuts) await expectCorrupt(gzipSync(inner.subarray(0, at)));
    for (const length of [v3.length >> 2, v3.length >> 1, v3.length - 30]) {
      await expect(restoreBackup(target, () => [v3.subarray(0, length)])).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    }
    expect(await snapshotOf(target)).toEqual(before);
  });

  it('is refused with any flipped byte inside its document blocks and floors frame', async () => {
    for (const span of [...inside(DOCUMENTS_KIND).slice(0, 2), ...inside(FLOORS_KIND)]) {
      for (const at of positions(span.end - span.start, 150)) await expectCorrupt(gzipSync(flip(inner, span.start + at)));
    }
  });

  it('refuses any flipped byte of the compressed file that changes its content', async () => {
    const content = inner;
    for (const at of positions(v3.length, 200)) {
      const bad = flip(v3, at);
      const outcome = await verifyBackup([bad]).then(() => 'accepted' as const, (err: unknown) => err);
      if (outcome === 'accepted') expect({ at, same: gunzipSync(bad).equals(content) }).toEqual({ at, same: true });
      else expect(outcome).toMatchObject({ code: 'ERR_CORRUPT' });
    }
  });

  it('is refused when hashes match but its documents break the rules', async () => {
    // The builder itself makes valid files.
    await expect(verifyBackup([rebuilt((f) => f)])).resolves.toMatchObject({ version: 3, documents: parts.frames.filter((f) => f.kind === DOCUMENTS_KIND).reduce((n, f) => n + f.items.length, 0) });
    const firstDocuments = (change: (items: Uint8Array[]) => Uint8Array[]) => rebuilt((frames) => {
      frames[0] = { kind: DOCUMENTS_KIND, items: change(frames[0]!.items) };
      return frames;
    });
    const doc = encodeDocument({ id: 'zz-new', doc: Uint8Array.of(1, 2, 3) });
    // Out of id order, a document twice, a document before the previous block's last.
    await expectCorrupt(firstDocuments(([a, b, ...rest]) => [b!, a!, ...rest]));
    await expectCorrupt(firstDocuments((items) => [items[0]!, ...items]));
    await expectCorrupt(rebuilt((frames) => [frames[1]!, frames[0]!, ...frames.slice(2)]));
    // Not MessagePack, not a map, an unknown key, an invalid record id, no bytes.
    await expectCorrupt(firstDocuments((items) => [...items, Buffer.from([0x82, 0xa1])]));
    await expectCorrupt(firstDocuments((items) => [encodeValue('c-0'), ...items]));
    await expectCorrupt(firstDocuments((items) => [encodeValue({ i: '0', d: Uint8Array.of(1), x: 1 }), ...items]));
    await expectCorrupt(firstDocuments((items) => [encodeValue({ i: 'not an id!', d: Uint8Array.of(1) }), ...items]));
    await expectCorrupt(firstDocuments((items) => [encodeValue({ i: '0', d: new Uint8Array(0) }), ...items]));
    // Trailer counts that do not match.
    await expectCorrupt(rebuilt((f) => f, { documents: 1 }));
    await expectCorrupt(rebuilt((f) => f, { documentBlocks: 1 }));
    // A document block after the floors frame, or after the entries; in a version 2 file.
    await expectCorrupt(rebuilt((frames) => [...frames, { kind: DOCUMENTS_KIND, items: [doc] }]));
    await expectCorrupt(rebuilt((frames) => frames.flatMap((f) => (f.kind === FLOORS_KIND ? [f, { kind: DOCUMENTS_KIND, items: [doc] }] : [f]))));
    await expectCorrupt(assemble(parts.header, 2, parts.frames));
  });

  it('is refused when hashes match but its floors break the rules', async () => {
    const floor = decodeFloors(parts.frames.find((f) => f.kind === FLOORS_KIND)!.items[0]!);
    const first = floor.floors[0]!;
    const asValue = (f: typeof first) => ({ o: f.origin, s: f.seq, c: f.chain, g: f.sig, p: f.prev, r: f.record, d: f.digest });
    // No floors frame, two of them, one of two items, entries before it.
    await expectCorrupt(rebuilt((frames) => frames.filter((f) => f.kind !== FLOORS_KIND)));
    await expectCorrupt(rebuilt((frames) => frames.flatMap((f) => (f.kind === FLOORS_KIND ? [f, f] : [f]))));
    await expectCorrupt(rebuilt((frames) => frames.map((f) => (f.kind === FLOORS_KIND ? { kind: f.kind, items: [f.items[0]!, f.items[0]!] } : f))));
    await expectCorrupt(rebuilt((frames) => [...frames.filter((f) => f.kind !== FLOORS_KIND), ...frames.filter((f) => f.kind === FLOORS_KIND)]));
    // Not a map, unknown keys, a log start after the header's log.
    await expectCorrupt(floorsWith(() => [1, 2]));
    await expectCorrupt(floorsWith((f) => ({ s: f.logStart, f: f.floors.map(asValue), x: 1 })));
    await expectCorrupt(floorsWith((f) => ({ s: f.logStart, f: f.floors.map((x) => ({ ...asValue(x), x: 1 })) })));
    await expectCorrupt(floorsWith((f) => ({ s: parts.header.lastLocalSeq + 2, f: f.floors.map(asValue) })));
    // A floor above the header's clock, below the first entry (a gap), twice for one origin.
    await expectCorrupt(floorsWith((f) => ({ s: f.logStart, f: [{ ...asValue(first), s: first.seq + 100 }] })));
    await expectCorrupt(floorsWith((f) => ({ s: f.logStart, f: [{ ...asValue(first), s: first.seq - 1 }] })));
    await expectCorrupt(floorsWith((f) => ({ s: f.logStart, f: [asValue(first), asValue(first)] })));
    // Malformed fields: origin, chain, signature, previous chain, record, digest.
    for (const bad of [{ o: 'Not An Id' }, { c: 'xyz' }, { g: new Uint8Array(63) }, { p: first.chain.slice(2) }, { r: '' }, { d: 7 }]) {
      await expectCorrupt(floorsWith((f) => ({ s: f.logStart, f: [{ ...asValue(first), ...bad }] })));
    }
    // No floor for an origin whose entries start above seq 1.
    await expectCorrupt(floorsWith((f) => ({ s: f.logStart, f: [] })));
  });

  it('is refused as corrupt by the node when a document, every hash recomputed, is no Automerge document; the node keeps what it held', async () => {
    const node = await memberAt(cluster, dir, 'documents-target');
    try {
      await node.records.create({ id: 'mine', name: 'Mine' });
      const before = await snapshotOf(node);
      const bytes = rebuilt((frames) => {
        const items = [...frames[1]!.items];
        const { i } = decodeValue(items[0]!) as { i: string };
        items[0] = encodeDocument({ id: i, doc: Uint8Array.from({ length: 40 }, (_, k) => k) });
        frames[1] = { kind: DOCUMENTS_KIND, items };
        return frames;
      });
      await expect(verifyBackup([bytes])).resolves.toMatchObject({ version: 3 });
      const refused = restoreBackup(node, () => [bytes], { batchDocuments: 4 });
      await expect(refused).rejects.toMatchObject({ code: 'ERR_CORRUPT', message: expect.stringMatching(/backup documents refused: .*does not load/) });
      const after = await snapshotOf(node);
      expect(after.clock).toEqual(before.clock);
      expect(after.records).toEqual(expect.arrayContaining(before.records));
    } finally {
      await node.close();
    }
  });
});
