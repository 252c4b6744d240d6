/**
 * `npm run demo`: five crmsync nodes in separate processes — three regional offices in
 * a mesh (berlin, london, newyork) and two laptops that each dial one office — share
 * one seeded customer base. By default it serves a web dashboard to watch and poke the
 * cluster until Ctrl-C; with `--story` it plays a scripted story unattended and exits
 * 0 when every node converged to identical records (1 otherwise).
 *
 * Options: USAGE below (`npm run demo -- --help`); a bad option exits 2.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Cluster, ConvergenceError, waitFor, type ClusterState } from './cluster.js';
import { fakeCustomers } from './fake-data.js';
import { Feed } from './feed.js';
import { clockText, heading, ms, say, table } from './print.js';
import { startEnrolled } from './enrol.js';
import { defaultLauncher, NodeProcess, nodeLogs, stopAll, type Launcher } from './processes.js';
import { startDashboard, type Dashboard } from './server.js';
import { CONVERGE_TIMEOUT_MS, tellStory } from './story.js';
import { NODES } from './topology.js';

const USAGE = `usage: npm run demo -- [options]

Starts five crmsync nodes (three regions, two laptops) as separate processes, seeds
them, and serves a live dashboard until Ctrl-C (or plays a scripted story with --story).

Options:
  --story             play the scripted story unattended; exit 0 once every node converged
  --port N            dashboard port (default 4700; 0 = any free port)
  --host H            dashboard address (default 127.0.0.1; anything else prints a warning)
  --customers N       customers to seed, 2 to 10000 (default 200)
  --launcher cli|agent  start nodes with the crmsync CLI (default) or demo/node-agent.ts
  -h, --help          show this help and exit`;

function usage(problem: string): never {
  console.error(`npm run demo: ${problem.replace(/\.?$/, '.')}\nRun \`npm run demo -- --help\` for the options.`);
  process.exit(2);
}

const parsed = (() => {
  try {
    return parseArgs({
      options: {
        story: { type: 'boolean', default: false },
        port: { type: 'string', default: '4700' },
        host: { type: 'string', default: '127.0.0.1' },
        customers: { type: 'string', default: '200' },
        launcher: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    // parseArgs says e.g. "Unknown option '--prot'. To specify a positional argument starting with a '-', …"
    return usage((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
})();
const args = parsed.values;
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const CUSTOMERS = Number(args.customers);
if (!Number.isInteger(CUSTOMERS) || CUSTOMERS < 2 || CUSTOMERS > 10_000) usage(`--customers must be a whole number from 2 to 10000, not ${args.customers}`);
if (!/^\d{1,5}$/.test(args.port) || Number(args.port) > 65_535) usage(`--port must be a port number (0 = any free port), not ${args.port}`);
if (args.launcher !== undefined && args.launcher !== 'cli' && args.launcher !== 'agent') usage(`--launcher must be cli or agent, not ${args.launcher}`);
const SEED = 2024;
const started = Date.now();
let root: string | undefined;
let dashboard: Dashboard | undefined;
let feed: Feed | undefined;

// `npm run demo | head`: once the reader is gone, every write fails with EPIPE, which
// would otherwise be thrown from an 'error' event and kill the demo before its cleanup.
// Output is best effort: the demo carries on silently and still cleans up on Ctrl-C.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

/** Prints a line if anyone still reads stdout; never throws. */
function tell(line: string): void {
  try {
    console.log(line);
  } catch {
    // stdout is gone; nothing to tell.
  }
}

let cleaning: Promise<void> | undefined;
/** Stops everything the demo started and removes its data; each step runs even if another failed. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await dashboard?.close().catch(() => undefined);
    await feed?.stop().catch(() => undefined);
    await stopAll().catch(() => undefined);
    if (root) await rm(root, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
  })();
  return cleaning;
}

// Ctrl-C may arrive twice (the terminal signals the whole process group and npm relays
// it once more), so keep handling it: a second default SIGINT would skip the cleanup.
// The cleanup starts before anything is printed, so a closed stdout cannot stop it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    const first = !cleaning;
    const done = cleanup();
    if (first) tell(`\n${signal}: stopping all nodes and removing ${root ?? 'temp data'} …`);
    void done.finally(() => {
      if (dashboard) tell('All nodes stopped; bye.');
      process.exit(dashboard ? 0 : 130);
    });
  });
}

// A crash must not leave node processes or the data directory (it holds the API tokens) behind.
process.on('uncaughtException', (err) => {
  try {
    console.error('demo crashed:', err);
  } catch {
    // stderr is gone too.
  }
  void cleanup().finally(() => process.exit(1));
});

async function finalTable(state: ClusterState | undefined, cluster: Cluster): Promise<string[]> {
  const snaps = await Promise.all(cluster.all().map((m) => m.process.client.snapshot().catch(() => undefined)));
  table(['node', 'clock', 'live', 'deleted', 'conflicted', 'digest (sha256)'], cluster.all().map((m, i) => {
    const status = state?.reports[i]?.status;
    return [m.spec.name, status ? clockText(status.clock) : '?', String(snaps[i]?.live ?? '?'), String(snaps[i]?.deleted ?? '?'),
      String(status?.conflicted ?? '?'), snaps[i]?.digest.slice(0, 16) ?? '?'];
  }));
  return snaps.map((s) => s?.digest ?? '');
}

async function startCluster(launcher: Launcher): Promise<Cluster> {
  root = await mkdtemp(join(tmpdir(), 'crmsync-demo-'));
  heading(`Starting ${NODES.length} nodes as separate processes (${launcher === 'cli' ? 'crmsync init + crmsync start' : 'demo/node-agent'})`);
  const peerToken = randomBytes(18).toString('base64url');
  const processes = await startEnrolled(NODES, (spec, invitation) => NodeProcess.start({
    name: spec.name, dataDir: join(root!, spec.name), peerToken, launcher, ...(invitation === undefined ? {} : { invitation }),
  }));
  say(`${NODES[0]!.name} founded the cluster; ${NODES.slice(1).map((n) => n.name).join(', ')} joined with invitation codes it issued`,
    '(crmsync trust invite, then crmsync init --join CODE: each proves its own key in every handshake).');
  const cluster = new Cluster(NODES.map((spec, i) => ({ spec, process: processes[i]! })));
  await cluster.connectAll();
  table(['node', 'pid', 'HTTP API', 'peers connect to', 'dials'], cluster.all().map(({ spec, process: p }) => [
    spec.name, String(p.pid), p.apiUrl, p.peerUrl, spec.dials.join(', '),
  ]));
  say(`Regions in a mesh, each laptop dials one region only   (data under ${root})`);
  return cluster;
}

async function seed(cluster: Cluster) {
  const berlin = cluster.get('berlin').process.client;
  heading(`Seeding ${CUSTOMERS} customers on berlin (POST /v1/customers)`);
  const customers = fakeCustomers(CUSTOMERS, SEED);
  const seedStart = Date.now();
  await berlin.seed(customers);
  say(`Created ${CUSTOMERS} customers on berlin in ${ms(Date.now() - seedStart)}, for example:`);
  table(['id', 'name', 'company', 'city', 'stage'], customers.slice(0, 4).map((c) => [
    c.id!, c.name, c.company ?? '', c.address?.city ?? '', c.stage ?? '',
  ]));
  const seeded = await waitFor('every node to receive the seed data', CONVERGE_TIMEOUT_MS, async () => {
    const state = await cluster.read();
    return state.assessment.converged && state.reports.every((r) => r.status?.records.live === CUSTOMERS) && state;
  });
  say(`All ${NODES.length} nodes hold ${CUSTOMERS} customers ${ms(Date.now() - seedStart)} after seeding began`,
    `(clocks equal: ${clockText(seeded.reports[0]!.status!.clock)}; the laptops got them through their region).`);
  return customers;
}

async function playStory(cluster: Cluster, customers: ReturnType<typeof fakeCustomers>): Promise<number> {
  const { final, problems } = await tellStory(cluster, customers[0]!, customers[1]!);
  heading('Final state of every node');
  const digests = await finalTable(final, cluster);
  if (problems.length > 0 || new Set(digests).size !== 1) {
    console.log('\nThe nodes converged, but the merge is not what the story expects:');
    for (const p of problems) console.log(`  ✗ ${p}`);
    return 1;
  }
  console.log(`\nDemo finished in ${ms(Date.now() - started)}.`);
  console.log(`CONVERGED: all ${digests.length} nodes hold identical records (digest ${digests[0]!.slice(0, 16)})`);
  return 0;
}

async function serve(cluster: Cluster): Promise<void> {
  feed = new Feed(cluster.all());
  await feed.start();
  const port = Number(args.port);
  dashboard = await startDashboard(cluster, feed, { host: args.host, port }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE' || port === 0) throw err;
    say(`Port ${port} is in use; taking a free one.`);
    return startDashboard(cluster, feed!, { host: args.host, port: 0 });
  });
  heading('Dashboard');
  say('Watch the cluster, take a laptop offline, cut a region link, edit the same customer on two nodes.', '');
  if (dashboard.warning) console.error(`\n${dashboard.warning}\n`);
  // The token rides in the URL fragment: browsers never send it to a server or in a Referer.
  console.log(`Dashboard: ${dashboard.url}`);
  say('', 'Press Ctrl-C to stop every node and remove the temp data.');
}

let cluster: Cluster | undefined;
let code: number | undefined;
try {
  console.log(`crmsync demo — ${NODES.length} nodes, one customer base, no central server`);
  cluster = await startCluster((args.launcher as Launcher | undefined) ?? defaultLauncher());
  const customers = await seed(cluster);
  if (args.story) code = await playStory(cluster, customers);
  else await serve(cluster);
} catch (err) {
  code = 1;
  if (cleaning) {
    // Interrupted: the signal handler is stopping the nodes; their errors are expected.
    await cleaning;
    process.exit(130);
  } else if (err instanceof ConvergenceError && cluster) {
    console.log(`\nNOT CONVERGED: ${err.message}: ${err.state?.assessment.reasons.join('; ') ?? 'no state read'}. Last observed state:`);
    await finalTable(err.state, cluster);
  } else {
    console.log(`\nDEMO FAILED: ${err instanceof Error ? err.message : String(err)}`);
  }
}
if (code !== undefined) {
  // Show what the nodes logged (warnings, crashes) to help diagnose a failure.
  const logs = code === 0 ? '' : nodeLogs();
  if (logs) console.error(logs);
  await cleanup();
  process.exit(code);
}
