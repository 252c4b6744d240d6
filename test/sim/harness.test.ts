/**
 * The simulation harness itself: virtual time, the PRNG, memory-level keeping data
 * across close/open (what node restarts rely on), and exact replay of a seed.
 */
import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import { Prng } from './prng.js';
import { runSim } from './sim.js';
import { VirtualTimers } from './virtual-timers.js';

describe('VirtualTimers', () => {
  it('runs due callbacks in due order, ties in scheduling order, only when advanced', () => {
    const timers = new VirtualTimers(1000);
    const ran: string[] = [];
    timers.after(20, () => ran.push('b@20'));
    timers.after(10, () => {
      ran.push(`a@${timers.now()}`);
      timers.after(5, () => ran.push(`c@${timers.now()}`)); // due within the same advance
    });
    timers.after(20, () => ran.push('d@20'));
    const cancelled = timers.after(1, () => ran.push('never'));
    cancelled.cancel();
    expect(ran).toEqual([]);
    timers.advance(15);
    expect(ran).toEqual(['a@1010', 'c@1015']);
    expect(timers.now()).toBe(1015);
    timers.advance(100);
    expect(ran).toEqual(['a@1010', 'c@1015', 'b@20', 'd@20']);
    expect(timers.now()).toBe(1115);
    expect(timers.pending).toBe(0);
  });

  it('steps one timer at a time with runNext', () => {
    const timers = new VirtualTimers();
    let fired = 0;
    timers.after(50, () => fired++);
    expect(timers.nextDue()).toBe(50);
    expect(timers.runNext(49)).toBe(false);
    expect(timers.runNext(50)).toBe(true);
    expect([fired, timers.now(), timers.nextDue()]).toEqual([1, 50, undefined]);
  });
});

describe('Prng', () => {
  it('is a pure function of its seed, and forks are independent streams', () => {
    const draw = (seed: number) => {
      const rng = new Prng(seed).fork(7);
      return Array.from({ length: 5 }, () => rng.int(0, 1e6));
    };
    expect(draw(1)).toEqual(draw(1));
    const a = new Prng(42);
    const b = new Prng(42);
    a.fork(1).next(); // using a fork never shifts the parent
    expect(a.next()).toBe(b.next());
    expect(new Prng(1).fork(1).next()).not.toBe(new Prng(1).fork(2).next());
  });

  it('stays in range', () => {
    const rng = new Prng(3);
    for (let i = 0; i < 1000; i++) {
      const x = rng.int(-2, 2);
      expect(x >= -2 && x <= 2 && Number.isInteger(x)).toBe(true);
    }
  });
});

describe('memory-level across close/open', () => {
  it('keeps its data, so a node can be restarted on the same instance', async () => {
    const db = new MemoryLevel<string, Uint8Array>({ keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.put('k', new Uint8Array([1, 2]));
    await db.close();
    await db.open();
    expect([...((await db.get('k')) ?? [])]).toEqual([1, 2]);
    await db.close();
  });
});

describe('replay', () => {
  it('a seed replays exactly: same steps, same final state', async () => {
    const [a, b] = [await runSim({ seed: 7, steps: 40 }), await runSim({ seed: 7, steps: 40 })];
    expect(a.error).toBeUndefined();
    expect(b.trace).toEqual(a.trace);
    expect(b.snapshots).toStrictEqual(a.snapshots);
    expect(a.snapshots.length).toBe(5);
  });
});
