/**
 * The trust routes and the identity-aware parts of the API over real HTTP, against real
 * nodes: listing, granting, revoking and inviting on an administrator; 403 on a node that
 * is not one; bad input on every route; POST /v1/peers that names the node it expects;
 * status with the node's identity and each peer's proven role; the refusal metrics.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { responses } from '../../src/api/schemas.js';
import { generateNodeKeys } from '../../src/index.js';
import { ApiHarness, parsePrometheus, type ApiNode } from './helpers.js';

const h = new ApiHarness();
afterEach(() => h.cleanup());
const listen = { listen: { host: '127.0.0.1', port: 0 } } as const;

/** An administrator node (in the harness's cluster) listening on loopback. */
const admin = (name = 'berlin') => h.start({ ...h.cluster.member(name, { admin: true }), ...listen });

function expectError(reply: Awaited<ReturnType<ApiNode['call']>>, status: number, code: string): void {
  expect(reply.status, reply.text).toBe(status);
  expect(reply.json.error.code).toBe(code);
}

describe('trust routes on an administrator', () => {
  it('lists, grants, invites (a new node joins with the code) and revokes', async () => {
    const berlin = await admin();
    const view = (await berlin.call('GET', '/v1/trust')).json;
    expect(view).toMatchObject({ self: { node: 'berlin', role: 'region', admin: true }, founder: h.cluster.founder.fingerprint });
    expect(view.members.map((m: { node: string }) => m.node)).toEqual(['berlin']);

    const paris = generateNodeKeys();
    const granted = await berlin.call('POST', '/v1/trust/grants', { body: { key: paris.fingerprint, node: 'paris', role: 'region', scope: { territories: ['fr'] } } });
    expect(granted.status).toBe(201);
    expect(granted.json.member).toMatchObject({ node: 'paris', key: paris.fingerprint, role: 'region', admin: false, scope: { territories: ['fr'] } });
    expectError(await berlin.call('POST', '/v1/trust/grants', { body: { key: generateNodeKeys().fingerprint, node: 'paris', role: 'laptop' } }), 409, 'ERR_EXISTS');
    // The same key under another node id: refused, not answered with paris.
    expectError(await berlin.call('POST', '/v1/trust/grants', { body: { key: paris.fingerprint, node: 'lyon', role: 'region' } }), 409, 'ERR_EXISTS');

    const invited = await berlin.call('POST', '/v1/trust/invitations', { body: { node: 'laptop-anna', role: 'laptop', ttlSeconds: 600 } });
    expect(invited.status).toBe(201);
    expect(invited.json).toMatchObject({ node: 'laptop-anna', role: 'laptop', urls: [berlin.node.url] });
    expect(invited.json.code).toMatch(/^crmsync-invite:/);
    expect(invited.json.expires).toBeGreaterThan(Date.now());
    expectError(await berlin.call('POST', '/v1/trust/invitations', { body: { node: 'paris', role: 'laptop' } }), 409, 'ERR_EXISTS');
    const anna = await h.start({ invitation: invited.json.code });
    await vi.waitFor(() => expect(anna.node.trust.view().self.role).toBe('laptop'), { timeout: 15_000 });
    expect((await berlin.call('GET', '/v1/trust')).json.members.map((m: { node: string }) => m.node)).toEqual(['berlin', 'laptop-anna', 'paris']);

    const revoked = await berlin.call('DELETE', '/v1/trust/members/paris');
    expect(revoked.json).toEqual({ revoked: { node: 'paris', key: paris.fingerprint, upTo: 0 } });
    expectError(await berlin.call('DELETE', '/v1/trust/members/paris'), 404, 'ERR_NOT_FOUND');
    const annaKey = anna.node.trust.view().self.key;
    expect((await berlin.call('DELETE', `/v1/trust/members/${encodeURIComponent(annaKey)}`)).json.revoked).toMatchObject({ node: 'laptop-anna', key: annaKey });
    expect((await berlin.call('GET', '/v1/trust')).json.revoked.map((r: { node: string }) => r.node).sort()).toEqual(['laptop-anna', 'paris']);
  });

  it('invites to the advertised URL, and says so when it cannot tell one', async () => {
    const quiet = await h.start({ ...h.cluster.member('quiet', { admin: true }) });
    const refused = await quiet.call('POST', '/v1/trust/invitations', { body: { node: 'x1', role: 'laptop' } });
    expectError(refused, 400, 'ERR_VALIDATION');
    expect(refused.json.error.message).toMatch(/cannot tell where a new node reaches this one: it does not listen for peers; pass urls .*advertise/);
    const given = await quiet.call('POST', '/v1/trust/invitations', { body: { node: 'x1', role: 'laptop', urls: ['wss://quiet.example:7400'] } });
    expect(given.json.urls).toEqual(['wss://quiet.example:7400']);
    const advertised = await h.start({ ...h.cluster.member('loud', { admin: true }) }, { advertise: 'wss://loud.example:7400' });
    expect((await advertised.call('POST', '/v1/trust/invitations', { body: { node: 'x2', role: 'region' } })).json.urls).toEqual(['wss://loud.example:7400']);
  });

  it('refuses bad input on every trust route with 400 and the field', async () => {
    const berlin = await admin();
    const before = (await berlin.call('GET', '/v1/trust')).json;
    const key = generateNodeKeys().fingerprint;
    const bad: Array<[string, string, unknown, string]> = [
      ['POST', '/v1/trust/grants', { key: 'ed25519:short', node: 'x', role: 'region' }, 'key'],
      ['POST', '/v1/trust/grants', { key, node: 'Not An Id', role: 'region' }, 'node'],
      ['POST', '/v1/trust/grants', { key, node: 'x', role: 'boss' }, 'role'],
      ['POST', '/v1/trust/grants', { key, node: 'x', role: 'region', scope: { regions: ['eu'] } }, 'scope.regions'],
      ['POST', '/v1/trust/grants', { key, node: 'x', role: 'region', scope: { territories: [] } }, 'scope.territories'],
      ['POST', '/v1/trust/grants', { key, node: 'x', role: 'region', admin: 'yes' }, 'admin'],
      ['POST', '/v1/trust/invitations', { node: 'x', role: 'laptop', ttlSeconds: 5 }, 'ttlSeconds'],
      ['POST', '/v1/trust/invitations', { node: 'x', role: 'laptop', ttlSeconds: 365 * 86400 }, 'ttlSeconds'],
      ['POST', '/v1/trust/invitations', { node: 'x', role: 'laptop', urls: ['http://berlin:7400'] }, 'urls.0'],
      ['POST', '/v1/trust/invitations', { node: 'x', role: 'laptop', urls: [] }, 'urls'],
      ['POST', '/v1/trust/invitations', { node: 'x', role: 'laptop', secret: 'mine' }, 'secret'],
    ];
    for (const [method, path, body, field] of bad) {
      const reply = await berlin.call(method, path, { body });
      expectError(reply, 400, 'ERR_VALIDATION');
      expect(reply.json.error.details.map((d: { field: string }) => d.field), JSON.stringify(body)).toContain(field);
    }
    // A well-formed key that cannot sign (the neutral point, of order 1): refused before anything is signed.
    const weak = await berlin.call('POST', '/v1/trust/grants', { body: { key: `ed25519:${Buffer.from([1, ...new Array(31).fill(0)]).toString('base64url')}`, node: 'weak', role: 'region' } });
    expectError(weak, 400, 'ERR_VALIDATION');
    expect(weak.json.error.message).toMatch(/cannot sign anything/);
    expectError(await berlin.call('DELETE', '/v1/trust/members/Bad%20Name'), 400, 'ERR_VALIDATION');
    expectError(await berlin.call('DELETE', '/v1/trust/members/berlin'), 400, 'ERR_VALIDATION'); // itself
    expectError(await berlin.call('POST', '/v1/trust/grants', { raw: '{"key":' }), 400, 'ERR_VALIDATION');
    expect((await berlin.call('GET', '/v1/trust', { token: null })).status).toBe(401);
    expect((await berlin.call('GET', '/v1/trust')).json).toEqual(before);
  });
});

describe('trust routes on a node that is not an administrator', () => {
  it('reads the list but answers 403 ERR_UNAUTHORIZED to every change', async () => {
    const paris = await h.start({ nodeId: 'paris' });
    expect((await paris.call('GET', '/v1/trust')).json.self).toMatchObject({ node: 'paris', role: 'region', admin: false });
    const key = generateNodeKeys().fingerprint;
    expectError(await paris.call('POST', '/v1/trust/grants', { body: { key, node: 'x', role: 'region' } }), 403, 'ERR_UNAUTHORIZED');
    expectError(await paris.call('POST', '/v1/trust/invitations', { body: { node: 'x', role: 'laptop' } }), 403, 'ERR_UNAUTHORIZED');
    expectError(await paris.call('DELETE', '/v1/trust/members/paris'), 400, 'ERR_VALIDATION');
    const other = h.cluster.member('other');
    expectError(await paris.call('DELETE', '/v1/trust/members/other'), 404, 'ERR_NOT_FOUND');
    expect(other.nodeId).toBe('other');
  });
});

describe('POST /v1/peers', () => {
  it('takes a member by node id, refuses a stranger (404), a bare URL without confirm (400) and refused addresses (400)', async () => {
    const berlin = await h.start({ nodeId: 'berlin', ...listen });
    const paris = await h.start({ nodeId: 'paris' });
    const stranger = await paris.call('POST', '/v1/peers', { body: { url: berlin.node.url, node: 'lyon' } });
    expectError(stranger, 404, 'ERR_NOT_FOUND');
    expect(stranger.json.error.message).toContain('crmsync trust list');
    const bare = await paris.call('POST', '/v1/peers', { body: { url: berlin.node.url } });
    expectError(bare, 400, 'ERR_VALIDATION');
    expect(bare.json.error.details).toEqual([{ field: 'node', message: 'required unless confirm is true' }]);
    expectError(await paris.call('POST', '/v1/peers', { body: { url: berlin.node.url, node: 'paris' } }), 400, 'ERR_VALIDATION');
    expectError(await paris.call('POST', '/v1/peers', { body: { url: berlin.node.url, node: 'Berlin!' } }), 400, 'ERR_VALIDATION');
    expectError(await paris.call('POST', '/v1/peers', { body: { url: berlin.node.url, confirm: 'yes' } }), 400, 'ERR_VALIDATION');
    for (const url of ['ws://169.254.169.254:7400', 'wss://metadata.google.internal:443', 'ws://[fe80::1]:7400']) {
      const refused = await paris.call('POST', '/v1/peers', { body: { url, confirm: true } });
      expectError(refused, 400, 'ERR_VALIDATION');
      expect(refused.json.error.message).toMatch(/refusing to dial a (link-local or metadata address|cloud metadata hostname)/);
    }
    expect((await paris.call('GET', '/v1/peers')).json.peers).toEqual([]);

    h.cluster.member('berlin');
    expect((await paris.call('POST', '/v1/peers', { body: { url: berlin.node.url, node: 'berlin' } })).status).toBe(201);
    await vi.waitFor(async () => {
      const [peer] = responses.peers.parse((await paris.call('GET', '/v1/peers')).json).peers;
      expect(peer).toMatchObject({ node: 'berlin', state: 'connected', role: 'region', key: berlin.node.trust.view().self.key, expectedNode: 'berlin', lastError: null });
    }, { timeout: 15_000 });
  });

  it('closes a session with another node than expected and shows why in status', async () => {
    await h.start({ nodeId: 'lyon' });
    const berlin = await h.start({ nodeId: 'berlin', ...listen });
    const paris = await h.start({ nodeId: 'paris' });
    expect((await paris.call('POST', '/v1/peers', { body: { url: berlin.node.url, node: 'lyon' } })).status).toBe(201);
    await vi.waitFor(async () => {
      const [peer] = responses.status.parse((await paris.call('GET', '/v1/status')).json).peers;
      expect(peer).toMatchObject({ expectedNode: 'lyon', lastError: `${berlin.node.url} reached node "berlin", not the expected "lyon"` });
      expect(peer!.state).not.toBe('connected');
    }, { timeout: 15_000 });
    expect((await berlin.node.records.create({ id: 'kept', name: 'Not sent to paris' })).id).toBe('kept');
    expect(await paris.node.records.get('kept')).toBeUndefined();
  });
});

describe('status and metrics', () => {
  it('status names the node, its key, role and cluster; metrics count refusals by stage and reason', async () => {
    const berlin = await admin();
    const status = responses.status.parse((await berlin.call('GET', '/v1/status')).json);
    expect(status.identity).toEqual({
      nodeId: 'berlin', key: berlin.node.trust.view().self.key, role: 'region', admin: true,
      cluster: berlin.node.trust.view().cluster, founder: h.cluster.founder.fingerprint,
    });
    expect(status).toMatchObject({ insecure: false, refused: { connections: {}, handshakes: {} }, rejectedEntries: {}, quarantinedChanges: 0 });
    // A node of a cluster of its own dials berlin and is refused in the handshake.
    await h.start({ peers: [berlin.node.url!] });
    await vi.waitFor(async () => expect(responses.status.parse((await berlin.call('GET', '/v1/status')).json).refused.handshakes['wrong-cluster']).toBeGreaterThan(0), { timeout: 15_000 });
    const text = (await berlin.call('GET', '/metrics')).text;
    const samples = parsePrometheus(text);
    expect(samples.find((s) => s.name === 'crmsync_refused_connections_total' && s.labels.stage === 'handshake' && s.labels.reason === 'wrong-cluster')?.value).toBeGreaterThan(0);
    expect(samples.find((s) => s.name === 'crmsync_quarantined_changes_total')?.value).toBe(0);
    expect(samples.find((s) => s.name === 'crmsync_insecure')?.value).toBe(0);
    expect(text).toContain('# TYPE crmsync_rejected_entries_total counter');
  });
});
