/**
 * PUT /v1/subscription: changes what a node holds at runtime (node.subscribe), answers
 * how many records it evicted, and refuses malformed bodies (400) and subscriptions
 * beyond the node's trust-list scope (401 ERR_UNAUTHORIZED).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ApiHarness } from './helpers.js';

const h = new ApiHarness();
afterEach(() => h.cleanup());

describe('PUT /v1/subscription', () => {
  it('changes the subscription, evicts what left, and refuses bad input', async () => {
    const { node, call } = await h.start({ ...h.cluster.member('laptop-n', { role: 'laptop', scope: { territories: ['north', 'south'] } }) });
    await node.records.create({ id: 'n1', name: 'North', territory: 'north' });
    await node.records.create({ id: 's1', name: 'South', territory: 'south' });

    const narrowed = await call('PUT', '/v1/subscription', { body: { territories: ['north'] } });
    expect(narrowed.status).toBe(200);
    expect(narrowed.json).toEqual({ evicted: 1 });
    expect(await node.records.get('s1')).toBeUndefined();
    expect((await call('GET', '/v1/status')).json).toMatchObject({ holding: { subscription: { territories: ['north'] }, scope: { territories: ['north', 'south'] } } });

    for (const body of [{ territories: 'north' }, { territories: [''] }, { regions: ['north'] }, []]) {
      const bad = await call('PUT', '/v1/subscription', { body });
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.json).toMatchObject({ error: { code: 'ERR_VALIDATION' } });
    }
    const beyond = await call('PUT', '/v1/subscription', { body: { territories: ['west'] } });
    expect(beyond.status).toBe(401);
    expect(beyond.json).toMatchObject({ error: { code: 'ERR_UNAUTHORIZED' } });
    expect((await call('PUT', '/v1/subscription', { body: {} })).json).toEqual({ evicted: 0 });
  });
});
