/**
 * A crmsync node in its own process, for tests that must kill a node the way users'
 * processes die (SIGKILL, no shutdown). Run as
 *
 *   node --import tsx test/integration/node-process.ts <dataDir> <nodeId> [peerUrl...]
 *
 * Protocol (newline-delimited JSON; stdout carries nothing else):
 *  - stdout, once listening: {"url": "ws://127.0.0.1:port"}
 *  - stdin {"op":"create","n":N,"prefix":"p"} creates records p-000000 … with at most
 *    CREATE_CONCURRENCY writes in flight; prints {"acked": id} after each write is
 *    acknowledged (durable), {"failed": id, "code": ...} on a refused write, and
 *    {"done": "create", "prefix": p, "acked": k} at the end.
 *  - stdin {"op":"status"} prints {"status": NodeStatus}.
 *  - stdin {"op":"memory"} prints {"memory": {rss, peakRss, heapUsed, external}} in bytes:
 *    peakRss is the highest RSS sampled every MEMORY_SAMPLE_MS since the previous
 *    "memory" op (or the start), so a test can bound what one phase cost.
 *  - stdin {"op":"close"} closes the node, prints {"closed": true} and exits 0.
 * Warnings and errors are logged as JSON to stderr.
 */
import { createInterface } from 'node:readline';
import { unpack } from 'msgpackr';
import { createLogger, openNode, type CrmNode } from '../../src/index.js';
import type { MemberOptions } from '../../src/testing.js';

/** Writes in flight during a bulk create (bounded, like any loop over many records). */
const CREATE_CONCURRENCY = 32;
/** How often the process samples its RSS for peakRss. */
const MEMORY_SAMPLE_MS = 10;

/** One JSON line on stdout. Pipes are synchronous on Linux, so a printed ack is never lost to a later kill. */
function emit(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function bulkCreate(node: CrmNode, n: number, prefix: string): Promise<void> {
  let next = 0;
  let acked = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const id = `${prefix}-${String(i).padStart(6, '0')}`;
      try {
        await node.records.create({
          id, name: `Customer ${prefix} ${i}`, email: `c${i}@${prefix}.example`, company: `Company ${i % 97}`,
          stage: 'lead', tags: ['bulk'], notes: `imported ${i}`,
        });
        acked++;
        emit({ acked: id });
      } catch (err) {
        emit({ failed: id, code: (err as { code?: string }).code ?? 'UNKNOWN' });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CREATE_CONCURRENCY, n) }, worker));
  emit({ done: 'create', prefix, acked });
}

async function main(): Promise<void> {
  const [dataDir, nodeId, ...peers] = process.argv.slice(2);
  if (!dataDir || !nodeId) throw new TypeError('usage: node-process.ts <dataDir> <nodeId> [peerUrl...]');
  const logger = createLogger({ level: process.env.CRMSYNC_LOG_LEVEL ?? 'warn', destination: process.stderr });
  // Quick reconnects, as TEST_LIMITS in helpers.ts (not imported: it pulls in vitest).
  // Membership of the test's cluster (the parent's Harness signs it).
  const encoded = process.env.CRMSYNC_TEST_MEMBER;
  const member = (encoded ? unpack(Buffer.from(encoded, 'base64')) : {}) as Partial<MemberOptions>;
  const node = await openNode({ dataDir, nodeId, peers, logger, ...member, limits: { reconnectBaseMs: 50, reconnectMaxMs: 1000 } });
  emit({ url: node.url });
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()); }, MEMORY_SAMPLE_MS);
  sampler.unref();
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const cmd = JSON.parse(line) as { op: string; n?: number; prefix?: string };
    switch (cmd.op) {
      case 'create':
        // Not awaited: status and close must be answerable while a bulk create runs.
        void bulkCreate(node, cmd.n ?? 0, cmd.prefix ?? 'r');
        break;
      case 'status':
        emit({ status: await node.status() });
        break;
      case 'memory': {
        const { rss, heapUsed, external } = process.memoryUsage();
        emit({ memory: { rss, peakRss: Math.max(peakRss, rss), heapUsed, external } });
        peakRss = rss;
        break;
      }
      case 'close':
        await node.close();
        emit({ closed: true });
        process.exit(0);
      default:
        emit({ error: `unknown op ${JSON.stringify(cmd.op)}` });
    }
  }
  // stdin ended without a close command (the parent went away): shut down cleanly.
  await node.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ fatal: (err as Error).message, code: (err as { code?: string }).code })}\n`);
  process.exit(1);
});
