/**
 * POST /v1/customers/:id/erase and GET /v1/erasures over real HTTP: an administrator
 * node erases (and answers the same erasure again); writes to the id answer 410; a node
 * that is not an administrator answers 403; bad ids, unknown ids, a missing token and a
 * body where none belongs are refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { responses } from '../../src/api/schemas.js';
import { ApiHarness, type ApiNode } from './helpers.js';

const h = new ApiHarness();
afterEach(() => h.cleanup());

function expectError(reply: Awaited<ReturnType<ApiNode['call']>>, status: number, code: string): void {
  expect(reply.status, reply.text).toBe(status);
  expect(reply.json.error.code).toBe(code);
}

describe('erase route', () => {
  it('erases on an administrator, lists the erasure without the record, and answers 410 to writes of the id', async () => {
    const admin = await h.start(h.cluster.member('berlin', { admin: true }));
    await admin.call('PUT', '/v1/customers/c-ada', { body: { name: 'Ada Lovelace', email: 'ada@example.com' } });
    const erased = await admin.call('POST', '/v1/customers/c-ada/erase');
    expect(erased.status, erased.text).toBe(200);
    expect(responses.erasure.parse(erased.json).erasure).toMatchObject({ node: 'berlin' });
    expect(erased.text).not.toMatch(/c-ada|Lovelace/);
    expect((await admin.call('POST', '/v1/customers/c-ada/erase')).json).toEqual(erased.json);
    const list = await admin.call('GET', '/v1/erasures');
    expect(responses.erasures.parse(list.json).erasures).toEqual([erased.json.erasure]);
    expect((await admin.call('GET', '/v1/customers/c-ada')).status).toBe(404);
    expectError(await admin.call('PUT', '/v1/customers/c-ada', { body: { name: 'Ada again' } }), 410, 'ERR_GONE');
    expectError(await admin.call('POST', '/v1/customers', { body: { id: 'c-ada', name: 'Ada again' } }), 410, 'ERR_GONE');
  });

  it('refuses bad requests: not an administrator, unknown or invalid id, no token', async () => {
    const admin = await h.start(h.cluster.member('berlin', { admin: true }));
    const region = await h.start({ nodeId: 'paris' });
    await region.call('PUT', '/v1/customers/c-ada', { body: { name: 'Ada' } });
    expectError(await region.call('POST', '/v1/customers/c-ada/erase'), 403, 'ERR_UNAUTHORIZED');
    expectError(await admin.call('POST', '/v1/customers/c-nobody/erase'), 404, 'ERR_NOT_FOUND');
    expectError(await admin.call('POST', `/v1/customers/${'x'.repeat(300)}/erase`), 400, 'ERR_VALIDATION');
    expectError(await admin.call('POST', '/v1/customers/bad%2Fid/erase'), 400, 'ERR_VALIDATION');
    expectError(await admin.call('POST', '/v1/customers/c-ada/erase', { token: null }), 401, 'ERR_UNAUTHORIZED');
    expectError(await admin.call('GET', '/v1/erasures', { token: 'wrong-token-0123456789' }), 401, 'ERR_UNAUTHORIZED');
    expect((await admin.call('GET', '/v1/erasures')).json).toEqual({ erasures: [] });
    expect((await region.call('GET', '/v1/customers/c-ada')).json.customer.name).toBe('Ada');
  });
});
