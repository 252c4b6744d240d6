/**
 * The handshake, machine against machine with real keys: mutual proof of possession,
 * and every way it must fail (unknown, revoked, replayed, relayed, wrong cluster, wrong
 * version), each with its own close code. Nothing but the handshake is accepted before
 * it completes, and the peer's identity is the one its signature proved.
 */
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/net/transport.js';
import { encodeMessage } from '../../src/sync/codec.js';
import type { HelloMessage, Message } from '../../src/sync/messages.js';
import type { Action } from '../../src/sync/protocol.js';
import { generateNodeKeys } from '../../src/trust/keys.js';
import { Driver, PEER, SELF, authFor, closes, env, keysOf, of, sends } from './machine-harness.js';

/** Both machines started; returns them and what each sent first. */
function pair(selfEnv = env(SELF), peerEnv = env(PEER)) {
  const self = new Driver(selfEnv, SELF, true);
  const peer = new Driver(peerEnv, PEER, false);
  return { self, peer, selfHello: self.feed({ type: 'start' }), peerHello: peer.feed({ type: 'start' }) };
}

const helloOf = (actions: Action[]) => sends(actions).find((m): m is HelloMessage => m.type === 'hello')!;
const refusalOf = (actions: Action[]) => of(actions, 'refused')[0];

describe('handshake', () => {
  it('announces what became durable between its open and the peer\'s (else the peer counts it as missing)', () => {
    const { self, peer, selfHello, peerHello } = pair(env(SELF, {}, [[SELF, 3]]));
    const selfAuth = self.deliver(peerHello);
    const peerAuth = peer.deliver(selfHello);
    const selfOpen = self.deliver(peerAuth); // says: SELF up to 3
    const peerOpen = peer.deliver(selfAuth);
    // Two more of our own entries and one of another member's become durable meanwhile.
    self.env = env(SELF, {}, [[SELF, 5], ['third', 1]]);
    const opened = self.deliver(peerOpen);
    expect(self.state.phase).toBe('open');
    const have = sends(opened).filter((m) => m.type === 'have');
    expect(have).toHaveLength(1);
    expect((have[0] as Extract<Message, { type: 'have' }>).clock.map(([o, seq]) => [o, seq])).toEqual([[SELF, 5], ['third', 1]]);
    peer.deliver(selfOpen);
    // Nothing moved: no have.
    const quiet = pair(env(SELF, {}, [[SELF, 3]]));
    const qAuth = quiet.self.deliver(quiet.peerHello);
    const pAuth = quiet.peer.deliver(quiet.selfHello);
    quiet.self.deliver(pAuth);
    const pOpen = quiet.peer.deliver(qAuth);
    expect(sends(quiet.self.deliver(pOpen)).filter((m) => m.type === 'have')).toEqual([]);
  });

  it('uses cumulative acks only when both hellos name them (with a build before them, every batch is acked)', () => {
    const both = pair();
    expect(helloOf(both.selfHello).features).toEqual(['cumulative-acks']);
    both.self.deliver(both.peerHello);
    expect(both.self.state.cumulativeAcks).toBe(true);
    const older = pair();
    const withoutFeatures = older.peerHello.map((a): Action => {
      if (a.type !== 'send' || a.message.type !== 'hello') return a;
      const { features: _none, ...hello } = a.message;
      return { type: 'send', message: hello };
    });
    older.self.deliver(withoutFeatures);
    expect(older.self.state.phase).toBe('awaiting-auth');
    expect(older.self.state.cumulativeAcks).toBe(false);
  });

  it('opens after both proofs, with the peer identity the proof established', () => {
    const { self, peer, selfHello, peerHello } = pair();
    const selfAuth = self.deliver(peerHello);
    const peerAuth = peer.deliver(selfHello);
    expect(self.state.phase).toBe('awaiting-auth');
    expect(self.state.remote).toBeUndefined(); // claimed, not yet proven
    const selfOpen = self.deliver(peerAuth);
    expect(of(selfOpen, 'authenticated')[0]?.peer.node).toBe(PEER);
    expect(self.state.remote).toBe(PEER);
    const peerOpen = peer.deliver(selfAuth);
    self.deliver(peerOpen);
    peer.deliver(selfOpen);
    expect([self.state.phase, peer.state.phase]).toEqual(['open', 'open']);
    expect(of(self.actions, 'opened')).toEqual([{ type: 'opened', remote: PEER }]);
    // Each open names its send window; each side keeps the other's (invariant 9).
    expect(sends(peerOpen).find((m) => m.type === 'open')).toMatchObject({ window: peer.env.settings.window });
    expect(self.state.peerWindow).toBe(peer.env.settings.window);
  });

  it('refuses an unknown key, a key bound to another node id, a revoked key and another cluster, each with its code', () => {
    const stranger = generateNodeKeys();
    const cases: [Partial<HelloMessage>, number][] = [
      [{ key: stranger.publicKey }, CloseCode.unknownPeer],
      [{ node: 'someone-else' }, CloseCode.unknownPeer],
      [{ cluster: 'other-cluster' }, CloseCode.wrongCluster],
      [{ protocol: 1 }, CloseCode.versionMismatch],
    ];
    for (const [patch, code] of cases) {
      const { self, peerHello } = pair();
      const hello = { ...helloOf(peerHello), ...patch };
      const out = self.message(hello);
      expect(closes(out)[0]?.code, JSON.stringify(Object.keys(patch))).toBe(code);
      expect(self.state.phase).toBe('closed');
      expect(sends(out).some((m) => m.type === 'auth')).toBe(false); // no proof given to a refused peer
    }
    const revoked = new Driver(env(SELF, { auth: authFor(SELF, { revoked: [PEER] }) }), SELF, true);
    revoked.feed({ type: 'start' });
    const out = revoked.deliver(pair().peerHello);
    expect(closes(out)[0]?.code).toBe(CloseCode.revoked);
    expect(refusalOf(out)).toMatchObject({ code: CloseCode.revoked, reason: 'revoked' });
  });

  it('refuses a replayed proof: an auth signed for another session never verifies', () => {
    // A recorded handshake between self and peer...
    const first = pair();
    const recordedAuth = sends(first.peer.deliver(first.selfHello)).find((m) => m.type === 'auth')!;
    first.self.deliver(first.peerHello);
    expect(of(first.self.deliver(first.peer.actions.filter((a) => a.type === 'send' && a.message.type === 'auth')), 'authenticated')).toHaveLength(1);
    // ...replayed by an attacker who sends the peer's old hello and auth to a new session.
    const victim = pair();
    victim.self.deliver(victim.peerHello.map((a) => (a.type === 'send' ? { ...a, message: helloOf(first.peerHello), frame: encodeMessage(helloOf(first.peerHello)) } : a)));
    const out = victim.self.message(recordedAuth);
    expect(closes(out)[0]?.code).toBe(CloseCode.badSignature);
    expect(refusalOf(out)?.reason).toBe('bad-proof');
  });

  it('refuses a proof relayed through a man in the middle (different TLS channel bindings)', () => {
    const self = new Driver(env(SELF, { auth: authFor(SELF, { channelBinding: new Uint8Array(32).fill(1) }) }), SELF, true);
    const peer = new Driver(env(PEER, { auth: authFor(PEER, { channelBinding: new Uint8Array(32).fill(2) }) }), PEER, false);
    const selfHello = self.feed({ type: 'start' });
    const peerHello = peer.feed({ type: 'start' });
    const selfAuth = self.deliver(peerHello);
    const peerAuth = peer.deliver(selfHello);
    expect(closes(self.deliver(peerAuth))[0]?.code).toBe(CloseCode.badSignature);
    expect(closes(peer.deliver(selfAuth))[0]?.code).toBe(CloseCode.badSignature);
  });

  it('parses nothing but the handshake before it completes', () => {
    const early: Message[] = [
      { type: 'changes', epoch: 0, batch: 1, entries: [] },
      { type: 'have', clock: [] },
      { type: 'trust', statements: [] },
      { type: 'open', clock: [], trust: 'x' },
      { type: 'auth', sig: new Uint8Array(64) },
    ];
    for (const message of early) {
      const { self } = pair();
      expect(closes(self.message(message))[0]?.code, message.type).toBe(CloseCode.protocolError);
    }
    // And after the hello, only the auth: a peer cannot skip its proof.
    const { self, peerHello } = pair();
    self.deliver(peerHello);
    expect(closes(self.message({ type: 'open', clock: [], trust: 'x' }))[0]?.code).toBe(CloseCode.protocolError);
  });

  it('tells dialing itself (its own nonce comes back) from another process holding its key', () => {
    const self = new Driver(env(SELF), SELF, true);
    const own = self.feed({ type: 'start' });
    const inbound = new Driver(env(SELF, { auth: authFor(SELF, { ownNonces: [self.state.nonce] }) }), SELF, false);
    inbound.feed({ type: 'start' });
    expect(closes(inbound.deliver(own))[0]?.code).toBe(CloseCode.selfConnection);
    // Same key, a nonce that is not ours: a copy of this node. Its proof verifies and the
    // clocks are compared at `open` (where a copy that wrote nothing is closed as itself).
    const copy = new Driver(env(SELF), SELF, false);
    const copyHello = copy.feed({ type: 'start' });
    const original = new Driver(env(SELF), SELF, true);
    const originalHello = original.feed({ type: 'start' });
    const a = copy.deliver(originalHello);
    const b = original.deliver(copyHello);
    expect(of(original.deliver(a), 'authenticated')).toHaveLength(1);
    copy.deliver(b);
    const opens = sends(original.actions).filter((m) => m.type === 'open');
    expect(closes(copy.deliver(original.actions.filter((x) => x.type === 'send' && x.message.type === 'open')))[0]?.code).toBe(CloseCode.selfConnection);
    expect(opens).toHaveLength(1);
  });

  it('refuses a peer whose clock contradicts the history we hold of its own origin or ours (a copied directory), after the proofs', () => {
    for (const origin of [PEER, SELF]) {
      const { self, peer, selfHello, peerHello } = pair(env(SELF, {}, [[origin, 3]]), env(PEER, { wireClock: () => [[origin, 3, new Uint8Array(32).fill(9)]] }, [[origin, 3]]));
      const selfAuth = self.deliver(peerHello);
      const peerAuth = peer.deliver(selfHello);
      self.deliver(peerAuth);
      const peerOpen = peer.deliver(selfAuth);
      expect(closes(self.deliver(peerOpen))[0]?.code, origin).toBe(CloseCode.originForked);
    }
  });

  it('refuses a peer declaring other merge policies (4016), and opens with one that says nothing (an older build)', () => {
    const { self, peer, selfHello, peerHello } = pair(env(SELF), env(PEER, { auth: authFor(PEER, { policies: 'other' }) }));
    const selfAuth = self.deliver(peerHello);
    self.deliver(peer.deliver(selfHello));
    const peerOpen = peer.deliver(selfAuth);
    expect(sends(peerOpen).find((m) => m.type === 'open')).toMatchObject({ policies: 'other' });
    expect(closes(self.deliver(peerOpen))[0]?.code).toBe(CloseCode.policyMismatch);
    expect(self.state.phase).toBe('closed');

    const older = pair();
    const olderAuth = older.self.deliver(older.peerHello);
    older.self.deliver(older.peer.deliver(older.selfHello));
    const silent = older.peer.deliver(olderAuth).map((a) => (a.type === 'send' && a.message.type === 'open' ? { ...a, message: { ...a.message, policies: undefined } } : a));
    expect(closes(older.self.deliver(silent))).toEqual([]);
    expect(older.self.state.phase).toBe('open');
  });

  it('opens, with a warning, when only a third origin\'s heads differ (unproven; a proven fork is set aside at ingest)', () => {
    const { self, peer, selfHello, peerHello } = pair(env(SELF, {}, [['x', 3]]), env(PEER, { wireClock: () => [['x', 3, new Uint8Array(32).fill(9)]] }, [['x', 3]]));
    const selfAuth = self.deliver(peerHello);
    const peerAuth = peer.deliver(selfHello);
    self.deliver(peerAuth);
    const peerOpen = peer.deliver(selfAuth);
    const actions = self.deliver(peerOpen);
    expect(closes(actions)).toEqual([]);
    expect(self.state.phase).toBe('open');
    expect(of(actions, 'log').map((l) => l.fields)).toContainEqual({ peer: PEER, origin: 'x' });
  });

  it('signs with its own key: a proof by another key for the claimed node fails', () => {
    const { self, peerHello } = pair();
    self.deliver(peerHello);
    const forged = { type: 'auth' as const, sig: keysOf[SELF]!.sign(new Uint8Array(32)) };
    expect(closes(self.message(forged))[0]?.code).toBe(CloseCode.badSignature);
  });
});
