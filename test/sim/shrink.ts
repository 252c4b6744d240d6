/**
 * Judging a run, and minimising a failing one: the shortest failing prefix of steps,
 * then greedily every step whose removal keeps the run failing. Each step draws from
 * its own forked stream, so removing one does not change what the others choose
 * (though it may change what they act on, e.g. which packet index 3 is).
 */
import { isDeepStrictEqual } from 'node:util';
import { runSim, type SimResult } from './sim.js';

/** Where two values first differ (strictly: undefined properties and types count), or undefined. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const key of keys) {
      const inA = key in a;
      const inB = key in b;
      if (inA !== inB) return `${path}.${key} is ${inA ? 'only in the first' : 'only in the second'}`;
      const found = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${path}.${key}`);
      if (found) return found;
    }
  }
  return `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}

/** The first reason a run failed, or undefined if it passed. */
export function failureOf(result: SimResult): string | undefined {
  if (result.error) return `threw: ${result.error.stack ?? result.error.message}`;
  if (result.problems.length > 0) return `engine problems: ${result.problems.slice(0, 5).join('; ')}`;
  if (!result.report?.converged) return `did not converge: ${result.report?.reason ?? 'no report'}`;
  const [first, ...rest] = result.snapshots;
  for (const [k, snap] of rest.entries()) {
    const diff = firstDifference(snap, first);
    if (diff) return `n${k + 1} differs from n0 at ${diff}`;
  }
  return undefined;
}

/** How to rerun a seed, for failure messages. */
export function rerunHint(seed: number): string {
  return `rerun: SIM_SEED=${seed} npx vitest run test/sim/convergence.test.ts ` +
    `(SIM_TRACE=1 prints the steps, SIM_SHRINK=1 minimises them)`;
}

/** Finds a small set of steps of `seed` that still fails; returns the minimal run. */
export async function shrink(seed: number, log: (line: string) => void = () => undefined): Promise<SimResult> {
  const full = await runSim({ seed });
  if (!failureOf(full)) throw new Error(`seed ${seed} passes; nothing to shrink`);
  let lo = 0;
  let hi = full.steps; // invariant: a run of `hi` steps fails
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (failureOf(await runSim({ seed, steps: mid }))) hi = mid;
    else lo = mid + 1;
  }
  log(`seed ${seed}: fails within the first ${hi} of ${full.steps} steps`);
  const skip = new Set<number>();
  for (let i = hi - 1; i >= 0; i--) {
    skip.add(i);
    if (!failureOf(await runSim({ seed, steps: hi, skip }))) skip.delete(i);
  }
  const minimal = await runSim({ seed, steps: hi, skip });
  const keep = Array.from({ length: hi }, (_, i) => i).filter((i) => !skip.has(i));
  log(`seed ${seed}: ${keep.length} steps still fail: ${failureOf(minimal)}`);
  log(`replay them: SIM_SEED=${seed} SIM_STEPS=${hi} SIM_KEEP=${keep.join(',')} SIM_TRACE=1 SIM_LOG=info npx vitest run test/sim/convergence.test.ts`);
  return minimal;
}
