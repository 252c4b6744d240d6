/**
 * The subscription exchange in the protocol machine, state by event (PROTOCOL.md
 * "Holdings", subscription change): a node whose stored data is complete only for an
 * older subscription declares that one in `open` and asks for the new one right after;
 * the serving side answers `subscribed`, echoing the subscription, once it sent every
 * document the new holding gains; only a region's answer makes the data complete.
 */
import { describe, expect, it } from 'vitest';
import { Driver, PEER, SELF, env, of, sends } from './machine-harness.js';

const NORTH = { territories: ['north'] };
const NORTH_SOUTH = { territories: ['north', 'south'] };

/** A session past its handshake whose first catch-up read found nothing: the outbound side is idle. */
function idleOpen(): Driver {
  const d = Driver.open(env(SELF));
  d.feed({ type: 'located', stream: d.state.stream, cursor: 1 });
  expect(d.state.outbound).toBe('idle');
  return d;
}

describe('the subscription exchange', () => {
  it('a node complete only for an older subscription declares it in open, then asks for the new one', () => {
    const d = Driver.open(env(SELF, { subscription: NORTH_SOUTH, coveredOnly: NORTH }));
    const sent = sends(d.actions).filter((m) => m.type === 'open' || m.type === 'subscribe');
    expect(sent).toMatchObject([{ type: 'open', holding: NORTH }, { type: 'subscribe', holding: NORTH_SOUTH }]);
  });

  it('a node whose data is complete declares its subscription and asks for nothing more', () => {
    const d = Driver.open(env(SELF, { subscription: NORTH }));
    const sent = sends(d.actions).filter((m) => m.type === 'open' || m.type === 'subscribe');
    expect(sent).toMatchObject([{ type: 'open', holding: NORTH }]);
  });

  it('answers subscribed, echoing the subscription, only after the documents it gains were sent', () => {
    const d = idleOpen();
    const asked = d.message({ type: 'subscribe', holding: NORTH });
    const [backfill] = of(asked, 'backfill');
    expect(backfill).toMatchObject({ from: [], to: [NORTH] });
    expect(sends(asked)).toEqual([]);
    const done = d.feed({ type: 'backfilled', stream: backfill!.stream, holding: backfill!.to });
    expect(sends(done)).toEqual([{ type: 'subscribed', holding: NORTH }]);
    expect(d.state.peerHolding).toEqual([NORTH]);
  });

  it('a newer subscription asked during the documents is answered, not the older one', () => {
    const d = idleOpen();
    const [first] = of(d.message({ type: 'subscribe', holding: NORTH }), 'backfill');
    d.message({ type: 'subscribe', holding: NORTH_SOUTH });
    const next = d.feed({ type: 'backfilled', stream: first!.stream, holding: first!.to });
    expect(sends(next)).toEqual([]);
    const [second] = of(next, 'backfill');
    expect(second).toMatchObject({ from: [NORTH], to: [NORTH_SOUTH] });
    expect(sends(d.feed({ type: 'backfilled', stream: second!.stream, holding: second!.to }))).toEqual([{ type: 'subscribed', holding: NORTH_SOUTH }]);
  });

  it('answers at once when the holding does not change', () => {
    const d = idleOpen();
    const out = d.message({ type: 'subscribe' });
    expect(of(out, 'backfill')).toEqual([]);
    expect(sends(out)).toEqual([{ type: 'subscribed' }]);
  });

  it('takes a region\'s answer as complete data, and ignores anyone else\'s', () => {
    const d = idleOpen();
    expect(of(d.message({ type: 'subscribed', holding: NORTH }), 'covered')).toEqual([{ type: 'covered', holding: NORTH }]);
    d.state = { ...d.state, peer: { ...d.state.peer!, node: PEER, role: 'laptop' } };
    expect(of(d.message({ type: 'subscribed', holding: NORTH }), 'covered')).toEqual([]);
  });
});
