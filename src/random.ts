/**
 * A seeded uniform random source (mulberry32) for reproducible runs: pass it as
 * `NodeOptions.random` in simulations, or use it to generate the same fake data in
 * every process of a benchmark or demo.
 */

/** Returns a function yielding uniform numbers in [0, 1), the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
