/**
 * One seeded simulation run: a random connected topology of nodes, a random sequence
 * of record operations and network events, then the final phase (converge.ts) and a
 * snapshot of every node. Step i draws from its own stream forked from the seed, so a
 * run can be replayed with some steps skipped (shrink.ts) without shifting the others.
 */
import type { Limits } from '../../src/limits.js';
import { describePacket, SIM_EPOCH, SimCluster } from './cluster.js';
import { converge, snapshot, type ConvergeReport, type NodeSnapshot } from './converge.js';
import { Prng } from './prng.js';
import { RECORD_OPS, runRecordOp, type RecordOp } from './workload.js';

/**
 * 'tcp': every connection stays an ordered, lossless channel (packets are delivered
 * FIFO per connection; only partitions and crashes cut links), so any protocol error
 * is an engine bug. 'chaos': packets are also reordered, dropped and duplicated, and
 * sessions may legitimately close with ERR_PROTOCOL and reconnect.
 */
export type Profile = 'tcp' | 'chaos';

/** An extra participant with a step kind of its own (byzantine.test.ts: a lying member). */
export interface SimActor {
  /** Its node names: sessions with them may close for cause (not an engine problem). */
  readonly names: readonly string[];
  /** Weight of its step among the others. */
  readonly weight: number;
  /** Joins the cluster, before the first step. */
  start(cluster: SimCluster): void;
  /** One step; returns its trace label. */
  step(rng: Prng, cluster: SimCluster): Promise<string>;
  /** Leaves, before the final phase. */
  stop(): void;
  /** After convergence, with every node up: what is wrong (empty when nothing). */
  check(cluster: SimCluster): Promise<string[]>;
}

/** What to run. */
export interface SimConfig {
  seed: number;
  size?: number;
  /** Number of random steps (default: 60-150 drawn from the seed). */
  steps?: number;
  /** Step indexes to skip (shrinking). */
  skip?: ReadonlySet<number>;
  /** Log level whose lines are interleaved into the trace (diagnosis; default none). */
  logLevel?: string;
  actor?: SimActor;
}

/** What a run produced. */
export interface SimResult {
  seed: number;
  profile: Profile;
  topology: string;
  limits: Partial<Limits>;
  steps: number;
  trace: string[];
  /** An unexpected exception from a step or the final phase, if any. */
  error?: Error;
  report?: ConvergeReport;
  snapshots: NodeSnapshot[];
  problems: string[];
  warnings: Map<string, number>;
}

const NETWORK_STEPS = {
  deliver: 30, drop: 3, duplicate: 3, partition: 3, heal: 3, crash: 2, restart: 3, advance: 9,
} as const;
type NetworkStep = keyof typeof NETWORK_STEPS;
const STEP_WEIGHTS: Record<RecordOp | NetworkStep, number> = { ...RECORD_OPS, ...NETWORK_STEPS };

/** A random connected topology: a random line plus random extra links; each link dialed by one side or both. */
export function randomTopology(rng: Prng, size: number): number[][] {
  const order = rng.shuffle(Array.from({ length: size }, (_, i) => i));
  const links = new Set<string>();
  for (let k = 1; k < size; k++) links.add([order[k - 1]!, order[k]!].sort().join('-'));
  const density = rng.pick([0, 0.25, 0.6]);
  for (let a = 0; a < size; a++) for (let b = a + 1; b < size; b++) if (rng.chance(density)) links.add(`${a}-${b}`);
  const dials: number[][] = Array.from({ length: size }, () => []);
  for (const link of [...links].sort()) {
    const [a, b] = link.split('-').map(Number) as [number, number];
    const r = rng.next();
    if (r < 0.8) dials[a]!.push(b);
    if (r >= 0.4) dials[b]!.push(a);
  }
  return dials;
}

/** Limits drawn per seed: small caches, batches and log tails exercise eviction, compaction and paging. */
function randomLimits(rng: Prng): Partial<Limits> {
  return {
    batchChanges: rng.pick([2, 4, 1024]),
    docCacheSize: rng.pick([2, 1000]),
    maxDocChunks: rng.pick([3, 32]),
    logTailSize: rng.pick([4, 4096]),
  };
}

/** Runs one seed to the end; never throws (failures are in the result). */
export async function runSim(config: SimConfig): Promise<SimResult> {
  const root = new Prng(config.seed);
  const setup = root.fork(1);
  const size = config.size ?? 5;
  const profile: Profile = config.seed % 4 === 0 ? 'tcp' : 'chaos';
  const dials = randomTopology(setup, size);
  const limits = randomLimits(setup);
  const steps = config.steps ?? setup.int(60, 150);
  const trace: string[] = [];
  const cluster = new SimCluster({
    seed: config.seed, size, dials, limits, tolerate: profile === 'chaos' ? ['ERR_PROTOCOL'] : [], hostile: config.actor?.names ?? [],
    ...(config.logLevel ? {
      logLevel: config.logLevel,
      onLog: (node, { level: _level, time: _time, ...entry }) => trace.push(`    [${node}] ${JSON.stringify(entry)}`),
    } : {}),
  });
  const result: SimResult = {
    seed: config.seed, profile, limits, steps, trace, snapshots: [], problems: cluster.problems, warnings: cluster.warnings,
    topology: dials.map((to, i) => `n${i}->[${to.map((j) => `n${j}`).join(',')}]`).join(' '),
  };
  try {
    await cluster.startAll();
    config.actor?.start(cluster);
    for (let i = 0; i < steps; i++) {
      if (config.skip?.has(i)) continue;
      const at = trace.push(`#${i} t+${cluster.timers.now() - SIM_EPOCH}`) - 1;
      const line = await runStep(cluster, root.fork(1_000_000 + i), profile, config.actor);
      await cluster.settle();
      trace[at] += ` ${line}`;
    }
    config.actor?.stop();
    result.trace.push(`final phase t+${cluster.timers.now() - SIM_EPOCH}`);
    result.report = await converge(cluster);
    if (result.report.converged) {
      for (const i of cluster.up()) {
        result.snapshots.push(await snapshot(cluster, i));
        // Every stored view and record state must be what its document says: the
        // document-free paths (record-state.ts) may never drift from Automerge.
        const report = await cluster.node(i).verify();
        if (report.problems > 0) cluster.problems.push(`n${i}: verify found ${report.problems} problems: ${JSON.stringify(report.details.slice(0, 3))}`);
      }
      if (config.actor) result.problems.push(...await config.actor.check(cluster));
    }
    await cluster.closeAll();
  } catch (err) {
    result.error = err as Error;
    await cluster.closeAll().catch(() => undefined);
  }
  return result;
}

async function runStep(cluster: SimCluster, rng: Prng, profile: Profile, actor?: SimActor): Promise<string> {
  const kind = actor ? rng.weighted({ ...STEP_WEIGHTS, actor: actor.weight }) : rng.weighted(STEP_WEIGHTS);
  if (kind === 'actor') return actor!.step(rng, cluster);
  if (kind in RECORD_OPS) {
    const up = rng.shuffle(cluster.up());
    if (up.length === 0) return runStep(cluster, rng, profile, actor);
    const nodes = up.slice(0, 2).map((i) => ({ name: cluster.names[i]!, node: cluster.node(i) }));
    return runRecordOp(rng, kind as RecordOp, nodes);
  }
  return networkStep(cluster, rng, kind as NetworkStep, profile);
}

async function networkStep(cluster: SimCluster, rng: Prng, kind: NetworkStep, profile: Profile): Promise<string> {
  const { network } = cluster;
  const frames = network.inFlight.flatMap((p, i) => (p.kind === 'frame' ? [i] : []));
  if ((kind === 'drop' || kind === 'duplicate') && (profile === 'tcp' || frames.length === 0)) kind = 'deliver';
  switch (kind) {
    case 'deliver': {
      const labels: string[] = [];
      for (let n = rng.int(1, 4); n > 0 && network.pendingCount > 0; n--) {
        const index = pickPacket(cluster, rng, profile);
        labels.push(`${describePacket(network.inFlight[index]!)}[${index}]`);
        await cluster.deliver(index);
      }
      return labels.length > 0 ? `deliver ${labels.join(', ')}` : networkStep(cluster, rng, 'advance', profile);
    }
    case 'drop':
    case 'duplicate': {
      const index = rng.pick(frames);
      const label = describePacket(network.inFlight[index]!);
      if (kind === 'drop') network.drop(index);
      else network.duplicate(index);
      return `${kind} ${label}[${index}]`;
    }
    case 'partition': {
      const open = pairs(cluster.names.length).filter(([a, b]) => !cluster.partitions.has(`${a}-${b}`));
      if (open.length === 0) return 'partition: none left';
      const [a, b] = rng.pick(open);
      cluster.partition(a, b);
      return `partition n${a} n${b}`;
    }
    case 'heal': {
      const cut = cluster.partitioned();
      if (cut.length === 0) return 'heal: nothing partitioned';
      const [a, b] = rng.pick(cut);
      cluster.heal(a, b);
      return `heal n${a} n${b}`;
    }
    case 'crash': {
      const up = cluster.up();
      if (up.length <= 2) return networkStep(cluster, rng, 'restart', profile);
      const i = rng.pick(up);
      const crash = rng.chance(0.5);
      // Sometimes stop a node in the middle of handling a packet: close() must let the
      // ingest it started finish or fail cleanly, never half-apply it.
      const busy = network.inFlight.findIndex((p) => p.to === cluster.names[i]);
      const midway = busy >= 0 && rng.chance(0.4) ? ` while handling ${describePacket(network.inFlight[busy]!)}` : '';
      if (midway) network.deliver(busy);
      await cluster.stop(i, crash);
      return `${crash ? 'crash' : 'stop'} n${i}${midway}`;
    }
    case 'restart': {
      const down = cluster.down();
      if (down.length > 0) {
        const i = rng.pick(down);
        await cluster.start(i);
        return `start n${i}`;
      }
      const i = rng.pick(cluster.up());
      await cluster.stop(i, false);
      await cluster.start(i);
      return `restart n${i}`;
    }
    case 'advance': {
      const ms = rng.pick([10, 250, 1_001, rng.int(0, 2_500)]);
      await cluster.advance(ms);
      return `advance ${ms}ms`;
    }
  }
}

/** 'tcp': the oldest packet of a random connection; 'chaos': any packet. */
function pickPacket(cluster: SimCluster, rng: Prng, profile: Profile): number {
  const inFlight = cluster.network.inFlight;
  if (profile === 'chaos') return rng.int(0, inFlight.length - 1);
  const connections = [...new Set(inFlight.map((p) => p.connectionId))];
  const connection = rng.pick(connections);
  return inFlight.findIndex((p) => p.connectionId === connection);
}

function pairs(size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = 0; a < size; a++) for (let b = a + 1; b < size; b++) out.push([a, b]);
  return out;
}
