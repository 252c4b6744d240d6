import { MemoryLevel } from 'memory-level';
import { afterEach, describe, expect, it } from 'vitest';
import { openNode, type CrmNode } from '../../src/index.js';
import { hasCode } from '../../src/errors.js';

let node: CrmNode | undefined;
afterEach(async () => node?.close());

async function seeded(): Promise<CrmNode> {
  node = await openNode({ db: new MemoryLevel({ keyEncoding: 'utf8', valueEncoding: 'view' }), nodeId: 'q', listen: false, sync: false });
  const territories = ['emea', 'apac', 'amer'];
  for (let i = 0; i < 60; i++) {
    await node.records.create({
      id: `c${String(i).padStart(3, '0')}`, name: i % 10 === 0 ? `Ada Smith ${i}` : `Person ${i}`,
      email: `p${i}@${i % 2 ? 'acme' : 'globex'}.com`, company: i % 3 ? 'Acme Corp' : 'Globex', territory: territories[i % 3]!,
      owner: i % 4 ? 'alice' : 'bob', stage: i % 5 ? 'lead' : 'won',
    });
  }
  return node;
}

async function all(n: CrmNode, options: Parameters<CrmNode['records']['list']>[0]): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  do {
    const page = await n.records.list({ ...options, after, limit: 7 });
    ids.push(...page.records.map((r) => r.id));
    after = page.next;
  } while (after);
  return ids;
}

describe('record listing', () => {
  it('pages through everything with a cursor', async () => {
    const n = await seeded();
    expect(await all(n, {})).toHaveLength(60);
  });

  it('filters by territory, owner and stage from indexes, combined', async () => {
    const n = await seeded();
    const expected = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 3 === 1 && i % 4 !== 0 && i % 5 === 0).map((i) => `c${String(i).padStart(3, '0')}`);
    expect((await all(n, { territory: 'apac', owner: 'alice', stage: 'won' })).sort()).toEqual(expected);
  });

  it('finds records by a word prefix of name, company or e-mail, once each', async () => {
    const n = await seeded();
    expect((await all(n, { q: 'ada' })).sort()).toEqual(['c000', 'c010', 'c020', 'c030', 'c040', 'c050']);
    expect(await all(n, { q: 'GLOB' })).toHaveLength(new Set([...Array(60).keys()].filter((i) => i % 2 === 0 || i % 3 === 0)).size);
    expect(await all(n, { q: 'p7@acme.com' })).toEqual(['c007']);
  });

  it('follows updates and deletes in the indexes', async () => {
    const n = await seeded();
    await n.records.update('c001', { territory: 'emea' });
    await n.records.delete('c004');
    expect(await all(n, { territory: 'emea' })).toContain('c001');
    expect(await all(n, { territory: 'apac' })).not.toContain('c001');
    expect(await all(n, { territory: 'apac' })).not.toContain('c004');
    const since = (await n.records.get('c001'))!.updatedAt;
    expect(await all(n, { updatedSince: since })).toContain('c001');
  });

  it('refuses a malformed cursor with ERR_VALIDATION', async () => {
    const n = await seeded();
    let error: unknown;
    await n.records.list({ territory: 'emea', after: '' }).catch((e) => (error = e));
    expect(hasCode(error, 'ERR_VALIDATION')).toBe(true);
  });
});
