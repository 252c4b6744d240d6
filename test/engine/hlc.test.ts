/**
 * The hybrid logical clock (engine/hlc.ts): never backwards, never behind a time it
 * observed within the skew bound, never dragged beyond it, and never ahead of the wall
 * clock by its own doing (a burst of changes in one millisecond shares that millisecond).
 */
import { describe, expect, it } from 'vitest';
import { HybridClock } from '../../src/engine/hlc.js';

describe('HybridClock', () => {
  it('a burst of changes within one wall millisecond stays at that millisecond', () => {
    const clock = new HybridClock(() => 1_000.7, 60_000);
    const times = Array.from({ length: 10_000 }, () => clock.now());
    expect(new Set(times)).toEqual(new Set([1_000]));
  });

  it('never runs backwards when the wall clock does, and follows it forward', () => {
    let wall = 5_000;
    const clock = new HybridClock(() => wall, 60_000);
    expect(clock.now()).toBe(5_000);
    wall = 4_000;
    expect(clock.now()).toBe(5_000);
    wall = 6_000;
    expect(clock.now()).toBe(6_000);
  });

  it('takes in a peer\'s later time within the skew bound, and ignores one beyond it', () => {
    const clock = new HybridClock(() => 10_000, 1_000);
    clock.observe(10_900);
    expect(clock.now()).toBe(10_900);
    clock.observe(12_000);
    expect(clock.now()).toBe(10_900);
    clock.observe(Number.NaN);
    clock.observe(9_000);
    expect(clock.now()).toBe(10_900);
  });
});
