/**
 * The conflict inbox over real HTTP with two real nodes (LevelDB in temp dirs, synced
 * over WebSockets on 127.0.0.1): the paged, filtered list; resolving by value and by
 * node, after which both nodes agree and the conflict is gone on both; every resolve
 * error with its stable code; bad query and body input; the OpenAPI document.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { responses } from '../../src/api/schemas.js';
import { waitForConvergence } from '../integration/helpers.js';
import { ApiHarness, type ApiNode } from './helpers.js';

const h = new ApiHarness();
afterEach(() => h.cleanup());

const listen = { listen: { host: '127.0.0.1', port: 0 } } as const;

/** What each of the two nodes writes to one record while they are apart. */
type Apart = [id: string, onA: Record<string, unknown>, onB: Record<string, unknown>];

/** Two nodes that wrote `records` while apart, then synced: node `a` listens, `b` dials it. */
async function conflicted(records: Apart[], alsoApart?: (a: ApiNode, b: ApiNode) => Promise<void>): Promise<{ a: ApiNode; b: ApiNode }> {
  const a = await h.start({ nodeId: 'a', ...listen });
  const b = await h.start({ nodeId: 'b' });
  for (const [id, onA, onB] of records) {
    expect((await a.call('PUT', `/v1/customers/${id}`, { body: onA })).status).toBe(201);
    expect((await b.call('PUT', `/v1/customers/${id}`, { body: onB })).status).toBe(201);
  }
  await alsoApart?.(a, b);
  expect((await b.call('POST', '/v1/peers', { body: { url: a.node.url, node: 'a' } })).status).toBe(201);
  await waitForConvergence([a.node, b.node]);
  return { a, b };
}

/** A record both nodes wrote with a different email (and the same everything else). */
const emailClash = (id: string, territory: string, owner: string): Apart => [
  id, { name: id, email: `${id}@a.example`, territory, owner }, { name: id, email: `${id}@b.example`, territory, owner },
];

/** acme: conflicts on email, address.city and custom.score (a number). */
const ACME: Apart = ['acme',
  { name: 'Acme', email: 'sales@acme.example', address: { city: 'Oslo' }, custom: { score: 3 }, territory: 'emea' },
  { name: 'Acme', email: 'info@acme.example', address: { city: 'Lyon' }, custom: { score: 4 }, territory: 'emea' },
];

const inbox = async (node: ApiNode, query = '') => {
  const reply = await node.call('GET', `/v1/conflicts${query}`);
  expect(reply.status, reply.text).toBe(200);
  return responses.conflictInbox.parse(reply.json);
};
const conflictsOf = async (node: ApiNode, id: string) => responses.conflicts.parse((await node.call('GET', `/v1/customers/${id}/conflicts`)).json).conflicts;
const resolve = (node: ApiNode, id: string, field: string, body: unknown) => node.call('POST', `/v1/customers/${id}/conflicts/${field}/resolve`, { body });

describe('GET /v1/conflicts', () => {
  it('pages through the records with open conflicts in id order, with their fields, filtered by territory and owner', async () => {
    const { a, b } = await conflicted([
      emailClash('c1', 'emea', 'anna'), emailClash('c2', 'apac', 'anna'), emailClash('c3', 'emea', 'ben'),
      emailClash('c4', 'emea', 'anna'), emailClash('c5', 'apac', 'ben'),
      ['calm', { name: 'Calm', territory: 'emea', owner: 'anna' }, { name: 'Calm', territory: 'emea', owner: 'anna' }],
    ]);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof inbox>> = await inbox(b, `?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
      expect(page.records.length).toBeLessThanOrEqual(2);
      seen.push(...page.records.map((r) => r.id));
      cursor = page.next;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(seen).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);

    const all = await inbox(a);
    expect(all.next).toBeNull();
    expect(all.records[0]).toEqual({ id: 'c1', name: 'c1', territory: 'emea', owner: 'anna', fields: ['email'], updatedAt: expect.any(Number), deleted: false });
    expect((await inbox(a, '?territory=emea')).records.map((r) => r.id)).toEqual(['c1', 'c3', 'c4']);
    expect((await inbox(a, '?owner=ben')).records.map((r) => r.id)).toEqual(['c3', 'c5']);
    expect((await inbox(a, '?territory=emea&owner=anna')).records.map((r) => r.id)).toEqual(['c1', 'c4']);
    expect((await inbox(a, '?territory=nowhere')).records).toEqual([]);
    expect(await a.node.records.conflictInbox({ owner: 'ben', limit: 1 })).toMatchObject({ items: [{ id: 'c3' }], next: expect.any(String) });
  });

  it('answers bad query input with 400 ERR_VALIDATION naming the parameter', async () => {
    const a = await h.start();
    for (const [query, field] of [
      ['?limit=-1', 'limit'], ['?limit=0', 'limit'], ['?limit=abc', 'limit'], ['?limit=1.5', 'limit'], ['?limit=201', 'limit'],
      ['?colour=red', 'colour'], ['?territory=', 'territory'], ['?cursor=', 'cursor'],
    ] as const) {
      const reply = await a.call('GET', `/v1/conflicts${query}`);
      expect(reply.status, query).toBe(400);
      expect(reply.json.error.code, query).toBe('ERR_VALIDATION');
      expect(reply.json.error.details.map((d: { field: string }) => d.field), query).toContain(field);
    }
    const garbled = await a.call('GET', '/v1/conflicts?cursor=!!!');
    expect([garbled.status, garbled.json.error.code, garbled.json.error.details]).toEqual([400, 'ERR_VALIDATION', [{ field: 'cursor', message: 'invalid cursor' }]]);
  });
});

describe('POST /v1/customers/:id/conflicts/:field/resolve', () => {
  it('keeps a value: one change that supersedes the others, so the conflict is gone on both nodes after sync', async () => {
    const { a, b } = await conflicted([ACME]);
    expect((await inbox(a)).records).toMatchObject([{ id: 'acme', fields: ['email', 'address.city', 'custom.score'] }]);
    const email = (await conflictsOf(a, 'acme')).find((c) => c.field === 'email')!;
    // Keep the value that is NOT shown, so the view must change too.
    const loser = email.values.find((v) => !v.winner)!;
    const reply = await resolve(b, 'acme', 'email', { keep: loser.value });
    expect(reply.status, reply.text).toBe(200);
    const resolved = responses.resolved.parse(reply.json);
    expect(resolved).toMatchObject({ field: 'email', kept: { value: loser.value, node: loser.node }, customer: { email: loser.value } });
    expect(resolved.customer.conflicts).toEqual(['address.city', 'custom.score']);

    await waitForConvergence([a.node, b.node]);
    for (const node of [a, b]) {
      expect((await conflictsOf(node, 'acme')).map((c) => c.field)).toEqual(['address.city', 'custom.score']);
      expect((await node.call('GET', '/v1/customers/acme')).json.customer).toMatchObject({ email: loser.value, conflicts: ['address.city', 'custom.score'] });
    }
    const history = (await a.call('GET', '/v1/customers/acme/history')).json.history as { node: string; fields: string[]; author?: string }[];
    expect(history.at(-1)).toMatchObject({ node: 'b', fields: expect.arrayContaining(['email']), author: 'conflicts:resolve' });

    // A custom number kept through its text, as a command line sends it: it stays a number.
    const score = await resolve(a, 'acme', 'custom.score', { keep: '4' });
    expect([score.status, score.json.customer.custom]).toEqual([200, { score: 4 }]);
    expect((await resolve(a, 'acme', 'address.city', { keep: 'Lyon' })).json.customer.address).toEqual({ city: 'Lyon' });
    await waitForConvergence([a.node, b.node]);
    for (const node of [a, b]) {
      expect(await conflictsOf(node, 'acme')).toEqual([]);
      expect((await inbox(node)).records).toEqual([]);
      expect((await node.call('GET', '/v1/customers/acme')).json.customer).toMatchObject({ custom: { score: 4 }, address: { city: 'Lyon' }, conflicts: [] });
    }
  });

  it('keeps the value a node wrote, even the one already shown, and resolves a delete concurrent with a restore', async () => {
    // One node deletes while the other deletes and restores: `deleted` holds true and false.
    const { a, b } = await conflicted([emailClash('c1', 'emea', 'anna'), ['gone', { name: 'Gone' }, { name: 'Gone' }]], async (a, b) => {
      expect((await a.call('DELETE', '/v1/customers/gone')).status).toBe(200);
      expect((await b.call('DELETE', '/v1/customers/gone')).status).toBe(200);
      expect((await b.call('POST', '/v1/customers/gone/restore')).status).toBe(200);
    });
    const shown = (await conflictsOf(a, 'c1'))[0]!.values.find((v) => v.winner)!;
    const kept = await resolve(a, 'c1', 'email', { keepNode: shown.node });
    expect(kept.status, kept.text).toBe(200);
    expect(kept.json.customer).toMatchObject({ email: shown.value, conflicts: [] });

    expect((await inbox(a)).records).toMatchObject([{ id: 'gone', fields: ['deleted'] }]);
    const restored = await resolve(a, 'gone', 'deleted', { keep: 'false' });
    expect(restored.status, restored.text).toBe(200);
    expect(restored.json.customer).toMatchObject({ deleted: false, conflicts: [] });
    await waitForConvergence([a.node, b.node]);
    for (const node of [a, b]) {
      expect((await inbox(node)).records).toEqual([]);
      expect((await node.call('GET', '/v1/customers/gone')).json.customer).toMatchObject({ deleted: false, conflicts: [] });
      expect((await node.call('GET', '/v1/customers/c1')).json.customer).toMatchObject({ email: shown.value, conflicts: [] });
    }
  });

  it('refuses with stable codes: unknown record, field not in conflict, value or node not among the concurrent ones, bad bodies', async () => {
    const { a } = await conflicted([ACME]);
    const expectError = async (reply: Awaited<ReturnType<typeof resolve>>, status: number, code: string, what: string) => {
      expect(reply.status, `${what}: ${reply.text}`).toBe(status);
      expect(responses.error.parse(reply.json).error.code, what).toBe(code);
      return reply.json.error as { message: string; details?: { field: string; message: string }[] };
    };
    await expectError(await resolve(a, 'missing', 'email', { keep: 'x' }), 404, 'ERR_NOT_FOUND', 'unknown record');
    await expectError(await resolve(a, 'acme', 'name', { keep: 'Acme' }), 409, 'ERR_NOT_CONFLICTED', 'field not in conflict');
    expect((await expectError(await resolve(a, 'acme', 'colour', { keep: 'red' }), 400, 'ERR_VALIDATION', 'no such field')).details).toEqual([{ field: 'field', message: 'not a field that can hold concurrent values' }]);
    const notAmong = await expectError(await resolve(a, 'acme', 'email', { keep: 'other@acme.example' }), 400, 'ERR_VALIDATION', 'value not among them');
    expect(notAmong.message).toContain('"info@acme.example"');
    expect(notAmong.message).toContain('"sales@acme.example"');
    expect(notAmong.details).toEqual([{ field: 'keep', message: 'not one of the concurrent values' }]);
    // A number is not matched by another type's value.
    await expectError(await resolve(a, 'acme', 'custom.score', { keep: true }), 400, 'ERR_VALIDATION', 'wrong type');
    const noAuthor = await expectError(await resolve(a, 'acme', 'email', { keepNode: 'zed' }), 400, 'ERR_VALIDATION', 'node not an author');
    expect(noAuthor.message).toMatch(/written by (a, b|b, a)$/);
    for (const [body, what] of [
      [{}, 'neither'], [{ keep: 'x', keepNode: 'a' }, 'both'], [{ keep: { value: 1 } }, 'object'], [{ keep: null }, 'null'],
      [{ keepNode: '' }, 'empty node'], [{ keep: 'x', colour: 'red' }, 'unknown key'], ['sales@acme.example', 'not an object'],
    ] as const) {
      await expectError(await resolve(a, 'acme', 'email', body), 400, 'ERR_VALIDATION', what);
    }
    const tooLong = await a.call('POST', `/v1/customers/acme/conflicts/custom.${'x'.repeat(80)}/resolve`, { body: { keep: 'x' } });
    await expectError(tooLong, 400, 'ERR_VALIDATION', 'field path too long');
    // Nothing was written by any of these.
    expect((await conflictsOf(a, 'acme')).map((c) => c.field)).toEqual(['email', 'address.city', 'custom.score']);
    // Resolved once, the field is no longer in conflict.
    expect((await resolve(a, 'acme', 'email', { keepNode: 'a' })).status).toBe(200);
    await expectError(await resolve(a, 'acme', 'email', { keepNode: 'a' }), 409, 'ERR_NOT_CONFLICTED', 'resolved twice');
  });

  it('is in the OpenAPI document with its summaries, as is the inbox', async () => {
    const a = await h.start();
    const doc = (await a.call('GET', '/openapi.json', { token: null })).json;
    const list = doc.paths['/v1/conflicts'].get;
    expect(list.summary).toMatch(/conflict inbox/);
    expect(list.parameters.map((p: { name: string }) => p.name)).toEqual(['territory', 'owner', 'limit', 'cursor']);
    const post = doc.paths['/v1/customers/{id}/conflicts/{field}/resolve'].post;
    expect(post.summary).toMatch(/^Resolve a conflict/);
    expect(post.parameters).toContainEqual(expect.objectContaining({ name: 'field', in: 'path', required: true }));
    expect(Object.keys(post.requestBody.content['application/json'].schema.properties)).toEqual(['keep', 'keepNode']);
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['200', '400', '404', '409']));
    expect(doc.paths['/v1/customers/{id}/conflicts'].get.responses['200'].content['application/json'].schema.properties.conflicts.items.properties)
      .toHaveProperty('rule');
  });
});
