/**
 * A damaged backup is refused with ERR_CORRUPT before anything is written: truncated
 * files, flipped bytes in the compressed file and inside the decompressed frames, and
 * well-formed files whose content breaks the format's rules.
 *
 * The fixture is deterministic (a fixed clock and seeded random bytes for the node, a
 * fixed backup time), so the same bytes are flipped in every run.
 */
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom, type CrmNode, type Timers } from '../../src/index.js';
import { realTimers } from '../../src/timers.js';
import { encodeEntry } from '../../src/migrate/backup-entry.js';
import { blockFrame, ChainDigest, headerFrame, trailerFrame } from '../../src/migrate/backup-format.js';
import { verifyBackup } from '../../src/migrate/backup-reader.js';
import { writeBackupFile } from '../../src/migrate/backup.js';
import { restoreBackup } from '../../src/migrate/restore.js';
import { customer, nodeAt, snapshotOf, tempDir } from './helpers.js';

let dir: string;
let remove: () => Promise<void>;
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
  source = await nodeAt(join(dir, 'source'), 'source', { timers: fixedClock(1_700_000_000_000), random: seededRandom(7), randomBytes: seededBytes(11) });
  await source.records.upsertMany(Array.from({ length: 40 }, (_, i) => {
    const { id, ...fields } = customer(i);
    return { id, fields };
  }));
  await source.records.update('c-00003', { notes: 'x'.repeat(5000) });
  const file = join(dir, 'good.crmbak');
  await writeBackupFile(source, file, { blockBytes: 4096, now: () => 1_700_000_100_000 });
  good = await readFile(file);
  target = await nodeAt(join(dir, 'target'), 'target');
  await target.records.create({ id: 'mine', name: 'Target record' });
});
afterAll(async () => {
  await source.close();
  await target.close();
  await remove();
});

/** A seeded choice of positions: all of the first and last 64, plus `n` spread between. */
function positions(length: number, n: number): number[] {
  const out = new Set<number>();
  for (let i = 0; i < Math.min(64, length); i++) out.add(i).add(length - 1 - i);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.add(x % length);
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
    expect(refused).toBeGreaterThan(300);
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

  it('is refused when it is not a backup at all', async () => {
    await expectCorrupt(Buffer.from('id,name\n1,Ann\n'));
    await expectCorrupt(gzipSync(Buffer.from('id,name\n1,Ann\n')));
  });

  it('is refused when hashes match but the content breaks the rules', async () => {
    const entries = await source.exportEntries(0, 100);
    const clockOf = (list: typeof entries) => {
      const clock: Record<string, number> = {};
      for (const e of list) clock[e.origin] = e.seq;
      return clock;
    };
    const build = (list: typeof entries, encoded = list.map(encodeEntry), clock = clockOf(list)) => {
      const head = headerFrame({ nodeId: 'source', createdAt: 1, clock, lastLocalSeq: list.at(-1)?.localSeq ?? 0 });
      const chain = new ChainDigest();
      chain.add(head.hash);
      const block = blockFrame(encoded);
      chain.add(block.hash);
      return gzipSync(Buffer.concat([head.bytes, block.bytes, trailerFrame(encoded.length, 1, chain.digest())]));
    };
    // The builder itself makes valid files.
    await expect(verifyBackup([build(entries)])).resolves.toMatchObject({ entries: entries.length });
    // A gap in an origin's sequence.
    await expectCorrupt(build(entries.filter((_, i) => i !== 5), undefined, clockOf(entries)));
    // A header clock that does not match the entries.
    await expectCorrupt(build(entries, undefined, { ...clockOf(entries), other: 3 }));
    // Entries out of log order.
    await expectCorrupt(build([entries[1]!, entries[0]!, ...entries.slice(2)]));
    // An entry whose view belongs to another record.
    const wrongView = { ...entries[0]!, view: { ...entries[0]!.view, id: entries[1]!.record } };
    await expectCorrupt(build([wrongView, ...entries.slice(1)]));
    // An entry that is not an entry.
    await expectCorrupt(build(entries, [Buffer.from([0xc0]), ...entries.slice(1).map(encodeEntry)]));
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
