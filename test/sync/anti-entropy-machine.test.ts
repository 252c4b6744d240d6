/**
 * The protocol machine's part of anti-entropy: digest messages are accepted only once
 * open and handed to the host; a peer's stated clock that lacks entries the stream
 * counted as delivered (nothing in flight) restarts the stream from that clock.
 */
import { describe, expect, it } from 'vitest';
import type { DigestRequestMessage, Message } from '../../src/sync/messages.js';
import { Driver, SELF, closes, entry, env, hash, of, sends } from './machine-harness.js';

const wire = (n: number) => Buffer.from(hash(n), 'hex');
const groups = (clock: [string, number, Buffer][]): DigestRequestMessage => ({ type: 'digest-request', req: 1, what: 'groups', paths: [], ids: [], clock });

/** An open session that sent me:1..n in one frame, acknowledged by the peer. */
function delivered(n: number): Driver {
  const d = Driver.open(env(SELF, { lastPosition: n }, [['me', n]]));
  d.feed({ type: 'located', stream: d.state.stream, cursor: 1 });
  d.feed({ type: 'read', stream: d.state.stream, entries: Array.from({ length: n }, (_, i) => entry('me', i + 1, i + 1)) });
  d.message({ type: 'ack', batch: d.state.sentBatch, clock: [['me', n, wire(n)]] });
  d.feed({ type: 'read', stream: d.state.stream, entries: [] });
  return d;
}

describe('anti-entropy in the protocol machine', () => {
  it('refuses digest messages before the handshake completed', () => {
    const d = new Driver(env(SELF));
    d.feed({ type: 'start' });
    const out = d.message(groups([]));
    expect(closes(out)[0]).toMatchObject({ code: 1002 });
    expect(of(out, 'digest')).toEqual([]);
  });

  it('hands digest requests and responses to the host once open', () => {
    const d = delivered(2);
    const request = groups([['me', 2, wire(2)]]);
    expect(of(d.message(request), 'digest')).toEqual([{ type: 'digest', message: request }]);
    const response: Message = { type: 'digest-response', req: 4, refused: 'busy' };
    expect(of(d.message(response), 'digest')).toEqual([{ type: 'digest', message: response }]);
    expect(of(d.actions, 'locate')).toHaveLength(1); // only the stream's first
  });

  it('sends digest messages only while open', () => {
    const closed = new Driver(env(SELF));
    expect(closed.feed({ type: 'send-digest', message: groups([]) })).toEqual([]);
    const d = delivered(1);
    expect(sends(d.feed({ type: 'send-digest', message: groups([]) }))).toEqual([groups([])]);
  });

  it('restarts the stream from a stated clock that lacks what was acknowledged as delivered', () => {
    const d = delivered(3);
    const stream = d.state.stream;
    const out = d.message(groups([['me', 1, wire(1)]]));
    expect(of(out, 'log')[0]).toMatchObject({ level: 'warn', message: 'peer lacks entries the stream counted as delivered; resending', fields: { missing: 2 } });
    expect(of(out, 'locate')).toEqual([{ type: 'locate', stream: stream + 1, peerHolds: new Map([['me', 1]]) }]);
    expect(d.state.sent.get('me')).toBe(1);
  });

  it('leaves the stream alone while a batch is unacknowledged, or when the clock covers what was sent', () => {
    const d = Driver.open(env(SELF, { lastPosition: 2 }, [['me', 2]]));
    d.feed({ type: 'located', stream: d.state.stream, cursor: 1 });
    d.feed({ type: 'read', stream: d.state.stream, entries: [entry('me', 1, 1), entry('me', 2, 2)] });
    expect(of(d.message(groups([])), 'locate')).toEqual([]);
    const done = delivered(2);
    expect(of(done.message(groups([['me', 2, wire(2)], ['other', 9, wire(9)]])), 'locate')).toEqual([]);
  });
});
