/**
 * The seeded simulation with subscriptions (issue 10.1): three regions on a random
 * connected topology and two laptops, each dialing one or two regions, with one or two
 * territories of their scope subscribed. Random creates, edits, territory moves (on
 * regions and by laptops within their scope), subscription changes, ordered deliveries,
 * partitions and restarts; then the network heals. At the end every region holds the
 * same records and every laptop holds exactly the regions' records of its subscription,
 * identical to the regions' views, and every clock is equal.
 *
 *   SUBS_SEEDS=200 npx vitest run test/sim/subscriptions.test.ts     more seeds (default 12)
 *   SUBS_FROM=1001 SUBS_SEEDS=1000 npx vitest run test/sim/…        seeds 1001 to 2000
 */
import { describe, expect, it } from 'vitest';
import type { CrmNode, RecordView } from '../../src/index.js';
import { listAll } from '../support/records.js';
import { SimCluster } from './cluster.js';
import { converge } from './converge.js';
import { Prng } from './prng.js';

const TERRITORIES = ['north', 'south', 'east'] as const;
const IDS = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'];
const REGIONS = [0, 1, 2];
/** Laptop i: its scope, and the subscriptions it may choose (one or two territories of it). */
const LAPTOPS: Record<number, readonly string[]> = { 3: ['north', 'south'], 4: ['south', 'east'] };
const TOLERATED = new Set(['ERR_NOT_FOUND', 'ERR_UNAUTHORIZED', 'ERR_EXISTS']);

const count = Number(process.env.SUBS_SEEDS ?? 12);
const first = Number(process.env.SUBS_FROM ?? 1);
/**
 * Seeds beyond the first 12 that found bugs since fixed: a stub of a change to a record
 * the laptop held (81, 162, 198); a laptop holding a record whose history it had only in
 * part, fixed by asking a region for its document (`want`: 48, 128, 150, 169, 215, 256).
 * Both repairs are needed: over seeds 1 to 1,000, without filling stubs (stub-bodies.ts)
 * 467 and 649 fail too; without `want`, 22 seeds fail (the six above among them). 261: a
 * laptop that had just narrowed its subscription got a record's creation and then its
 * move into the new subscription whole, in two frames from a region that still knew the
 * older one; it kept the first as a stub (outside) and could not apply the second, and
 * ended without the record: such a change is now asked for (`want`). 1366: a laptop asked
 * a region for a record, then received another region's concurrent creation of it, then
 * adopted the first region's answer (which lacked that creation) as complete: an answer
 * counts as complete only if the region still holds what the laptop holds.
 */
const REGRESSION_SEEDS = [48, 81, 128, 150, 162, 169, 198, 215, 256, 261, 467, 649, 1366];
/** Seeds that find an open bug, not run until fixed (replay with SUBS_SEED=N). None at present. */
export const KNOWN_FAILING: number[] = [];

function subsetOf(rng: Prng, scope: readonly string[]): string[] {
  const chosen = scope.filter(() => rng.chance(0.5));
  return chosen.length > 0 ? chosen : [rng.pick(scope)];
}

async function tolerate(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'ok';
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (TOLERATED.has(code)) return code;
    throw err;
  }
}

/**
 * With log truncation (issue 10.4): a short retention in virtual time, so logs are
 * truncated during the run while nodes are partitioned and restarted; a member cut off
 * longer than the retention is not waited for, and comes back through a region's record
 * documents and floors (engine/truncate.ts).
 */
const TRUNCATING = { lifecycleIntervalMs: 400, logRetentionMs: Number(process.env.TRUNC_RETENTION ?? 1_500), tombstoneRetentionMs: 1_500, signEveryEntries: 2 };

async function runSeed(seed: number, extraLimits: Record<string, number> = {}): Promise<{ problems: string[]; trace: string[] }> {
  const rng = new Prng(seed);
  const subscriptions: Record<number, string[]> = { 3: subsetOf(rng, LAPTOPS[3]!), 4: subsetOf(rng, LAPTOPS[4]!) };
  // Regions: a line plus maybe a chord; laptops dial one or two regions.
  const dials: number[][] = [[], [0], [1], [], []];
  if (rng.chance(0.5)) dials[2]!.push(0);
  for (const laptop of [3, 4]) dials[laptop] = rng.chance(0.3) ? [0, 2] : [rng.pick(REGIONS)];
  const members = [0, 1, 2, 3, 4].map((i) => (i in LAPTOPS
    ? { grant: { role: 'laptop' as const, scope: { territories: [...LAPTOPS[i]!] } }, subscription: { territories: subscriptions[i]! } }
    : undefined));
  const cluster = new SimCluster({ seed, size: 5, dials, limits: { batchChanges: rng.pick([2, 1024]), ...extraLimits }, members });
  const trace: string[] = [];
  await cluster.startAll();
  for (let step = 0; step < rng.int(40, 90); step++) {
    const kind = rng.weighted({ create: 4, edit: 5, move: 4, laptopEdit: 3, subscribe: 2, deliver: 14, advance: 4, partition: 1, heal: 2, restart: 1 });
    const up = cluster.up();
    const node = (i: number): CrmNode => cluster.node(i);
    let line: string = kind;
    if (kind === 'create' || kind === 'edit' || kind === 'move') {
      const i = rng.pick(up.filter((n) => n < 3));
      const id = rng.pick(IDS);
      const territory = rng.pick(TERRITORIES);
      if (kind === 'create') line += ` n${i} ${id} ${territory}: ${await tolerate(node(i).records.create({ id, name: `Customer ${id}`, territory }))}`;
      else if (kind === 'edit') line += ` n${i} ${id}: ${await tolerate(node(i).records.update(id, { company: `Co ${rng.int(1, 9)}` }))}`;
      else line += ` n${i} ${id} -> ${territory}: ${await tolerate(node(i).records.update(id, { territory }))}`;
    } else if (kind === 'laptopEdit' || kind === 'subscribe') {
      const laptops = up.filter((n) => n >= 3);
      if (laptops.length === 0) continue;
      const i = rng.pick(laptops);
      const held = await listAll(node(i));
      if (kind === 'subscribe') {
        subscriptions[i] = subsetOf(rng, LAPTOPS[i]!);
        members[i]!.subscription = { territories: subscriptions[i]! };
        line += ` n${i} ${subscriptions[i]!.join(',')}: ${await tolerate(node(i).subscribe({ territories: subscriptions[i]! }))}`;
      } else if (held.length > 0) {
        const record = rng.pick(held);
        // Within its scope: an edit, or a move to another territory of its scope (or out of it).
        const patch = rng.chance(0.5) ? { title: `T${rng.int(1, 9)}` } : { territory: rng.pick(TERRITORIES) };
        line += ` n${i} ${record.id} ${JSON.stringify(patch)}: ${await tolerate(node(i).records.update(record.id, patch))}`;
      }
    } else if (kind === 'deliver') {
      const inFlight = cluster.network.inFlight;
      if (inFlight.length === 0) continue;
      const connection = rng.pick([...new Set(inFlight.map((p) => p.connectionId))]);
      await cluster.deliver(inFlight.findIndex((p) => p.connectionId === connection));
    } else if (kind === 'advance') {
      await cluster.advance(rng.pick([10, 250, 1_001]));
    } else if (kind === 'partition') {
      const [a, b] = rng.pick([[0, 1], [1, 2], [0, 3], [1, 3], [2, 4], [0, 4]] as [number, number][]);
      cluster.partition(a, b);
      line += ` n${a} n${b}`;
    } else if (kind === 'heal') {
      const cut = cluster.partitioned();
      if (cut.length === 0) continue;
      const [a, b] = rng.pick(cut);
      cluster.heal(a, b);
    } else {
      const i = rng.pick(up);
      await cluster.stop(i, rng.chance(0.5));
      await cluster.start(i);
      line += ` n${i}`;
    }
    await cluster.settle();
    trace.push(`#${step} ${line}`);
  }
  const report = await converge(cluster);
  const problems = [...cluster.problems];
  if (!report.converged) problems.push(`did not converge: ${report.reason ?? ''}`);
  if (!report.converged || process.env.SIM_DUMP) {
    for (const i of cluster.up()) {
      const floors = cluster.node(i).exportFloors();
      const status = await cluster.node(i).status();
      if (process.env.SIM_RECORD) problems.push(`n${i} ${process.env.SIM_RECORD}: ${JSON.stringify(await cluster.node(i).records.get(process.env.SIM_RECORD))} history ${JSON.stringify(await cluster.node(i).records.history(process.env.SIM_RECORD))} partial ${String(await cluster.node(i).getState(`partial/${process.env.SIM_RECORD}`))}`);
      problems.push(`n${i}: log from ${floors.logStart}, floors ${JSON.stringify(floors.floors.map((f) => [f.origin, f.seq]))}, clock ${JSON.stringify(status.clock)}, peers ${JSON.stringify(status.peers.map((p) => [p.node, p.state]))}, records ${JSON.stringify((await listAll(cluster.node(i))).map((r) => r.id))}`);
    }
  }
  if (report.converged) {
    const regions = await Promise.all(REGIONS.map((i) => listAll(cluster.node(i))));
    for (const i of [1, 2]) if (JSON.stringify(regions[i]) !== JSON.stringify(regions[0])) problems.push(`region n${i} differs from n0`);
    for (const i of [3, 4]) {
      const expected = regions[0]!.filter((r: RecordView) => r.territory !== undefined && subscriptions[i]!.includes(r.territory));
      const held = await listAll(cluster.node(i));
      if (JSON.stringify(held) !== JSON.stringify(expected)) {
        problems.push(`laptop n${i} (${subscriptions[i]!.join(',')}) holds ${JSON.stringify(held.map((r) => [r.id, r.territory, r.company, r.title]))}, regions ${JSON.stringify(expected.map((r) => [r.id, r.territory, r.company, r.title]))}`);
      }
      const report = await cluster.node(i).verify();
      if (report.problems > 0) problems.push(`laptop n${i}: verify found ${report.problems} problems: ${JSON.stringify(report.details.slice(0, 2))}`);
    }
  }
  await cluster.closeAll();
  return { problems, trace };
}

describe('seeded simulation with subscriptions (3 regions, 2 laptops)', () => {
  const only = process.env.SUBS_SEED === undefined ? undefined : Number(process.env.SUBS_SEED);
  const seeds = only !== undefined ? [only] : [...Array.from({ length: count }, (_, i) => first + i), ...REGRESSION_SEEDS.filter((seed) => seed < first || seed >= first + count)].filter((seed) => only !== undefined || !KNOWN_FAILING.includes(seed));
  for (const seed of seeds) {
    it(`seed ${seed}`, async () => {
      const { problems, trace } = await runSeed(seed);
      expect(problems, trace.slice(process.env.SIM_DUMP ? 0 : -30).join('\n')).toEqual([]);
    });
  }
});

describe('seeded simulation with subscriptions and log truncation', () => {
  const truncating = Number(process.env.TRUNC_SEEDS ?? 8);
  const only = process.env.TRUNC_SEED === undefined ? undefined : Number(process.env.TRUNC_SEED);
  const seeds = only !== undefined ? [only] : Array.from({ length: truncating }, (_, i) => first + i);
  for (const seed of seeds) {
    it(`seed ${seed}`, async () => {
      const { problems, trace } = await runSeed(seed, TRUNCATING);
      expect(problems, trace.slice(process.env.SIM_DUMP ? 0 : -30).join('\n')).toEqual([]);
    });
  }
});
