/**
 * The subscription exchange in the protocol machine, state by event (PROTOCOL.md
 * "Holdings", subscription change): a node whose stored data is complete only for an
 * older subscription declares that one in `open` and asks for the new one once the peer
 * holds its own entries (they may move records into the new holding);
 * the serving side answers `subscribed`, echoing the subscription, once it sent every
 * document the new holding gains; only a region's answer makes the data complete.
 */
import { describe, expect, it } from 'vitest';
import { recordSigningInput } from '../../src/sync/messages.js';
import { CLUSTER, Driver, PEER, SELF, env, hash, keysOf, of, sends } from './machine-harness.js';

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

  it('asks for the new subscription only once the peer holds our own entries (ours may move records into it)', () => {
    // We made 3 changes the peer lacks (e.g. a move made offline, which evicted the record here).
    const d = Driver.open(env(SELF, { subscription: NORTH_SOUTH, coveredOnly: NORTH }, [[SELF, 3]]), [[SELF, 1]]);
    expect(sends(d.actions).filter((m) => m.type === 'subscribe')).toEqual([]);
    expect(d.state.subscribeWhen).toBe(3);
    expect(sends(d.message({ type: 'have', clock: [[SELF, 2, Buffer.from(hash(2), 'hex')]] })).filter((m) => m.type === 'subscribe')).toEqual([]);
    expect(sends(d.message({ type: 'have', clock: [[SELF, 3, Buffer.from(hash(3), 'hex')]] })).filter((m) => m.type === 'subscribe')).toEqual([{ type: 'subscribe', holding: NORTH_SOUTH }]);
    expect(d.state.subscribeWhen).toBeUndefined();
    // Asked once: later news of what the peer holds asks nothing more.
    expect(sends(d.message({ type: 'have', clock: [[SELF, 3, Buffer.from(hash(3), 'hex')]] })).filter((m) => m.type === 'subscribe')).toEqual([]);
  });

  it('a subscription changed at runtime waits the same way, and is sent with the subscription current then', () => {
    const d = Driver.open(env(SELF, { subscription: NORTH }, [[SELF, 1]]), [[SELF, 1]]);
    d.feed({ type: 'located', stream: d.state.stream, cursor: 2 });
    // A change of ours (seq 2) the peer has not acknowledged yet, then the subscription grows.
    const grown = d.feed({ type: 'resubscribe' }, { subscription: NORTH_SOUTH, holdings: env(SELF, {}, [[SELF, 2]]).holdings });
    expect(sends(grown).filter((m) => m.type === 'subscribe')).toEqual([]);
    const held = d.message({ type: 'have', clock: [[SELF, 2, Buffer.from(hash(2), 'hex')]] });
    expect(sends(held).filter((m) => m.type === 'subscribe')).toEqual([{ type: 'subscribe', holding: NORTH_SOUTH }]);
  });

  it('a runtime change before our open is sent asks nothing: the open will declare it', () => {
    const d = new Driver(env(SELF, { subscription: NORTH }));
    d.feed({ type: 'start' });
    expect(d.feed({ type: 'resubscribe' })).toEqual([]);
    expect(d.state.subscribeWhen).toBeUndefined();
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

describe('asking a region for records held in part (want)', () => {
  /** An open session whose peer (a region) holds `peerSeq` of origin 'o', while we hold 2. */
  function holdingPart(peerSeq: number): Driver {
    const d = Driver.open(env(SELF, {}, [['o', 2]]), [['o', peerSeq]]);
    d.feed({ type: 'located', stream: d.state.stream, cursor: 1 });
    return d;
  }

  it('asks only once the region holds every other origin\'s entries we hold, then treats its answer as complete', () => {
    const d = holdingPart(1);
    const ingested = d.feed({ type: 'ingested', batch: 1, epoch: 0, origins: ['o'], gap: false, untrusted: false, incomplete: ['r1'] });
    expect(sends(ingested).filter((m) => m.type === 'want')).toEqual([]);
    // The region now holds what we hold: the want goes.
    const have = d.message({ type: 'have', clock: [['o', 2, Buffer.alloc(32)]] });
    expect(sends(have).filter((m) => m.type === 'want')).toEqual([{ type: 'want', ids: ['r1'] }]);
    expect(d.state.asked).toEqual(['r1']);
  });

  it('takes an answer as complete only while the region holds what we hold: entries taken from others since asking make it partial', () => {
    const doc = new Uint8Array([1, 2, 3]);
    const record = (id: string) => ({ type: 'record' as const, id, doc, sig: keysOf[PEER]!.sign(recordSigningInput(CLUSTER, id, doc)) });
    const d = holdingPart(2);
    d.feed({ type: 'ingested', batch: 1, epoch: 0, origins: ['o'], gap: false, untrusted: false, incomplete: ['r1', 'r2'] });
    expect(d.state.asked).toEqual(['r1', 'r2']);
    expect(of(d.message(record('r1')), 'adopt')).toEqual([{ type: 'adopt', id: 'r1', doc, complete: true }]);
    // Meanwhile we took origin 'o' up to 3 from another peer; the region is known to hold 2.
    const later = env(SELF, {}, [['o', 3]]).holdings;
    expect(of(d.message(record('r2'), { holdings: later }), 'adopt')).toEqual([{ type: 'adopt', id: 'r2', doc, complete: false }]);
    expect(d.state.asked).toEqual([]);
  });

  it('marks a document the answer only for a record asked for; evicts only asked records the region calls outside', () => {
    const d = holdingPart(2);
    d.feed({ type: 'ingested', batch: 1, epoch: 0, origins: ['o'], gap: false, untrusted: false, incomplete: ['r1', 'r2'] });
    expect(d.state.asked).toEqual(['r1', 'r2']);
    const out = d.message({ type: 'outside', ids: ['r2', 'not-asked'] });
    expect(of(out, 'evict')).toEqual([{ type: 'evict', ids: ['r2'] }]);
    expect(d.state.asked).toEqual(['r1']);
    expect(of(d.message({ type: 'outside', ids: ['r2'] }), 'evict')).toEqual([]);
  });

  it('never asks a member that is not a region, and answers a want with the records inside the asker\'s scope', () => {
    const d = holdingPart(2);
    d.state = { ...d.state, peer: { ...d.state.peer!, node: PEER, role: 'laptop' } };
    const out = d.feed({ type: 'ingested', batch: 1, epoch: 0, origins: ['o'], gap: false, untrusted: false, incomplete: ['r1'] });
    expect(sends(out).filter((m) => m.type === 'want')).toEqual([]);
    expect(d.state.wanting).toBeUndefined();
    // Serving side: a want becomes one send-records action (the session filters by scope).
    expect(of(d.message({ type: 'want', ids: ['r1', 'r2'] }), 'send-records')).toEqual([{ type: 'send-records', ids: ['r1', 'r2'] }]);
  });

  it('keeps at most maxWantIds records waiting', () => {
    const d = holdingPart(1);
    const many = Array.from({ length: 1000 }, (_, i) => `r${i}`);
    d.feed({ type: 'ingested', batch: 1, epoch: 0, origins: ['o'], gap: false, untrusted: false, incomplete: many });
    expect(d.state.wanting).toHaveLength(256);
  });
});
