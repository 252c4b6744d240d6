import { describe, expect, it } from 'vitest';
import { Admission, isRefusal, normalizeAddress, type Slot } from '../../src/net/admission.js';
import { InboundBudget } from '../../src/net/flow-control.js';

function slot(value: ReturnType<Admission['admitInbound']>): Slot {
  if (isRefusal(value)) throw new Error(`refused: ${value.reason}`);
  return value;
}

describe('Admission', () => {
  it('enforces the total over inbound and outbound, the per-address count and the unauthenticated count, in that order', () => {
    const admission = new Admission({ maxConnections: 3, maxConnectionsPerAddress: 2, maxUnauthenticatedConnections: 2 });
    const a1 = slot(admission.admitInbound('10.0.0.1'));
    slot(admission.admitInbound('::ffff:10.0.0.1')); // the same address, IPv4-mapped
    expect(admission.admitInbound('10.0.0.1')).toEqual({ status: 429, reason: 'address' });
    expect(admission.admitInbound('10.0.0.2')).toEqual({ status: 503, reason: 'unauthenticated' });
    a1.authenticated();
    a1.authenticated();
    expect(admission.unauthenticated).toBe(1);
    slot(admission.admitInbound('10.0.0.2'));
    expect(admission.admitOutbound()).toEqual({ status: 503, reason: 'connections' });
    expect(admission.admitInbound('10.0.0.3')).toEqual({ status: 503, reason: 'connections' });
    a1.release();
    a1.release(); // idempotent
    expect(admission.total).toBe(2);
    expect(admission.unauthenticated).toBe(2); // a1 was authenticated: releasing it leaves the count alone
    const out = admission.admitOutbound();
    expect(isRefusal(out)).toBe(false);
  });

  it('counts only connections that have not proven membership against their address: fifty members behind one NAT all get in', () => {
    const admission = new Admission({ maxConnections: 100, maxConnectionsPerAddress: 4, maxUnauthenticatedConnections: 50 });
    const members: Slot[] = [];
    for (let i = 0; i < 50; i++) {
      const member = slot(admission.admitInbound('198.51.100.7'));
      member.authenticated();
      members.push(member);
    }
    // Strangers at that address still hold at most 4 handshakes.
    const strangers = [1, 2, 3, 4].map(() => slot(admission.admitInbound('198.51.100.7')));
    expect(admission.admitInbound('198.51.100.7')).toEqual({ status: 429, reason: 'address' });
    strangers[0]!.release();
    members[0]!.release(); // a member leaving frees no handshake place (it held none)
    members[0]!.release();
    slot(admission.admitInbound('198.51.100.7'));
    expect(admission.admitInbound('198.51.100.7')).toEqual({ status: 429, reason: 'address' });
    expect(admission.total).toBe(53);
  });

  it('releasing an unauthenticated slot frees its unauthenticated place too', () => {
    const admission = new Admission({ maxConnections: 10, maxConnectionsPerAddress: 10, maxUnauthenticatedConnections: 1 });
    slot(admission.admitInbound('a')).release();
    expect(admission.unauthenticated).toBe(0);
    slot(admission.admitInbound('a'));
  });

  it('refuses nonsense limits', () => {
    expect(() => new Admission({ maxConnections: 0, maxConnectionsPerAddress: 1, maxUnauthenticatedConnections: 1 })).toThrow(TypeError);
    expect(() => new Admission({ maxConnections: 1.5, maxConnectionsPerAddress: 1, maxUnauthenticatedConnections: 1 })).toThrow(TypeError);
  });

  it('normalizes IPv4-mapped addresses only', () => {
    expect(normalizeAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeAddress('::ffff:c000:201')).toBe('::ffff:c000:201');
    expect(normalizeAddress('2001:db8::1')).toBe('2001:db8::1');
  });
});

describe('InboundBudget', () => {
  function meters() {
    const budget = new InboundBudget({ maxInboundBytesPerConnection: 100, maxInboundBytesTotal: 150 });
    const events: string[] = [];
    const make = (name: string) => budget.meter({ pause: () => events.push(`${name} pause`), resume: () => events.push(`${name} resume`) });
    return { budget, events, a: make('a'), b: make('b') };
  }

  it('pauses one connection above its own limit and resumes it at or below', () => {
    const { budget, events, a } = meters();
    a.received(100);
    expect(events).toEqual([]);
    a.received(1);
    expect(events).toEqual(['a pause']);
    a.processed(1);
    expect(events).toEqual(['a pause', 'a resume']);
    expect(budget.unprocessedBytes).toBe(100);
  });

  it('pauses every connection above the total and resumes them all below it', () => {
    const { budget, events, a, b } = meters();
    a.received(80);
    b.received(80);
    expect(events).toEqual(['a pause', 'b pause']);
    expect(budget.pausedCount).toBe(2);
    a.processed(20);
    expect(events).toEqual(['a pause', 'b pause', 'a resume', 'b resume']);
  });

  it('releases a closed connection: its bytes stop counting and the others resume', () => {
    const { budget, events, a, b } = meters();
    a.received(100);
    b.received(60);
    a.release();
    expect(budget.unprocessedBytes).toBe(60);
    expect(events).toEqual(['a pause', 'b pause', 'b resume']);
    a.received(500);
    a.processed(10);
    expect(budget.unprocessedBytes).toBe(60);
  });

  it('counts processing beyond what was received as all of it, and refuses nonsense', () => {
    const { budget, a } = meters();
    a.received(10);
    a.processed(1000);
    expect(budget.unprocessedBytes).toBe(0);
    expect(() => a.processed(-1)).toThrow(TypeError);
    expect(() => a.processed(Infinity)).toThrow(TypeError);
  });
});
