/**
 * The /v1/customers routes over real HTTP against a real node: success, bad input
 * (400 with details), 404, 409, idempotent create, list filters and paging, PATCH,
 * delete/restore, history. Responses are checked against the documented schemas.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { idempotentRecordId } from '../../src/api/routes.js';
import { responses } from '../../src/api/schemas.js';
import { ApiHarness, type ApiNode } from './helpers.js';

const h = new ApiHarness();
let a: ApiNode;
beforeEach(async () => {
  a = await h.start();
});
afterEach(() => h.cleanup());

describe('create and read', () => {
  it('creates with a generated id, reads it back, and answers with the documented shape', async () => {
    const created = await a.call('POST', '/v1/customers', { body: { name: 'Ada Lovelace', email: 'ADA@Example.org', territory: 'emea' } });
    expect(created.status).toBe(201);
    expect(responses.customer.parse(created.json).customer).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.org', deleted: false });
    const id = created.json.customer.id as string;
    expect(created.headers.get('location')).toBe(`/v1/customers/${id}`);
    const read = await a.call('GET', created.headers.get('location')!);
    expect(read.status).toBe(200);
    expect(read.json).toEqual(created.json);
  });

  it('rejects invalid records with field details', async () => {
    const bad = await a.call('POST', '/v1/customers', { body: { email: 'not-an-email', stage: 'maybe', colour: 'red' } });
    expect(bad.status).toBe(400);
    expect(responses.error.parse(bad.json).error.code).toBe('ERR_VALIDATION');
    const fields = (bad.json.error.details as Array<{ field: string }>).map((d) => d.field).sort();
    expect(fields).toEqual(['colour', 'email', 'name', 'stage']);
  });

  it('rejects malformed JSON and a missing body with ERR_VALIDATION', async () => {
    const malformed = await a.call('POST', '/v1/customers', { raw: '{"name": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error.code).toBe('ERR_VALIDATION');
    const missing = await a.call('POST', '/v1/customers');
    expect(missing.status).toBe(400);
    expect(missing.json.error.details).toEqual([{ field: '(root)', message: expect.any(String) }]);
  });

  it('answers 404 for an unknown customer and 400 for an impossible id', async () => {
    const missing = await a.call('GET', '/v1/customers/c_missing');
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('ERR_NOT_FOUND');
    for (const path of ['/v1/customers/c_missing/conflicts', '/v1/customers/c_missing/history']) {
      expect((await a.call('GET', path)).status).toBe(404);
    }
    const bad = await a.call('GET', '/v1/customers/-bad%20id');
    expect(bad.status).toBe(400);
    expect(bad.json.error.details).toEqual([{ field: 'id', message: expect.any(String) }]);
  });

  it('answers 409 ERR_EXISTS when creating an id twice', async () => {
    expect((await a.call('POST', '/v1/customers', { body: { id: 'acme', name: 'Acme' } })).status).toBe(201);
    const again = await a.call('POST', '/v1/customers', { body: { id: 'acme', name: 'Acme again' } });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('ERR_EXISTS');
    expect((await a.call('GET', '/v1/customers/acme')).json.customer.name).toBe('Acme');
  });
});

describe('Idempotency-Key', () => {
  it('a retry returns the same customer with 200 and Idempotent-Replayed, and creates nothing', async () => {
    const headers = { 'Idempotency-Key': 'order-7781/attempt' };
    const first = await a.call('POST', '/v1/customers', { body: { name: 'Grace Hopper' }, headers });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(first.json.customer.id).toBe(idempotentRecordId('order-7781/attempt'));

    const retry = await a.call('POST', '/v1/customers', { body: { name: 'Grace Hopper' }, headers });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.json).toEqual(first.json);

    const list = await a.call('GET', '/v1/customers');
    expect(list.json.customers).toHaveLength(1);
    expect((await a.node.status()).lastLocalSeq).toBe(1);
  });

  it('different keys create different customers; an invalid key is a 400', async () => {
    const one = await a.call('POST', '/v1/customers', { body: { name: 'Twin' }, headers: { 'Idempotency-Key': 'k1' } });
    const two = await a.call('POST', '/v1/customers', { body: { name: 'Twin' }, headers: { 'Idempotency-Key': 'k2' } });
    expect([one.status, two.status]).toEqual([201, 201]);
    expect(one.json.customer.id).not.toBe(two.json.customer.id);
    const bad = await a.call('POST', '/v1/customers', { body: { name: 'x' }, headers: { 'Idempotency-Key': 'ü'.repeat(3) } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].field).toBe('Idempotency-Key');
    const long = await a.call('POST', '/v1/customers', { body: { name: 'x' }, headers: { 'Idempotency-Key': 'k'.repeat(201) } });
    expect(long.status).toBe(400);
  });
});

describe('update, replace, delete, restore, history', () => {
  it('PATCH changes only the given fields; null clears one', async () => {
    await a.call('POST', '/v1/customers', { body: { id: 'acme', name: 'Acme', phone: '+1 555 0100', stage: 'lead', tags: ['vip'] } });
    const patched = await a.call('PATCH', '/v1/customers/acme', { body: { stage: 'qualified', phone: null, addTags: ['emea'] } });
    expect(patched.status).toBe(200);
    expect(patched.json.customer).toMatchObject({ name: 'Acme', stage: 'qualified' });
    expect(patched.json.customer.tags.sort()).toEqual(['emea', 'vip']);
    expect(patched.json.customer.phone).toBeUndefined();
    const bad = await a.call('PATCH', '/v1/customers/acme', { body: { stage: 'sold' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details).toEqual([{ field: 'stage', message: expect.any(String) }]);
    expect((await a.call('PATCH', '/v1/customers/nobody', { body: { stage: 'won' } })).status).toBe(404);
  });

  it('PUT creates (201 with Location) or replaces (200); a body id must match the path', async () => {
    const created = await a.call('PUT', '/v1/customers/acme', { body: { name: 'Acme', phone: '+1 555 0100' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/customers/acme');
    const replaced = await a.call('PUT', '/v1/customers/acme', { body: { name: 'Acme Corp' } });
    expect([replaced.status, replaced.headers.get('location')]).toEqual([200, null]);
    expect(replaced.json.customer).toMatchObject({ id: 'acme', name: 'Acme Corp' });
    expect(replaced.json.customer.phone).toBeUndefined();
    const mismatch = await a.call('PUT', '/v1/customers/acme', { body: { id: 'other', name: 'X' } });
    expect(mismatch.status).toBe(400);
    expect(mismatch.json.error.details[0].field).toBe('id');
    // A deleted customer still exists (GET answers it): PUT replaces it.
    await a.call('DELETE', '/v1/customers/acme');
    const overTombstone = await a.call('PUT', '/v1/customers/acme', { body: { name: 'Acme again' } });
    expect(overTombstone.status).toBe(200);
  });

  it('DELETE writes a tombstone that GET still shows and restore clears', async () => {
    await a.call('POST', '/v1/customers', { body: { id: 'acme', name: 'Acme' } });
    const deleted = await a.call('DELETE', '/v1/customers/acme');
    expect(deleted.status).toBe(200);
    expect(deleted.json.customer.deleted).toBe(true);
    expect((await a.call('GET', '/v1/customers/acme')).json.customer.deleted).toBe(true);
    expect((await a.call('GET', '/v1/customers')).json.customers).toEqual([]);
    expect((await a.call('DELETE', '/v1/customers/acme')).status).toBe(404);
    expect((await a.call('PATCH', '/v1/customers/acme', { body: { name: 'B' } })).status).toBe(404);
    const restored = await a.call('POST', '/v1/customers/acme/restore');
    expect(restored.status).toBe(200);
    expect(restored.json.customer.deleted).toBe(false);
    expect((await a.call('POST', '/v1/customers/nobody/restore')).status).toBe(404);
  });

  it('history lists every change with its fields; limit is validated', async () => {
    await a.call('POST', '/v1/customers', { body: { id: 'acme', name: 'Acme' } });
    await a.call('PATCH', '/v1/customers/acme', { body: { stage: 'won' } });
    const history = await a.call('GET', '/v1/customers/acme/history');
    expect(history.status).toBe(200);
    const entries = responses.history.parse(history.json).history;
    expect(entries.map((e) => e.seq)).toEqual([1, 2]);
    expect(entries[1]!.fields).toContain('stage');
    expect((await a.call('GET', '/v1/customers/acme/history?limit=1')).json.history).toHaveLength(1);
    const bad = await a.call('GET', '/v1/customers/acme/history?limit=zero');
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].field).toBe('limit');
    const conflicts = await a.call('GET', '/v1/customers/acme/conflicts');
    expect(conflicts.status).toBe(200);
    expect(conflicts.json).toEqual({ conflicts: [] });
  });
});

describe('listing', () => {
  beforeEach(async () => {
    const people = [
      { id: 'p1', name: 'Ada Byron', territory: 'emea', owner: 'anna', stage: 'lead' },
      { id: 'p2', name: 'Alan Turing', territory: 'emea', owner: 'ben', stage: 'won' },
      { id: 'p3', name: 'Grace Hopper', territory: 'amer', owner: 'anna', stage: 'lead' },
      { id: 'p4', name: 'Katherine Johnson', territory: 'amer', owner: 'ben', stage: 'proposal', company: 'NASA' },
      { id: 'p5', name: 'Adele Goldberg', territory: 'emea', owner: 'anna', stage: 'proposal' },
    ];
    for (const body of people) expect((await a.call('POST', '/v1/customers', { body })).status).toBe(201);
  });

  const ids = (reply: { json: { customers: Array<{ id: string }> } }) => reply.json.customers.map((c) => c.id).sort();

  it('filters by territory, owner, stage, text and updatedSince (ms or ISO)', async () => {
    expect(ids(await a.call('GET', '/v1/customers?territory=emea'))).toEqual(['p1', 'p2', 'p5']);
    expect(ids(await a.call('GET', '/v1/customers?owner=anna&stage=lead'))).toEqual(['p1', 'p3']);
    expect(ids(await a.call('GET', '/v1/customers?q=ad'))).toEqual(['p1', 'p5']);
    expect(ids(await a.call('GET', '/v1/customers?q=nasa'))).toEqual(['p4']);
    const future = Date.now() + 3_600_000;
    expect(ids(await a.call('GET', `/v1/customers?updatedSince=${future}`))).toEqual([]);
    expect(ids(await a.call('GET', `/v1/customers?updatedSince=${new Date(future).toISOString()}`))).toEqual([]);
    expect(ids(await a.call('GET', '/v1/customers?updatedSince=2000-01-01'))).toHaveLength(5);
  });

  it('pages with limit and cursor until next is null', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const reply = await a.call('GET', `/v1/customers?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(reply.status).toBe(200);
      const page = responses.customers.parse(reply.json);
      expect(page.customers.length).toBeLessThanOrEqual(2);
      seen.push(...page.customers.map((c) => c.id));
      cursor = page.next;
      pages++;
    } while (cursor !== null && pages < 20);
    expect(seen.sort()).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it('includeDeleted shows tombstones, with and without filters', async () => {
    await a.call('DELETE', '/v1/customers/p2');
    expect(ids(await a.call('GET', '/v1/customers?territory=emea'))).toEqual(['p1', 'p5']);
    expect(ids(await a.call('GET', '/v1/customers?territory=emea&includeDeleted=true'))).toEqual(['p1', 'p2', 'p5']);
    expect(ids(await a.call('GET', '/v1/customers'))).toEqual(['p1', 'p3', 'p4', 'p5']);
    expect(ids(await a.call('GET', '/v1/customers?includeDeleted=true'))).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(ids(await a.call('GET', '/v1/customers?includeDeleted=false'))).toEqual(['p1', 'p3', 'p4', 'p5']);
  });

  it('rejects bad query values and unknown parameters with details', async () => {
    for (const [query, field] of [
      ['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=ten', 'limit'], ['includeDeleted=yes', 'includeDeleted'],
      ['updatedSince=yesterday', 'updatedSince'], ['stage=sold', 'stage'], ['colour=red', 'colour'],
    ] as const) {
      const reply = await a.call('GET', `/v1/customers?${query}`);
      expect(reply.status, query).toBe(400);
      expect(reply.json.error.code).toBe('ERR_VALIDATION');
      expect(reply.json.error.details.map((d: { field: string }) => d.field), query).toEqual([field]);
    }
    // The messages say what is accepted (the CLI shows them under its flag names).
    const since = await a.call('GET', '/v1/customers?updatedSince=yesterday&limit=ten');
    expect(since.json.error.details).toEqual([
      { field: 'updatedSince', message: expect.stringMatching(/milliseconds since the epoch, an ISO date \(2024-05-01\)/) },
      { field: 'limit', message: 'must be a whole number from 1 to 1000' },
    ]);
    const cursor = await a.call('GET', '/v1/customers?cursor=');
    expect(cursor.status).toBe(400);
  });
});
