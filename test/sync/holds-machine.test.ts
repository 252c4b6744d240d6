/**
 * Member holds reports in the protocol machine (PROTOCOL.md "Holds reports"): reports
 * are taken only with a valid signature by the member they describe; a report of a node
 * that is not an active member is skipped; a report that does not verify makes the
 * session ignore the peer's reports from then on (each costs a signature check), without
 * closing it. Reports go out only while the session is open.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../src/sync/codec.js';
import { holdsChunks, holdsSigningInput, type HeldSeqs, type HoldsReport, type Message } from '../../src/sync/messages.js';
import { CrmsyncError } from '../../src/errors.js';
import { FIXED } from '../../src/limits.js';
import { CLUSTER, Driver, PEER, SELF, env, keysOf, of, sends } from './machine-harness.js';

const clockOf = (seq: number): HeldSeqs => [[PEER, seq]];

function report(node: string, at: number, seq: number, signer = node): HoldsReport {
  const body = { node, at, clock: clockOf(seq) };
  return { ...body, sig: keysOf[signer]!.sign(holdsSigningInput(CLUSTER, body)) };
}

describe('holds reports in the machine', () => {
  it('takes reports signed by the member they describe, and skips nodes that are not members', () => {
    const d = Driver.open();
    const out = d.message({ type: 'holds', reports: [report(PEER, 10, 3), report(SELF, 11, 2), { ...report(PEER, 12, 4), node: 'stranger' }] });
    expect(of(out, 'holds')).toEqual([{ type: 'holds', reports: [report(PEER, 10, 3), report(SELF, 11, 2)] }]);
    expect(d.state.phase).toBe('open');
  });

  it('a report that does not verify (another signer, or altered) stops the peer\'s reports being read, without closing', () => {
    const d = Driver.open();
    const forged = report(SELF, 10, 99, PEER); // the peer signs a report about us
    const out = d.message({ type: 'holds', reports: [report(PEER, 10, 3), forged, report(PEER, 11, 4)] });
    expect(of(out, 'holds')).toEqual([{ type: 'holds', reports: [report(PEER, 10, 3)] }]);
    expect(of(out, 'log')).toHaveLength(1);
    expect(d.state).toMatchObject({ phase: 'open', holds: { ignored: true } });
    expect(of(d.message({ type: 'holds', reports: [report(PEER, 20, 5)] }), 'holds')).toEqual([]);

    const altered = Driver.open();
    const honest = report(PEER, 10, 3);
    expect(of(altered.message({ type: 'holds', reports: [{ ...honest, clock: clockOf(1_000) }] }), 'holds')).toEqual([]);
    expect(altered.state.holds?.ignored).toBe(true);
  });

  it('checks each member\'s report once per session: a replayed or older one is skipped before any signature check', () => {
    const d = Driver.open();
    let checks = 0;
    const verify = d.env.auth.verify;
    d.env = { ...d.env, auth: { ...d.env.auth, verify: (...args) => { checks++; return verify(...args); } } };
    const honest = report(PEER, 10, 3);
    expect(of(d.message({ type: 'holds', reports: [honest, honest, report(PEER, 9, 2)] }), 'holds')).toEqual([{ type: 'holds', reports: [honest] }]);
    expect(checks).toBe(1);
    expect(of(d.message({ type: 'holds', reports: Array.from({ length: 64 }, () => honest) }), 'holds')).toEqual([]);
    expect(checks).toBe(1);
    expect(of(d.message({ type: 'holds', reports: [report(PEER, 11, 4)] }), 'holds')).toHaveLength(1);
    expect(checks).toBe(2);
  });

  it('skips a revoked member\'s reports', () => {
    const d = Driver.open(env(SELF));
    d.env = { ...d.env, auth: { ...d.env.auth, memberKey: (node) => (node === PEER ? undefined : d.env.auth.memberKey(node)) } };
    expect(of(d.message({ type: 'holds', reports: [report(PEER, 10, 3)] }), 'holds')).toEqual([]);
    expect(d.state.holds?.ignored).toBeUndefined();
  });

  it('answers one summary per session: a reconnect exchanges a line per member, then only the newer reports', () => {
    const d = Driver.open();
    const out = d.message({ type: 'holds', reports: [], known: [[PEER, 10], [SELF, 3]] });
    expect(of(out, 'holds-wanted')).toEqual([{ type: 'holds-wanted', known: [[PEER, 10], [SELF, 3]] }]);
    expect(of(d.message({ type: 'holds', reports: [], known: [] }), 'holds-wanted')).toEqual([]);
    expect(sends(d.feed({ type: 'share-holds', reports: [], known: [[SELF, 4]] }))).toEqual([{ type: 'holds', reports: [], known: [[SELF, 4]] }]);
  });

  it('sends reports only while open', () => {
    const before = new Driver(env(SELF));
    before.feed({ type: 'start' });
    expect(before.feed({ type: 'share-holds', reports: [report(SELF, 1, 1)] })).toEqual([]);
    const d = Driver.open();
    expect(sends(d.feed({ type: 'share-holds', reports: [report(SELF, 1, 1)] }))).toEqual([{ type: 'holds', reports: [report(SELF, 1, 1)] }]);
    expect(d.feed({ type: 'share-holds', reports: [] })).toEqual([]);
  });
});

describe('holds messages on the wire', () => {
  it('round-trip, and the receiver\'s limits hold for what a sender splits', () => {
    const reports = Array.from({ length: 150 }, (_, i) => report(PEER, i, i + 1));
    const chunks = holdsChunks(reports, FIXED.maxHoldsReports, FIXED.maxHoldsClockEntries);
    expect(chunks.map((c) => c.length)).toEqual([64, 64, 22]);
    const hex = (r: HoldsReport) => ({ ...r, sig: Buffer.from(r.sig).toString('hex'), clock: r.clock });
    for (const chunk of chunks) {
      const decoded = decodeMessage(encodeMessage({ type: 'holds', reports: chunk }), 1 << 20) as Message;
      expect(decoded.type === 'holds' && decoded.reports.map(hex)).toEqual(chunk.map(hex));
    }
    const wide = Array.from({ length: 3 }, (_, i) => ({ ...report(PEER, i, 1), clock: Array.from({ length: 9_000 }, (_, j): HeldSeqs[number] => [`o${j}`, 1]) }));
    expect(holdsChunks(wide, FIXED.maxHoldsReports, FIXED.maxHoldsClockEntries).map((c) => c.length)).toEqual([2, 1]);
  });

  it('refuses a message beyond the limits, or a malformed report, with ERR_PROTOCOL', () => {
    const tooMany = { type: 'holds' as const, reports: Array.from({ length: FIXED.maxHoldsReports + 1 }, (_, i) => report(PEER, i, 1)) };
    const wide = Array.from({ length: 3 }, (_, i) => ({ ...report(PEER, i, 1), clock: Array.from({ length: 9_000 }, (_, j): HeldSeqs[number] => [`o${j}`, 1]) }));
    const cases = [
      tooMany,
      { type: 'holds' as const, reports: wide },
      { type: 'holds' as const, reports: [{ ...report(PEER, 1, 1), sig: new Uint8Array(10) }] },
      { type: 'holds' as const, reports: [{ ...report(PEER, 1, 1), node: 'Not A Node' }] },
      { type: 'holds' as const, reports: [{ ...report(PEER, 1, 1), at: -1 }] },
      { type: 'holds' as const, reports: 'none' },
      { type: 'holds' as const, reports: [], known: [['b', -5]] },
      { type: 'holds' as const, reports: [], known: Array.from({ length: FIXED.maxHoldsKnown + 1 }, (_, i) => [`n${i}`, 1]) },
    ];
    for (const message of cases) {
      let error: unknown;
      try {
        decodeMessage(encodeMessage(message as never), 4 << 20);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(CrmsyncError);
      expect((error as CrmsyncError).code).toBe('ERR_PROTOCOL');
    }
  });
});
