import { describe, expect, it } from 'vitest';
import { DIGEST_FANOUT, DigestSnapshot, EMPTY_NODE_HASH, idKey, isDigestPath, nodeHash, recordHash, sameHash, type HeldRecord } from '../../src/sync/digest.js';
import { seededRandom } from '../../src/random.js';

const head = (n: number) => n.toString(16).padStart(64, '0');

function records(n: number, territories: (string | null)[] = [null]): HeldRecord[] {
  return Array.from({ length: n }, (_, i) => ({ id: `c_${i}`, heads: [head(i)], territory: territories[i % territories.length]! }));
}

function shuffled<T>(items: T[], seed: number): T[] {
  const random = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Every path from the group root down to `depth` whose summaries differ between two snapshots. */
function differingPaths(a: DigestSnapshot, b: DigestSnapshot, territory: string | null, depth: number): string[] {
  const out: string[] = [];
  const walk = (prefix: string) => {
    if (sameHash(a.node(territory, prefix).hash, b.node(territory, prefix).hash)) return;
    out.push(prefix);
    if (prefix.length < depth) for (let i = 0; i < DIGEST_FANOUT; i++) walk(prefix + i.toString(16));
  };
  walk('');
  return out;
}

describe('digest', () => {
  it('gives the same root and children for the same holdings inserted in any order', async () => {
    const all = records(2000, [null, 'north', 'south']);
    const a = await DigestSnapshot.build(all);
    const b = await DigestSnapshot.build(shuffled(all, 7));
    expect(a.size).toBe(2000);
    expect(a.groups().map((g) => g.territory)).toEqual([null, 'north', 'south']);
    for (const [i, g] of a.groups().entries()) {
      expect(sameHash(g.summary.hash, b.groups()[i]!.summary.hash)).toBe(true);
      expect(g.summary.count).toBe(b.groups()[i]!.summary.count);
    }
    expect(a.children('north', '3').map((c) => Buffer.from(c.hash).toString('hex'))).toEqual(b.children('north', '3').map((c) => Buffer.from(c.hash).toString('hex')));
  });

  it('treats the order of a record\'s heads as irrelevant and an empty territory as none', async () => {
    const a = await DigestSnapshot.build([{ id: 'x', heads: [head(1), head(2)], territory: '' }]);
    const b = await DigestSnapshot.build([{ id: 'x', heads: [head(2), head(1)], territory: null }]);
    expect(sameHash(a.node(null, '').hash, b.node(null, '').hash)).toBe(true);
  });

  it('changes exactly one path from the root to a leaf when one record\'s heads change', async () => {
    const all = records(5000);
    const changed = all.map((r) => (r.id === 'c_1234' ? { ...r, heads: [head(99_999)] } : r));
    const a = await DigestSnapshot.build(all);
    const b = await DigestSnapshot.build(changed);
    const paths = differingPaths(a, b, null, 4);
    const leaf = idKey('c_1234').toString(16).padStart(8, '0');
    expect(paths).toEqual(['', leaf.slice(0, 1), leaf.slice(0, 2), leaf.slice(0, 3), leaf.slice(0, 4)]);
    expect(a.ids(null, leaf.slice(0, 4))).toContain('c_1234');
  });

  it('sees a missing record as a difference on its path, with counts that say which side holds more', async () => {
    const all = records(300);
    const a = await DigestSnapshot.build(all);
    const b = await DigestSnapshot.build(all.filter((r) => r.id !== 'c_5'));
    const path = idKey('c_5').toString(16).padStart(8, '0').slice(0, 2);
    expect(differingPaths(a, b, null, 2)).toEqual(['', path[0], path]);
    expect(a.node(null, path).count - b.node(null, path).count).toBe(1);
  });

  it('summarises a node as the XOR of its children: every level agrees with a direct computation', async () => {
    const all = records(50);
    const snapshot = await DigestSnapshot.build(all);
    const xor = Buffer.alloc(32);
    for (const r of all) recordHash(r.id, r.heads).forEach((byte, i) => { xor[i]! ^= byte; });
    expect(sameHash(snapshot.node(null, '').hash, nodeHash(50, xor))).toBe(true);
    expect(snapshot.children(null, '').reduce((n, c) => n + c.count, 0)).toBe(50);
    expect(snapshot.node('elsewhere', '').hash).toBe(EMPTY_NODE_HASH);
    expect(snapshot.ids(null, '').sort()).toEqual(all.map((r) => r.id).sort());
    expect(() => snapshot.children(null, '01234567')).toThrow(TypeError);
  });

  it('accepts only hex paths up to the deepest level', () => {
    expect(isDigestPath('')).toBe(true);
    expect(isDigestPath('0af3')).toBe(true);
    expect(isDigestPath('0AF3')).toBe(false);
    expect(isDigestPath('012345678')).toBe(false);
    expect(isDigestPath('x')).toBe(false);
  });
});
