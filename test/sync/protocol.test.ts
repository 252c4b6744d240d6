/**
 * The protocol machine tested directly, state by event, without sockets or sleeps:
 * every phase against every message, the window invariant (split frames included),
 * resync and epochs, ack timeouts, and the no-echo rule. (The handshake itself:
 * handshake.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { ChangeEntry } from '../../src/crdt/change-entry.js';
import { CrmsyncError } from '../../src/errors.js';
import { CloseCode } from '../../src/net/transport.js';
import { decodeMessage } from '../../src/sync/codec.js';
import type { Message } from '../../src/sync/messages.js';
import { lagOf, type Env, type Event } from '../../src/sync/protocol.js';
import { Driver, PEER, SELF, closes, entry, env, frames, hash, of, sends, settings } from './machine-harness.js';

const wire = (n: number) => Buffer.from(hash(n), 'hex');

const EVERY_MESSAGE: Message[] = [
  { type: 'hello', protocol: 2, cluster: 'test-cluster', node: PEER, key: new Uint8Array(32), nonce: new Uint8Array(32), proof: [] },
  { type: 'auth', sig: new Uint8Array(64) },
  { type: 'open', clock: [], trust: 'digest' },
  { type: 'changes', epoch: 0, batch: 1, entries: [] },
  { type: 'ack', batch: 1, clock: [] },
  { type: 'have', clock: [['x', 1, wire(1)]] },
  { type: 'resync', epoch: 1, clock: [] },
  { type: 'trust', statements: [] },
  { type: 'error', code: 'ERR_X', message: 'x' },
];
describe('phases × messages', () => {
  const expectedIn: Record<string, string[]> = {
    // Which message kinds each phase accepts (anything else closes with 1002).
    'awaiting-hello': ['hello', 'error'],
    open: ['changes', 'ack', 'have', 'resync', 'trust', 'error'],
  };

  it('awaiting-hello: only hello and error are accepted; anything else closes with 1002', () => {
    for (const message of EVERY_MESSAGE) {
      const d = new Driver(env(SELF));
      d.feed({ type: 'start' });
      const out = d.message(message);
      if (!expectedIn['awaiting-hello']!.includes(message.type)) {
        expect(d.state.phase, message.type).toBe('closed');
        expect(closes(out)).toEqual([{ type: 'close', code: CloseCode.protocolError, reason: 'ERR_PROTOCOL' }]);
      } else if (message.type === 'error') {
        expect(d.state.phase).toBe('awaiting-hello');
      }
    }
  });

  it('open: sync messages keep the session open; handshake messages close it', () => {
    for (const message of EVERY_MESSAGE) {
      const d = Driver.open();
      d.message(message);
      expect(d.state.phase, message.type).toBe(expectedIn.open!.includes(message.type) ? 'open' : 'closed');
    }
  });

  it('closed: no message and no event produces an action (invariant 1)', () => {
    const d = Driver.open();
    d.feed({ type: 'close', code: 1000, reason: 'bye' });
    for (const message of EVERY_MESSAGE) expect(d.message(message)).toEqual([]);
    for (const event of [{ type: 'tick' }, { type: 'appended' }, { type: 'drained' }, { type: 'announce', origins: ['a'] }, { type: 'resubscribe' }] as Event[]) {
      expect(d.feed(event)).toEqual([]);
    }
  });

  it('once open, reports `opened` and locates the first entry the peer lacks', () => {
    const d = Driver.open(env(SELF, { lastPosition: 5 }, [['me', 5]]), [['me', 2]]);
    expect(of(d.actions, 'opened')).toEqual([{ type: 'opened', remote: PEER }]);
    expect(of(d.actions, 'locate')).toEqual([{ type: 'locate', stream: 1, peerHolds: new Map([['me', 2]]) }]);
    expect(d.state.outbound).toBe('locating');
  });

  it('closes on a bad frame or a failed action with the matching code', () => {
    const cases: [unknown, number][] = [
      [new CrmsyncError('ERR_FRAME_TOO_LARGE', 'x'), CloseCode.frameTooLarge],
      [new CrmsyncError('ERR_ORIGIN_FORKED', 'x'), CloseCode.originForked],
      [new CrmsyncError('ERR_SIGNATURE', 'x'), CloseCode.badSignature],
      [new CrmsyncError('ERR_UNAUTHORIZED', 'x'), CloseCode.unauthorized],
      [new CrmsyncError('ERR_PROTOCOL', 'x'), CloseCode.protocolError],
      [new Error('disk on fire'), CloseCode.internalError],
    ];
    for (const [error, code] of cases) {
      const d = Driver.open();
      const out = d.feed(error instanceof CrmsyncError && error.code === 'ERR_FRAME_TOO_LARGE' ? { type: 'bad-frame', error } : { type: 'failed', error });
      expect(closes(out)[0]!.code).toBe(code);
      // The peer hears why, for errors it caused; an internal error stays internal.
      expect(sends(out).some((m) => m.type === 'error')).toBe(error instanceof CrmsyncError);
    }
  });

  it('times out a handshake that never completes', () => {
    const d = new Driver(env(SELF));
    d.feed({ type: 'start' });
    expect(d.feed({ type: 'tick' }, { now: 1000 })).toEqual([]);
    expect(closes(d.feed({ type: 'tick' }, { now: 2001 }))[0]!.code).toBe(CloseCode.handshakeTimeout);
  });
});

/** The session as with a peer whose hello does not name 'cumulative-acks' (a node before them): every batch acked. */
function previousVersion(d: Driver): Driver {
  d.state = { ...d.state, cumulativeAcks: false };
  return d;
}

describe('outbound stream', () => {
  /** An open session that located cursor 1 with `n` local entries of origin 'me' in the log. */
  function streaming(n: number, extra: Partial<Env> = {}): Driver {
    const d = Driver.open(env(SELF, { lastPosition: n, ...extra }, [['me', n]]));
    d.feed({ type: 'located', stream: d.state.stream, cursor: 1 });
    return d;
  }

  it('reads from the cursor, sends fresh entries and skips what the peer holds (invariant 2)', () => {
    const d = streaming(3);
    expect(of(d.actions, 'read')).toEqual([{ type: 'read', stream: 1, from: 1 }]);
    d.message({ type: 'have', clock: [['me', 1, wire(1)]] });
    const out = d.feed({ type: 'read', stream: 1, entries: [entry('me', 1, 1), entry('me', 2, 2), entry('me', 3, 3)] });
    const [frame] = frames(out);
    const sent = decodeMessage(frame!.frame, settings.maxFrameBytes) as Extract<Message, { type: 'changes' }>;
    expect(sent.entries.map((e) => e.seq)).toEqual([2, 3]);
    expect(d.state.cursor).toBe(4);
    expect(d.state.sent.get('me')).toBe(3);
  });

  it('never has more than `window` batches unacknowledged, counting split frames (invariant 3)', () => {
    // 6 large entries, each alone above half the frame limit: a read splits into 6 frames.
    const big = (i: number) => entry('me', i, i, 40 * 1024);
    const d = streaming(6);
    const out = d.feed({ type: 'read', stream: 1, entries: [1, 2, 3, 4, 5, 6].map(big) });
    expect(frames(out).map((f) => f.batch)).toEqual([1, 2, 3, 4]);
    expect(d.state.queued.map((f) => f.batch)).toEqual([5, 6]);
    expect(d.state.sentBatch - d.state.ackedBatch).toBe(4);
    expect(of(out, 'read')).toEqual([]); // no further read while frames wait
    // One ack frees one slot: exactly one queued frame goes.
    expect(frames(d.message({ type: 'ack', batch: 1, clock: [] })).map((f) => f.batch)).toEqual([5]);
    expect(frames(d.message({ type: 'ack', batch: 2, clock: [] })).map((f) => f.batch)).toEqual([6]);
    for (const f of frames(d.actions)) expect(f.frame.length).toBeLessThanOrEqual(settings.maxFrameBytes);
  });

  it('waits for drain when the socket buffer is full, then reads', () => {
    const d = Driver.open(env(SELF, { lastPosition: 2, sendBlocked: true }, [['me', 2]]));
    const out = d.feed({ type: 'located', stream: 1, cursor: 1 });
    expect(of(out, 'await-drain')).toHaveLength(1);
    expect(of(out, 'read')).toEqual([]);
    expect(of(d.feed({ type: 'drained' }, { sendBlocked: false }), 'read')).toEqual([{ type: 'read', stream: 1, from: 1 }]);
  });

  it('ignores results of an earlier stream generation (invariant 4)', () => {
    const d = streaming(3);
    d.message({ type: 'resync', epoch: 1, clock: [] });
    expect(d.state.stream).toBe(2);
    expect(d.feed({ type: 'read', stream: 1, entries: [entry('me', 1, 1)] })).toEqual([]);
    expect(d.feed({ type: 'located', stream: 1, cursor: 9 })).toEqual([]);
    expect(d.state.outbound).toBe('locating');
  });

  it('a resync with a new epoch restarts the stream from the peer clock, in that epoch; repeats are ignored', () => {
    const d = streaming(3);
    d.feed({ type: 'read', stream: 1, entries: [entry('me', 1, 1), entry('me', 2, 2), entry('me', 3, 3)] });
    const out = d.message({ type: 'resync', epoch: 2, clock: [['me', 1, wire(1)]] });
    expect(of(out, 'locate')).toEqual([{ type: 'locate', stream: 2, peerHolds: new Map([['me', 1]]) }]);
    expect(d.state.epoch).toBe(2);
    expect(d.state.ackedBatch).toBe(d.state.sentBatch);
    expect(d.message({ type: 'resync', epoch: 2, clock: [] })).toEqual([]);
    d.feed({ type: 'located', stream: 2, cursor: 2 });
    const sent = frames(d.feed({ type: 'read', stream: 2, entries: [entry('me', 2, 2), entry('me', 3, 3)] }));
    const decoded = decodeMessage(sent[0]!.frame, settings.maxFrameBytes) as Extract<Message, { type: 'changes' }>;
    expect(decoded.epoch).toBe(2);
    expect(decoded.entries.map((e) => e.seq)).toEqual([2, 3]);
  });

  it('a skipped ack restarts from what the peer holds; a stale or future ack does nothing', () => {
    const d = previousVersion(streaming(2));
    d.feed({ type: 'read', stream: 1, entries: [entry('me', 1, 1, 40 * 1024), entry('me', 2, 2, 40 * 1024)] });
    expect(d.state.sentBatch).toBe(2);
    expect(of(d.message({ type: 'ack', batch: 7, clock: [] }), 'locate')).toEqual([]);
    expect(d.state.ackedBatch).toBe(0);
    expect(of(d.message({ type: 'ack', batch: 2, clock: [['me', 2, wire(2)]] }), 'locate')).toHaveLength(1);
    expect(d.message({ type: 'ack', batch: 1, clock: [] }).filter((a) => a.type !== 'read')).toEqual([]);
  });

  it('with cumulative acks (invariant 9), an ack past the next batch covers the ones before it: no restart', () => {
    const d = streaming(3);
    expect(d.state.cumulativeAcks).toBe(true);
    d.feed({ type: 'read', stream: 1, entries: [entry('me', 1, 1, 40 * 1024), entry('me', 2, 2, 40 * 1024), entry('me', 3, 3, 40 * 1024)] });
    expect(d.state.sentBatch).toBe(3);
    expect(of(d.message({ type: 'ack', batch: 2, clock: [['me', 2, wire(2)]] }), 'locate')).toEqual([]);
    expect(d.state.ackedBatch).toBe(2);
    expect(d.state.peerHolds.get('me')).toBe(2);
    expect(of(d.message({ type: 'ack', batch: 9, clock: [] }), 'locate')).toEqual([]);
    expect(d.state.ackedBatch).toBe(2);
  });

  it('resends from what the peer holds when acks stop coming', () => {
    const d = streaming(1);
    d.feed({ type: 'read', stream: 1, entries: [entry('me', 1, 1)] });
    expect(d.feed({ type: 'tick' }, { now: 1000 })).toEqual([]);
    const out = d.feed({ type: 'tick' }, { now: 1001 });
    expect(of(out, 'log')[0]).toMatchObject({ level: 'warn', message: 'acks timed out; resending' });
    expect(of(out, 'locate')).toHaveLength(1);
  });
});

describe('inbound stream', () => {
  const batch = (epoch: number, entries: ChangeEntry[], n = 1): Message => ({ type: 'changes', epoch, batch: n, entries });

  it('ingests, then acks with our clock for the batch origins (a peer without cumulative acks: every batch)', () => {
    const d = previousVersion(Driver.open());
    const out = d.message(batch(0, [entry('x', 1, 0)]));
    expect(of(out, 'ingest')).toMatchObject([{ type: 'ingest', entries: [{ origin: 'x', seq: 1 }], batch: 1, epoch: 0 }]);
    const acked = d.feed({ type: 'ingested', batch: 1, epoch: 0, origins: ['x'], gap: false, untrusted: false }, { holdings: new Map([['x', { seq: 1, hash: hash(1) }], ['y', { seq: 4, hash: hash(4) }]]) });
    expect(sends(acked)).toEqual([{ type: 'ack', batch: 1, clock: [['x', 1, wire(1)]] }]);
  });

  it('with cumulative acks, acks every fourth durable frame, or the rest when the delay runs out (invariant 9)', () => {
    const d = Driver.open();
    const holdings = new Map([['x', { seq: 4, hash: hash(4) }], ['y', { seq: 2, hash: hash(2) }]]);
    const ingested = (n: number, origin: string) => d.feed({ type: 'ingested', batch: n, epoch: 0, origins: [origin], gap: false, untrusted: false }, { holdings });
    for (let n = 1; n <= 4; n++) d.message(batch(0, [entry(n % 2 ? 'x' : 'y', Math.ceil(n / 2), 0)], n));
    const first = ingested(1, 'x');
    expect(sends(first)).toEqual([]);
    expect(of(first, 'ack-later')).toHaveLength(1);
    expect(of(ingested(2, 'y'), 'ack-later')).toEqual([]);
    ingested(3, 'x');
    // The fourth: one ack for all four, naming both origins.
    expect(sends(ingested(4, 'y'))).toEqual([{ type: 'ack', batch: 4, clock: [['x', 4, wire(4)], ['y', 2, wire(2)]] }]);
    expect(sends(d.feed({ type: 'flush-ack' }))).toEqual([]);
    // One more, then the delay: it goes alone.
    d.message(batch(0, [entry('x', 3, 0)], 5));
    ingested(5, 'x');
    expect(sends(d.feed({ type: 'flush-ack' }, { holdings }))).toEqual([{ type: 'ack', batch: 5, clock: [['x', 4, wire(4)]] }]);
  });

  it('with cumulative acks, acks every half window to a peer whose window is small, so it never waits for the delay', () => {
    const sizes = [[1, 1], [2, 1], [3, 1], [4, 2], [7, 3], [8, 4], [16, 4]] as const;
    for (const [window, every] of sizes) {
      const d = Driver.open();
      d.state = { ...d.state, peerWindow: window };
      const acks: number[] = [];
      for (let n = 1; n <= 8; n++) {
        d.message(batch(0, [entry('x', n, 0)], n));
        const out = d.feed({ type: 'ingested', batch: n, epoch: 0, origins: ['x'], gap: false, untrusted: false }, { holdings: new Map([['x', { seq: n, hash: hash(n) }]]) });
        for (const m of sends(out)) if (m.type === 'ack') acks.push(m.batch);
      }
      expect(acks, `window ${window}`).toEqual(Array.from({ length: 8 / every }, (_, i) => (i + 1) * every));
    }
  });

  it('with cumulative acks, a skipped batch number is a lost frame: resync, nothing ingested; a new epoch starts anywhere', () => {
    const d = Driver.open();
    d.message(batch(0, [entry('x', 1, 0)], 1));
    d.feed({ type: 'ingested', batch: 1, epoch: 0, origins: ['x'], gap: false, untrusted: false }, { holdings: new Map([['x', { seq: 1, hash: hash(1) }]]) });
    const lost = d.message(batch(0, [entry('x', 3, 0)], 3));
    expect(of(lost, 'ingest')).toEqual([]);
    // What was durable is acked first, then the resync.
    expect(sends(lost)).toEqual([{ type: 'ack', batch: 1, clock: [['x', 1, wire(1)]] }, { type: 'resync', epoch: 1, clock: [['x', 1, wire(1)]], trust: 'digest' }]);
    // A duplicate of an earlier batch is ingested again (idempotent) and covered by the next ack.
    expect(of(d.message(batch(1, [entry('x', 2, 0)], 7)), 'ingest')).toHaveLength(1);
    expect(of(d.message(batch(1, [entry('x', 2, 0)], 7)), 'ingest')).toHaveLength(1);
    expect(of(d.message(batch(1, [entry('x', 3, 0)], 8)), 'ingest')).toHaveLength(1);
    expect(sends(d.message(batch(1, [entry('x', 4, 0)], 10)))).toMatchObject([{ type: 'resync', epoch: 2 }]);
  });

  it('learns what the peer sent before ingesting it, so it is never sent back (invariant 5)', () => {
    const d = Driver.open();
    d.message(batch(0, [entry('x', 1, 0), entry('x', 2, 0)]));
    expect(d.state.sent.get('x')).toBe(2);
    expect(d.state.peerHolds.get('x')).toBe(2);
    // Our commit of those entries appends them to our log: nothing is sent back.
    d.feed({ type: 'located', stream: d.state.stream, cursor: 1 }, { lastPosition: 2 });
    const out = d.feed({ type: 'read', stream: d.state.stream, entries: [entry('x', 1, 1), entry('x', 2, 2)] }, { lastPosition: 2 });
    expect(frames(out)).toEqual([]);
  });

  it('a gap asks for a resync with a new epoch; older epochs get the resync repeated', () => {
    const d = Driver.open();
    d.message(batch(0, [entry('x', 5, 0)]));
    const out = d.feed({ type: 'ingested', batch: 1, epoch: 0, origins: ['x'], gap: true, untrusted: false });
    expect(sends(out)).toEqual([{ type: 'resync', epoch: 1, clock: [], trust: 'digest' }]);
    expect(d.state.recvEpoch).toBe(1);
    const stale = d.message(batch(0, [entry('x', 6, 0)], 2));
    expect(of(stale, 'ingest')).toEqual([]);
    expect(sends(stale)).toEqual([{ type: 'resync', epoch: 1, clock: [] }]);
    expect(of(d.message(batch(1, [entry('x', 1, 0)], 3)), 'ingest')).toHaveLength(1);
  });

  it('a frame handled while the one before was written, and found a gap too: the resync already asked for covers it', () => {
    const d = Driver.open();
    // Frames 1 and 2 are both ingested before frame 1's result comes back (session.ts invariant 2).
    d.message(batch(0, [entry('x', 5, 0)]));
    d.message(batch(0, [entry('x', 6, 0)], 2));
    expect(sends(d.feed({ type: 'ingested', batch: 1, epoch: 0, origins: ['x'], gap: true, untrusted: false }))).toEqual([{ type: 'resync', epoch: 1, clock: [], trust: 'digest' }]);
    expect(sends(d.feed({ type: 'ingested', batch: 2, epoch: 0, origins: ['x'], gap: true, untrusted: false }))).toEqual([]);
    expect(d.state.recvEpoch).toBe(1);
  });

  it('origins the trust list does not know yet: a resync carrying our trust digest, so the sender sends its statements first', () => {
    const d = Driver.open();
    const out = d.feed({ type: 'ingested', batch: 1, epoch: 0, origins: ['y'], gap: false, untrusted: true });
    expect(sends(out)).toEqual([{ type: 'resync', epoch: 1, clock: [], trust: 'digest' }]);
    // The sender of a resync whose digest differs from its own sends its statements before restarting.
    const sender = Driver.open();
    const answer = sender.message({ type: 'resync', epoch: 5, clock: [], trust: 'other' });
    expect(answer.map((a) => a.type).slice(0, 2)).toEqual(['send-trust', 'locate']);
    expect(of(Driver.open().message({ type: 'resync', epoch: 5, clock: [], trust: 'digest' }), 'send-trust')).toEqual([]);
  });

  it('learns only origins on the trust list, and never sends entries the trust list put beyond reach (invariant 7)', () => {
    const d = Driver.open(env(SELF, { lastPosition: 3, allowed: (origin, seq) => origin !== 'gone' || seq <= 1 }, [['me', 1], ['gone', 2]]));
    d.message({ type: 'have', clock: [['stranger', 5, wire(5)], ['me', 1, wire(1)]] });
    expect(d.state.peerHolds.has('stranger')).toBe(false);
    d.feed({ type: 'located', stream: d.state.stream, cursor: 1 });
    const out = d.feed({ type: 'read', stream: d.state.stream, entries: [entry('gone', 1, 1), entry('gone', 2, 2), entry('me', 1, 3)] });
    const sent = decodeMessage(frames(out)[0]!.frame, settings.maxFrameBytes) as Extract<Message, { type: 'changes' }>;
    expect(sent.entries.map((e) => `${e.origin}/${e.seq}`)).toEqual(['gone/1']);
  });

  it('puts the signature on each origin\'s last entry of a frame and the previous chain hash on its first', () => {
    const d = Driver.open(env(SELF, { lastPosition: 4 }, [['me', 2], ['x', 2]]));
    d.feed({ type: 'located', stream: d.state.stream, cursor: 1 });
    const entries = [entry('me', 1, 1), entry('x', 1, 2), entry('me', 2, 3), entry('x', 2, 4)];
    entries[0]!.prev = hash(0);
    entries[1]!.prev = hash(100);
    const sent = decodeMessage(frames(d.feed({ type: 'read', stream: d.state.stream, entries }))[0]!.frame, settings.maxFrameBytes) as Extract<Message, { type: 'changes' }>;
    expect(sent.entries.map((e) => [e.origin, e.seq, e.sig !== undefined, e.prev])).toEqual([
      ['me', 1, false, hash(0)], ['x', 1, false, hash(100)], ['me', 2, true, undefined], ['x', 2, true, undefined],
    ]);
  });

  it('announces origins received elsewhere, only when open', () => {
    const waiting = new Driver(env(SELF));
    expect(waiting.feed({ type: 'announce', origins: ['x'] })).toEqual([]);
    const d = Driver.open(env(SELF, {}, [['x', 3]]));
    expect(sends(d.feed({ type: 'announce', origins: ['x'] }))).toEqual([{ type: 'have', clock: [['x', 3, wire(3)]] }]);
  });
});

describe('lag', () => {
  it('is a pure query: how far the peer is behind, and since when', () => {
    const d = Driver.open(env(SELF, { now: 0, lastPosition: 0 }, [['me', 0]]));
    d.feed({ type: 'appended' }, { now: 10, holdings: new Map([['me', { seq: 3, hash: '' }]]), lastPosition: 3 });
    const before = d.state;
    expect(lagOf(d.state, { holdings: d.env.holdings, now: 5000 })).toEqual({ peerBehind: 3, weBehind: 0, seconds: 5 });
    expect(d.state).toBe(before);
    d.message({ type: 'have', clock: [['me', 3, wire(3)]] }, { now: 6000 });
    expect(lagOf(d.state, { holdings: d.env.holdings, now: 7000 })).toEqual({ peerBehind: 0, weBehind: 0, seconds: 0 });
  });
});
