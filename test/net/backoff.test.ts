import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/net/backoff.js';
import { seededRandom } from './helpers.js';

describe('Backoff', () => {
  it('never exceeds maxMs, even after very many attempts', () => {
    const backoff = new Backoff({ baseMs: 100, maxMs: 30_000, random: () => 0.999999 });
    for (let i = 0; i < 5000; i++) {
      const delay = backoff.next();
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(30_000);
    }
    expect(backoff.next()).toBe(29_999);
  });

  it('stays within maxMs when random() returns exactly 1', () => {
    const backoff = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 1 });
    expect(Array.from({ length: 6 }, () => backoff.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('doubles its ceiling per attempt (full jitter scales the ceiling)', () => {
    const backoff = new Backoff({ baseMs: 100, maxMs: 30_000, random: () => 0.5 });
    expect(Array.from({ length: 10 }, () => backoff.next())).toEqual([50, 100, 200, 400, 800, 1600, 3200, 6400, 12_800, 15_000]);
    expect(backoff.attempt).toBe(10);
  });

  it('reset() starts over from baseMs', () => {
    const backoff = new Backoff({ baseMs: 100, maxMs: 30_000, random: () => 0.5 });
    for (let i = 0; i < 5; i++) backoff.next();
    backoff.reset();
    expect(backoff.attempt).toBe(0);
    expect(backoff.next()).toBe(50);
  });

  it('is deterministic for a seeded random source, and jittered', () => {
    const delays = (seed: number) => {
      const backoff = new Backoff({ baseMs: 100, maxMs: 30_000, random: seededRandom(seed) });
      return Array.from({ length: 20 }, () => backoff.next());
    };
    expect(delays(7)).toEqual(delays(7));
    expect(delays(7)).not.toEqual(delays(8));
    expect(new Set(delays(7).slice(8)).size).toBeGreaterThan(1);
  });

  it('rejects nonsense options and random sources with TypeError', () => {
    const random = () => 0.5;
    expect(() => new Backoff({ baseMs: 0, maxMs: 10, random })).toThrow(TypeError);
    expect(() => new Backoff({ baseMs: 100, maxMs: 10, random })).toThrow(TypeError);
    expect(() => new Backoff({ baseMs: 1, maxMs: Infinity, random })).toThrow(TypeError);
    expect(() => new Backoff({ baseMs: 1, maxMs: 10, random: () => Number.NaN }).next()).toThrow(TypeError);
    expect(() => new Backoff({ baseMs: 1, maxMs: 10, random: () => 1.5 }).next()).toThrow(TypeError);
  });
});
