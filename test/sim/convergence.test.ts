/**
 * The seeded convergence simulation (STYLE.md habit 12, after the yjs test helper):
 * for each seed, 5 nodes on a random topology take a random mix of record writes and
 * network faults, then the network heals and every node must hold exactly the same
 * clock, records (deleted ones included), conflicts and history.
 *
 *   SIM_SEEDS=1000 npx vitest run test/sim                  more seeds (default 200)
 *   SIM_SEED=42 SIM_TRACE=1 npx vitest run test/sim/convergence.test.ts   one seed, every step
 *   SIM_SEED=42 SIM_LOG=debug SIM_TRACE=1 ...      node log lines interleaved with the steps
 *   SIM_SEED=42 SIM_SHRINK=1 ...                   minimise a failing seed; prints how to
 *                                                  replay the minimal run (SIM_STEPS, SIM_KEEP)
 */
import { afterAll, describe, expect, it } from 'vitest';
import { failureOf, rerunHint, shrink } from './shrink.js';
import { runSim, type SimConfig, type SimResult } from './sim.js';

const only = process.env.SIM_SEED;
const count = Number(process.env.SIM_SEEDS ?? 200);
const seeds = only !== undefined ? [Number(only)] : Array.from({ length: count }, (_, i) => i + 1);
const totals = { runs: 0, steps: 0, virtualMs: 0, deliveries: 0, warnings: new Map<string, number>() };

/** The run for `seed`, narrowed by SIM_STEPS / SIM_KEEP (a shrunk run) and SIM_LOG. */
function configFor(seed: number): SimConfig {
  const config: SimConfig = { seed };
  const env = process.env;
  if (env.SIM_STEPS) config.steps = Number(env.SIM_STEPS);
  if (env.SIM_KEEP && config.steps !== undefined) {
    const keep = new Set(env.SIM_KEEP.split(',').map(Number));
    config.skip = new Set(Array.from({ length: config.steps }, (_, i) => i).filter((i) => !keep.has(i)));
  }
  if (env.SIM_LOG) config.logLevel = env.SIM_LOG;
  return config;
}

function context(result: SimResult): string {
  const trace = process.env.SIM_TRACE ? result.trace : result.trace.slice(-25);
  return [
    `seed ${result.seed} (${result.profile}, ${result.steps} steps, ${result.topology}, limits ${JSON.stringify(result.limits)})`,
    rerunHint(result.seed),
    `${process.env.SIM_TRACE ? 'steps' : 'last steps'}:`,
    ...trace,
  ].join('\n');
}

describe('seeded convergence simulation (5 nodes, manual network, virtual time)', () => {
  afterAll(() => {
    if (totals.runs === 0) return;
    const warnings = [...totals.warnings].map(([k, v]) => `${k}: ${v}`).join(', ');
    console.log(`sim: ${totals.runs} seeds, ${totals.steps} steps, final phases ${totals.deliveries} deliveries / ${totals.virtualMs} virtual ms; warnings: ${warnings}`);
  });

  for (const seed of seeds) {
    it(`seed ${seed}`, async () => {
      const result = await runSim(configFor(seed));
      if (process.env.SIM_TRACE) console.log(context(result));
      if (process.env.SIM_SHRINK && failureOf(result)) {
        const minimal = await shrink(seed, (line) => console.log(line));
        console.log(`minimal steps of seed ${seed}:\n${minimal.trace.join('\n')}`);
      }
      totals.runs++;
      totals.steps += result.steps;
      totals.virtualMs += result.report?.elapsedMs ?? 0;
      totals.deliveries += result.report?.deliveries ?? 0;
      for (const [k, v] of result.warnings) totals.warnings.set(k, (totals.warnings.get(k) ?? 0) + v);

      const ctx = context(result);
      expect(result.error?.stack, ctx).toBeUndefined();
      expect(result.problems, ctx).toEqual([]);
      expect(result.report?.converged, `${ctx}\n${result.report?.reason ?? ''}`).toBe(true);
      expect(result.snapshots, ctx).toHaveLength(5);
      // Equality with n0 for every node implies equality for every pair.
      const [first, ...rest] = result.snapshots;
      for (const [k, snap] of rest.entries()) {
        const who = `${ctx}\nn${k + 1} vs n0:`;
        expect(snap.clock, `${who} clock`).toStrictEqual(first!.clock);
        expect(snap.records, `${who} records (including deleted)`).toStrictEqual(first!.records);
        expect(snap.conflicts, `${who} conflicts`).toStrictEqual(first!.conflicts);
        expect(snap.historyLength, `${who} history length`).toStrictEqual(first!.historyLength);
        expect(snap.history, `${who} history entries`).toStrictEqual(first!.history);
        expect(snap.counts, `${who} record counts`).toStrictEqual(first!.counts);
        expect(snap.conflicted, `${who} conflicted count`).toStrictEqual(first!.conflicted);
      }
      expect(failureOf(result), ctx).toBeUndefined();
    });
  }
});
