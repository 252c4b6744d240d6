/**
 * Conformance, part 2: identity and early refusal. TLS identity (peerKey, channel
 * binding), acceptPeer before a connection exists, acceptServer before anything is sent,
 * and where the bearer token may go. Both transports run it (transport-conformance.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PeerInfo, PeerVerdict } from '../../src/net/transport.js';
import { frameOf, indexOf, nodeIdentity, record, type NodeIdentity } from './helpers.js';
import { pairSetup, type MakeTransportPair } from './transport-conformance.js';

/** Registers the identity and refusal conformance tests. */
export function runSecurityConformance(name: string, makeTransportPair: MakeTransportPair): void {
  describe(`${name} transport conformance: identity and refusal`, () => {
    const setup = pairSetup(makeTransportPair);
    let serverId: NodeIdentity;
    let clientId: NodeIdentity;
    beforeAll(async () => {
      [serverId, clientId] = await Promise.all([nodeIdentity('server'), nodeIdentity('client')]);
    });

    it('carries no peer key and no channel binding without TLS', async () => {
      const { connect } = await setup();
      const { c, s } = await connect();
      expect([c.peerKey, c.channelBinding, s.peerKey, s.channelBinding]).toEqual([undefined, undefined, undefined, undefined]);
    });

    it("with TLS, each end sees the other's certificate key and both see one channel binding, new per connection", async () => {
      const { connect } = await setup({ tls: serverId.tls }, { tls: clientId.tls });
      const first = await connect();
      expect(first.c.peerKey).toEqual(serverId.publicKey);
      expect(first.s.peerKey).toEqual(clientId.publicKey);
      expect(first.c.channelBinding).toHaveLength(32);
      expect(first.s.channelBinding).toEqual(first.c.channelBinding);
      const second = await connect();
      expect(second.c.channelBinding).toEqual(second.s.channelBinding);
      expect(second.c.channelBinding).not.toEqual(first.c.channelBinding);
      const rs = record(first.s);
      first.c.send(frameOf(3));
      await rs.untilFrames(1);
      expect(indexOf(rs.frames[0]!)).toBe(3);
    });

    it("acceptPeer sees the dialer's key and address before any connection exists; its status decides the dial error", async () => {
      const seen: PeerInfo[] = [];
      let verdict: PeerVerdict = { ok: false, status: 403, reason: 'revoked' };
      const { client, url, accepted, server } = await setup(
        { tls: serverId.tls, acceptPeer: (info) => { seen.push(info); return verdict; } },
        { tls: clientId.tls },
      );
      await expect(client.dial(url)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
      verdict = { ok: false, status: 401, reason: 'unknown key' };
      await expect(client.dial(url)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
      verdict = { ok: false, status: 429, reason: 'slow down' };
      await expect(client.dial(url)).rejects.toMatchObject({ code: 'ERR_BUSY' });
      verdict = { ok: false, status: 503, reason: 'maintenance' };
      await expect(client.dial(url)).rejects.toMatchObject({ code: 'ERR_BUSY' });
      expect(accepted.connections).toHaveLength(0);
      expect(server.stats()).toMatchObject({ connections: 0, refused: { peer: 4 } });
      verdict = { ok: true };
      await client.dial(url);
      expect((await accepted.next()).peerKey).toEqual(clientId.publicKey);
      expect(seen).toHaveLength(5);
      expect(seen[0]?.peerKey).toEqual(clientId.publicKey);
      expect(seen[0]?.remoteAddress).toEqual(expect.any(String));
    });

    it('refuses the peer (503) when acceptPeer throws, and carries on', async () => {
      let calls = 0;
      const { client, url, accepted } = await setup({ acceptPeer: () => { if (++calls === 1) throw new Error('bug'); return { ok: true }; } });
      await expect(client.dial(url)).rejects.toMatchObject({ code: 'ERR_BUSY' });
      await client.dial(url);
      await accepted.next();
      expect(accepted.connections).toHaveLength(1);
    });

    it("acceptServer sees the server's key; false fails the dial with ERR_UNAUTHORIZED and the server sees nothing", async () => {
      const seen: Array<Uint8Array | undefined> = [];
      let trusted = false;
      let asked = 0;
      const { client, url, accepted, server } = await setup(
        { tls: serverId.tls, acceptPeer: () => { asked++; return { ok: true }; } },
        { tls: clientId.tls, acceptServer: (key) => { seen.push(key); return trusted; } },
      );
      await expect(client.dial(url)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
      expect(seen).toEqual([serverId.publicKey]);
      expect(asked).toBe(0); // no upgrade request reached the server
      expect(server.stats().refused).toEqual({});
      trusted = true;
      await client.dial(url);
      await accepted.next();
      expect(asked).toBe(1);
    });

    it('acceptServer sees undefined for a server without TLS', async () => {
      const seen: Array<Uint8Array | undefined> = [];
      const { client, url, accepted } = await setup({}, { acceptServer: (key) => { seen.push(key); return true; } });
      await client.dial(url);
      await accepted.next();
      expect(seen).toEqual([undefined]);
    });

    it('sends the token to a TLS server only after acceptServer accepted it', async () => {
      const token = 'cluster-secret';
      const withheld = await setup({ tls: serverId.tls, peerToken: token }, { tls: clientId.tls, peerToken: token });
      await expect(withheld.client.dial(withheld.url)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
      expect(withheld.server.stats().refused).toEqual({ token: 1 });
      const sent = await setup({ tls: serverId.tls, peerToken: token }, { tls: clientId.tls, peerToken: token, acceptServer: () => true });
      await sent.client.dial(sent.url);
      await sent.accepted.next();
    });

    it('with trustServer, sends the token only to a server it trusts, however acceptServer answers', async () => {
      const token = 'cluster-secret';
      const seen: (Uint8Array | undefined)[] = [];
      const untrusted = await setup({ tls: serverId.tls, peerToken: token }, { tls: clientId.tls, peerToken: token, acceptServer: () => true, trustServer: (key) => { seen.push(key); return false; } });
      await expect(untrusted.client.dial(untrusted.url)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
      expect(untrusted.server.stats().refused).toEqual({ token: 1 });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toBeInstanceOf(Uint8Array); // the server's certificate key
      const trusted = await setup({ tls: serverId.tls, peerToken: token }, { tls: clientId.tls, peerToken: token, acceptServer: () => true, trustServer: () => true });
      await trusted.client.dial(trusted.url);
      await trusted.accepted.next();
    });
  });
}
