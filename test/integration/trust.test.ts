/**
 * Identity and trust between real nodes over real sockets: invitations (redeemed once,
 * before they expire), the trust list reaching every member by itself, revocation that
 * takes effect on live sessions, administrators only, and TLS with certificates bound to
 * node keys.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CloseCode } from '../../src/net/transport.js';
import { Harness, captureLog, connectedPeers, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

const closedWith = (lines: { msg?: string; code?: unknown }[], code: number) => lines.some((l) => (l.msg === 'peer session closed' || l.msg === 'peer refused') && l.code === code);

describe('invitations', () => {
  it('a laptop joins with a code, syncs, and is known at another region without copying anything', async () => {
    const berlin = await h.open({ ...h.cluster.member('berlin', { admin: true }), dataDir: await h.tempDir() });
    const paris = await h.open({ dataDir: await h.tempDir(), nodeId: 'paris', peers: [berlin.url!] });
    await berlin.records.create({ id: 'c1', name: 'Customer One' });
    const { code } = await berlin.trust.invite({ node: 'laptop-anna', role: 'laptop', ttlMs: 3_600_000, urls: [berlin.url!] });
    expect(code).toMatch(/^crmsync-invite:/);

    const anna = await h.open({ dataDir: await h.tempDir(), invitation: code });
    expect(anna.id).toBe('laptop-anna');
    await waitForConvergence([berlin, paris, anna]);
    expect(anna.trust.view().self).toMatchObject({ node: 'laptop-anna', role: 'laptop', admin: false });
    // Paris learned the grant through berlin, and accepts the laptop directly.
    await vi.waitFor(() => expect(paris.trust.view().members.map((m) => m.node)).toContain('laptop-anna'), { timeout: 10_000 });
    anna.addPeer(paris.url!);
    await vi.waitFor(async () => expect(await connectedPeers(anna)).toBe(2), { timeout: 10_000 });
    await anna.records.update('c1', { stage: 'won' });
    await waitForConvergence([berlin, paris, anna]);
    expect((await paris.records.get('c1'))!.stage).toBe('won');
  });

  it('refuses an expired invitation and a second use, with 4015, and the node stays outside', async () => {
    const log = captureLog();
    const berlin = await h.open({ ...h.cluster.member('berlin', { admin: true }), dataDir: await h.tempDir(), logger: log.logger });
    const expired = await berlin.trust.invite({ node: 'laptop-old', role: 'laptop', ttlMs: -1, urls: [berlin.url!] });
    const late = await h.open({ dataDir: await h.tempDir(), invitation: expired.code });
    await vi.waitFor(() => expect(closedWith(log.lines, CloseCode.invitationRefused)).toBe(true), { timeout: 10_000 });
    expect(late.trust.view().self.role).toBeNull();
    expect(berlin.trust.view().members.map((m) => m.node)).not.toContain('laptop-old');

    const once = await berlin.trust.invite({ node: 'laptop-ben', role: 'laptop', ttlMs: 3_600_000, urls: [berlin.url!] });
    const ben = await h.open({ dataDir: await h.tempDir(), invitation: once.code });
    await vi.waitFor(() => expect(ben.trust.view().self.role).toBe('laptop'), { timeout: 10_000 });
    const copycat = await h.open({ dataDir: await h.tempDir(), invitation: once.code });
    await vi.waitFor(() => expect(log.lines.some((l) => l.reason === 'invitation-used')).toBe(true), { timeout: 10_000 });
    expect(copycat.trust.view().self.role).toBeNull();
    expect(berlin.trust.view().members.filter((m) => m.node === 'laptop-ben')).toHaveLength(1);
  });
});

describe('administration', () => {
  it('only administrators change the trust list', async () => {
    const paris = await h.open({ dataDir: await h.tempDir(), nodeId: 'paris' });
    await expect(paris.trust.invite({ node: 'x', role: 'laptop', ttlMs: 1000, urls: [] })).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    await expect(paris.trust.revoke('paris')).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('a revocation closes live sessions with 4011, refuses the node afterwards, and keeps its history up to the revocation', async () => {
    const log = captureLog();
    const berlin = await h.open({ ...h.cluster.member('berlin', { admin: true }), dataDir: await h.tempDir(), logger: log.logger });
    const laptop = await h.open({ dataDir: await h.tempDir(), nodeId: 'laptop-stolen', peers: [berlin.url!] });
    await laptop.records.create({ id: 'before', name: 'Written before the theft was known' });
    await waitForConvergence([berlin, laptop]);
    const revoked = await berlin.trust.revoke('laptop-stolen');
    expect(revoked.upTo).toBe(1);
    await vi.waitFor(() => expect(closedWith(log.lines, CloseCode.revoked)).toBe(true), { timeout: 10_000 });
    await laptop.records.create({ id: 'after', name: 'Written by the thief' });
    // The laptop redials and is refused at the handshake; its later entries never arrive.
    await vi.waitFor(() => expect(log.lines.filter((l) => l.msg === 'peer refused' && l.reason === 'revoked').length + log.lines.filter((l) => l.reason === 'key revoked').length).toBeGreaterThan(0), { timeout: 10_000 });
    expect(await berlin.records.get('before')).toBeDefined();
    expect(await berlin.records.get('after')).toBeUndefined();
    expect((await berlin.status()).clock['laptop-stolen']).toBe(1);
  });
});

describe('TLS', () => {
  it('syncs over wss:// with self-signed certificates bound to the node keys', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', tls: 'self-signed' });
    expect(a.url).toMatch(/^wss:\/\//);
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', tls: 'self-signed', peers: [a.url!] });
    await a.records.create({ id: 'secure', name: 'Over TLS' });
    await waitForConvergence([a, b]);
    expect((await b.records.get('secure'))!.name).toBe('Over TLS');
  });

  it('refuses a stranger at the handshake (4012) and a revoked key before it gets a socket', async () => {
    const log = captureLog();
    const a = await h.open({ ...h.cluster.member('a', { admin: true }), dataDir: await h.tempDir(), tls: 'self-signed', logger: log.logger });
    await h.open({ dataDir: await h.tempDir(), tls: 'self-signed', peers: [a.url!] }); // a cluster of its own
    await vi.waitFor(() => expect(closedWith(log.lines, CloseCode.wrongCluster)).toBe(true), { timeout: 10_000 });
    const gone = await h.open({ dataDir: await h.tempDir(), nodeId: 'gone', tls: 'self-signed', peers: [a.url!] });
    await gone.records.create({ id: 'g1', name: 'From gone' });
    await waitForConvergence([a, gone]);
    await a.trust.revoke('gone');
    await vi.waitFor(() => expect(log.lines.some((l) => l.msg === 'connection refused' && l.status === 403)).toBe(true), { timeout: 10_000 });
    expect(await connectedPeers(a)).toBe(0);
  });

  it('refuses to listen beyond loopback without TLS unless insecure', async () => {
    await expect(h.open({ dataDir: await h.tempDir(), nodeId: 'x', listen: { host: '0.0.0.0', port: 0 }, tls: false })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    const insecure = await h.open({ dataDir: await h.tempDir(), nodeId: 'y', listen: { host: '0.0.0.0', port: 0 }, tls: false, insecure: true });
    expect(insecure.url).toMatch(/^ws:\/\/0\.0\.0\.0:/);
  });
});
