/**
 * `npm run bench:import -- [--n 100000] [--seed 1]`: import throughput of a generated CSV
 * into a node with durable (fsynced) batches, against the 10,000 rows/s target,
 * and where the time goes: reading + mapping alone (a sink that discards), the commits
 * (time inside upsertMany), and a second, idempotent run (everything unchanged).
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openNode, seededRandom } from '../src/index.js';
import {
  memoryRejects, nodeSink, openSource, parseMapping, runImport, IMPORT_BATCH_ROWS,
  type ImportReport, type ImportSink,
} from '../src/migrate/import/index.js';
import { levelFloor, packedRecords } from './floor.js';
import { int, ms, renderTable, type Row } from './table.js';
import { benchOptions, wholeNumber } from './args.js';

const USAGE = 'npm run bench:import -- [--n 100000] [--seed 1]';
const opts = benchOptions(USAGE, { n: { type: 'string', default: '100000' }, seed: { type: 'string', default: '1' } });
const N = wholeNumber(USAGE, '--n', opts.n, 1000, 'rows');
const SEED = wholeNumber(USAGE, '--seed', opts.seed, 0);
const TARGET = 10_000;
const log = (msg: string) => process.stderr.write(`[bench-import] ${msg}\n`);

function writeCsv(path: string, n: number, seed: number): void {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const first = ['Ada', 'Grace', 'Alan', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger'];
  const last = ['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie', 'Allen', 'Dijkstra'];
  const status = ['Prospect', 'Client', 'Opportunity', 'Inactive', 'qualified'];
  const lines = ['Customer ID;First Name;Last Name;E-mail;Phone 1;Company;Status;Territory;City;Subscription Date'];
  for (let i = 1; i <= n; i++) {
    const [f, l] = [pick(first), pick(last)];
    const day = String(1 + Math.floor(rnd() * 28)).padStart(2, '0');
    lines.push(`${i};${f};${l};${f}.${l}.${i}@example.com;030 ${1000000 + Math.floor(rnd() * 8999999)};"${l} & Co; GmbH";${pick(status)};${pick(['north', 'south', 'emea'])};Berlin;${day}.03.2024`);
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

const mapping = parseMapping({
  key: { column: 'Customer ID' },
  defaults: { phoneCountry: 'DE' },
  fields: {
    name: { columns: ['First Name', 'Last Name'] },
    email: { column: 'E-mail', transforms: ['email'] },
    phone: { column: 'Phone 1', transforms: ['phone'] },
    company: { column: 'Company', transforms: ['collapse'] },
    stage: { column: 'Status', transforms: [{ lookup: 'stages' }] },
    territory: { column: 'Territory', transforms: ['lower'] },
    'address.city': { column: 'City' },
    'custom.sourceId': { column: 'Customer ID' },
    'custom.subscriptionDate': { column: 'Subscription Date', transforms: [{ date: { format: 'dd.MM.yyyy' } }] },
  },
  lookups: { stages: { prospect: 'lead', client: 'customer', opportunity: 'proposal', inactive: 'churned', qualified: 'qualified' } },
});

/** Wraps a sink to measure the time spent inside commits. */
function timed(sink: ImportSink): ImportSink & { commitMs: number } {
  const wrapped = {
    ...sink,
    commitMs: 0,
    async upsertMany(...args: Parameters<ImportSink['upsertMany']>) {
      const t = performance.now();
      try {
        return await sink.upsertMany(...args);
      } finally {
        wrapped.commitMs += performance.now() - t;
      }
    },
  };
  return wrapped;
}

const discard: ImportSink = {
  upsertMany: async (items) => items.map((i) => ({ id: i.id, status: 'created' as const })),
  getState: async () => undefined,
  get: async () => undefined,
  close: async () => {},
};

async function run(sink: ImportSink, csv: string, name: string): Promise<ImportReport> {
  const source = await openSource(csv);
  const report = await runImport({ source, mapping, sink, sourceName: name, rejects: memoryRejects() });
  if (report.read !== N || report.rejected !== 0) throw new Error(`unexpected accounting: ${JSON.stringify(report)}`);
  return report;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'crmsync-bench-import-'));
  try {
    const csv = join(dir, 'customers.csv');
    writeCsv(csv, N, SEED);
    log(`${int(N)} rows, ${(statSync(csv).size / 1024 / 1024).toFixed(1)} MiB CSV; batches of ${IMPORT_BATCH_ROWS} rows`);
    const parse = await run(discard, csv, 'bench');
    log(`read + map only: ${ms(parse.elapsedMs)}`);
    const node = await openNode({ dataDir: join(dir, 'db'), nodeId: 'bench', listen: false });
    const sink = timed(nodeSink(node));
    const first = await run(sink, csv, 'bench');
    log(`first import: ${ms(first.elapsedMs)}`);
    const firstCommit = sink.commitMs;
    sink.commitMs = 0;
    const second = await run(sink, csv, 'bench');
    log(`second import: ${ms(second.elapsedMs)}`);
    await node.close();
    const floor = await levelFloor(packedRecords(N, SEED), 0);
    rmSync(floor.dir, { recursive: true, force: true });
    const rate = (r: ImportReport) => `${int(r.rowsPerSecond)} rows/s`;
    const verdict = (r: ImportReport) => (r.rowsPerSecond >= TARGET ? 'ok' : 'BELOW');
    const rows: Row[] = [
      ['floor: LevelDB one synced batch', ms(floor.ms), `${int((N / floor.ms) * 1000)} rows/s`, '-', '-'],
      ['read + map (no writes)', ms(parse.elapsedMs), rate(parse), '-', '-'],
      ['first import (all created)', ms(first.elapsedMs), rate(first), `${int(TARGET)} rows/s`, verdict(first)],
      ['  of which inside commits', ms(firstCommit), `${((firstCommit / first.elapsedMs) * 100).toFixed(0)}% of the run`, '-', '-'],
      ['  per created record', `${(firstCommit / N).toFixed(3)} ms`, '-', '-', '-'],
      ['second import (all unchanged)', ms(second.elapsedMs), rate(second), `${int(TARGET)} rows/s`, verdict(second)],
      ['  of which inside commits', ms(sink.commitMs), `${((sink.commitMs / second.elapsedMs) * 100).toFixed(0)}% of the run`, '-', '-'],
    ];
    process.stdout.write(`\ncrmsync import, ${int(N)}-row CSV, durable batches of ${IMPORT_BATCH_ROWS}\n`);
    process.stdout.write(`${renderTable(['phase', 'time', 'throughput', 'target', 'verdict'], rows)}\n`);
    if (first.created !== N || second.unchanged !== N) throw new Error('idempotence failed: the second run changed records');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
