/** The catch-up gate on its own: slots, arrival order, cancellation. */
import { describe, expect, it } from 'vitest';
import { CatchUpGate } from '../../src/sync/catch-up-gate.js';

const settled = async <T>(p: Promise<T>) => {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe('catch-up gate', () => {
  it('grants up to max slots, then admits waiters in arrival order as slots are released', async () => {
    const gate = new CatchUpGate<string>(2);
    await gate.acquire('a');
    await gate.acquire('b');
    const c = gate.acquire('c');
    const d = gate.acquire('d');
    expect(await settled(c)).toBe(false);
    expect(gate.position('c')).toEqual({ state: 'waiting', ahead: 0 });
    expect(gate.position('d')).toEqual({ state: 'waiting', ahead: 1 });
    expect(gate.counts()).toEqual({ active: 2, waiting: 2 });
    gate.release('b');
    await c;
    expect(await settled(d)).toBe(false);
    expect(gate.position('c')).toEqual({ state: 'active' });
    expect(gate.position('d')).toEqual({ state: 'waiting', ahead: 0 });
    gate.release('a');
    await d;
    expect(gate.counts()).toEqual({ active: 2, waiting: 0 });
    expect(gate.granted).toBe(4);
    expect(gate.position('a')).toBeUndefined();
  });

  it('a newcomer does not overtake waiters even when a slot is free for a moment', async () => {
    const gate = new CatchUpGate<string>(1);
    await gate.acquire('a');
    const b = gate.acquire('b');
    gate.release('a'); // admits b at once
    await b;
    const c = gate.acquire('c');
    expect(await settled(c)).toBe(false);
    expect(gate.holds('b')).toBe(true);
  });

  it('cancel fails the waits of a closed session and frees its slot for the next', async () => {
    const gate = new CatchUpGate<string>(1);
    await gate.acquire('a');
    const b = gate.acquire('b');
    const c = gate.acquire('c');
    gate.cancel('b');
    await expect(b).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(gate.position('c')).toEqual({ state: 'waiting', ahead: 0 });
    gate.cancel('a');
    await c;
    expect(gate.holds('c')).toBe(true);
    gate.release('nobody'); // releasing a slot one does not hold changes nothing
    expect(gate.counts()).toEqual({ active: 1, waiting: 0 });
  });
});
