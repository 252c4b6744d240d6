/**
 * The protocol machine and truncated logs (PROTOCOL.md "Truncated logs"), state by event:
 * floors (`base`) are applied only from a region, before anything after them; a locate
 * that brought the peer to our floors learns them; origins we could not bring it to are
 * not served on that stream, and the next locate decides again.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage } from '../../src/sync/codec.js';
import type { Message } from '../../src/sync/messages.js';
import { Driver, PEER, SELF, entry, env, frames, of, settings } from './machine-harness.js';

const FLOOR: Extract<Message, { type: 'base' }>['floors'][number] = ['other', 7, new Uint8Array(32), 'c-1', new Uint8Array(32), new Uint8Array(64)];

describe('floors from the peer (base)', () => {
  it('a region\'s floors are applied (the inbox waits for it)', () => {
    const d = Driver.open(env(SELF));
    const out = d.message({ type: 'base', floors: [FLOOR] });
    expect(of(out, 'apply-base')).toEqual([{ type: 'apply-base', floors: [FLOOR], documented: new Set() }]);
  });

  it('floors from a member that is not a region are ignored and logged; the session stays open', () => {
    const d = Driver.open(env(SELF));
    d.state = { ...d.state, peer: { ...d.state.peer!, node: PEER, role: 'laptop' } };
    const out = d.message({ type: 'base', floors: [FLOOR] });
    expect(of(out, 'apply-base')).toEqual([]);
    expect(of(out, 'log')[0]).toMatchObject({ level: 'warn', message: expect.stringContaining('not a region') });
    expect(d.state.phase).toBe('open');
  });
});

describe('locating for a peer below our floors', () => {
  it('learns the floors the peer was brought to', () => {
    const d = Driver.open(env(SELF, { lastPosition: 3 }, [['me', 3], ['other', 9]]));
    d.feed({ type: 'located', stream: d.state.stream, cursor: 2, based: [['other', 7]] });
    expect(d.state.peerHolds.get('other')).toBe(7);
    expect(d.state.sent.get('other')).toBe(7);
    expect(d.state.cursor).toBe(2);
  });

  it('does not serve origins it could not bring the peer to; the next locate decides again', () => {
    const d = Driver.open(env(SELF, { lastPosition: 3 }, [['me', 3], ['other', 9]]));
    d.feed({ type: 'located', stream: d.state.stream, cursor: 1, unserved: ['other'] });
    const out = d.feed({ type: 'read', stream: d.state.stream, entries: [entry('other', 8, 1), entry('me', 1, 2), entry('other', 9, 3)] });
    const [frame] = frames(out);
    const sent = decodeMessage(frame!.frame, settings.maxFrameBytes) as Extract<Message, { type: 'changes' }>;
    expect(sent.entries.map((e) => [e.origin, e.seq])).toEqual([['me', 1]]);
    // A resync restarts the stream: served again unless the new locate says otherwise.
    d.message({ type: 'resync', epoch: 1, clock: [] });
    d.feed({ type: 'located', stream: d.state.stream, cursor: 1 });
    expect(d.state.unserved?.size).toBe(0);
  });
});
