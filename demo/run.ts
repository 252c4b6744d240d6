/**
 * `npm run demo`: three crmsync nodes in separate processes (berlin ⇄ london ⇄ laptop-anna)
 * tell the story of offline edits, conflicts, a partition and convergence.
 * Exit 0 when all nodes converge to identical records; exit 1 otherwise.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, agentLogs, ConvergenceError, readCluster, stopAll, waitFor, inSync, type NodeState } from './cluster.js';
import { fakeCustomers } from './fake-data.js';
import { clockText, heading, ms, say, table } from './print.js';
import { CONVERGE_TIMEOUT_MS, problems, tellStory } from './story.js';

const CUSTOMERS = 200;
const SEED = 2024;
const started = Date.now();
let root: string | undefined;

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await stopAll();
    if (root) await rm(root, { recursive: true, force: true, maxRetries: 3 });
  })();
  return cleaning;
}

// Ctrl-C may arrive twice (the terminal signals the whole process group and tsx relays
// it once more), so keep handling it: a second default SIGINT would skip the cleanup.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (!cleaning) console.log(`\n${signal}: stopping all nodes and removing ${root ?? 'temp data'} …`);
    void cleanup().finally(() => process.exit(130));
  });
}

function finalTable(states: NodeState[]): void {
  table(['node', 'clock', 'live', 'deleted', 'conflicted', 'digest (sha256)'], states.map((s) => [
    s.agent.name, clockText(s.status.clock), String(s.snapshot.live), String(s.snapshot.deleted),
    String(s.status.conflicted), s.snapshot.digest.slice(0, 16),
  ]));
}

async function main(): Promise<number> {
  console.log('crmsync demo — three nodes, one customer base, no central server');
  root = await mkdtemp(join(tmpdir(), 'crmsync-demo-'));

  heading('Starting three nodes as separate processes');
  const london = await Agent.start({ nodeId: 'london', dataDir: join(root, 'london'), port: 0, peers: [] });
  const [berlin, laptop] = await Promise.all([
    Agent.start({ nodeId: 'berlin', dataDir: join(root, 'berlin'), port: 0, peers: [london.url] }),
    Agent.start({ nodeId: 'laptop-anna', dataDir: join(root, 'laptop-anna'), port: 0, peers: [london.url] }),
  ]);
  const all = [berlin, london, laptop];
  table(['node', 'pid', 'listens on', 'dials'], [
    ['berlin', String(berlin.pid), berlin.url, 'london'],
    ['london', String(london.pid), london.url, '—'],
    ['laptop-anna', String(laptop.pid), laptop.url, 'london (only)'],
  ]);
  say(`Topology: berlin ⇄ london ⇄ laptop-anna   (data under ${root})`);

  heading(`Seeding ${CUSTOMERS} customers on berlin`);
  const customers = fakeCustomers(CUSTOMERS, SEED);
  const seedStart = Date.now();
  await berlin.callWithin(60_000, 'seed', customers);
  say(`Created ${CUSTOMERS} customers on berlin in ${ms(Date.now() - seedStart)}, for example:`);
  table(['id', 'name', 'company', 'city', 'stage'], customers.slice(0, 4).map((c) => [
    c.id!, c.name, c.company ?? '', c.address?.city ?? '', c.stage ?? '',
  ]));
  const seeded = await waitFor('all nodes to receive the seed data', CONVERGE_TIMEOUT_MS, async () => {
    const states = await readCluster(all);
    return inSync(states, false) && states.every((s) => s.status.records.live === CUSTOMERS) && states;
  });
  say(`All three nodes hold ${CUSTOMERS} customers ${ms(Date.now() - seedStart)} after seeding began`,
    `(clocks equal: ${clockText(seeded[0]!.status.clock)}; laptop-anna got them via london).`);

  const final = await tellStory({ berlin, london, laptop }, customers[0]!, customers[1]!);

  heading('Final state of every node');
  finalTable(final);
  if (problems.length > 0) {
    console.log('\nThe nodes converged, but the merge is not what the story expects:');
    for (const p of problems) console.log(`  ✗ ${p}`);
    return 1;
  }
  const digest = final[0]!.snapshot.digest;
  console.log(`\nDemo finished in ${ms(Date.now() - started)}.`);
  console.log(`CONVERGED: all ${final.length} nodes hold identical records (digest ${digest.slice(0, 16)})`);
  return 0;
}

let code: number;
try {
  code = await main();
} catch (err) {
  code = 1;
  if (cleaning) {
    // Interrupted: the signal handler is stopping the nodes; their errors are expected.
    await cleaning;
    process.exit(130);
  } else if (err instanceof ConvergenceError) {
    console.log(`\nNOT CONVERGED: ${err.message}. Last observed state:`);
    finalTable(err.states);
  } else {
    console.log(`\nDEMO FAILED: ${err instanceof Error ? err.message : String(err)}`);
  }
}
if (code !== 0) {
  // Show what the nodes logged (warnings, crashes) to help diagnose the failure.
  const logs = agentLogs();
  if (logs) console.error(logs);
}
await cleanup();
process.exit(code);
