/**
 * One crmsync node in its own process, driven by demo/run.ts over child_process IPC.
 * Started as `node --import tsx demo/node-agent.ts '<AgentConfig JSON>'`.
 * Logs go to stderr at level 'warn' (the driver shows them only if something fails).
 */
import { createHash } from 'node:crypto';
import { createLogger, openNode, type CrmNode, type RecordView } from '../src/index.js';
import { canonicalJson, type AgentApi, type AgentConfig, type AgentMessage, type Op, type Request } from './protocol.js';

type Handlers = { [K in Op]: (...args: Parameters<AgentApi[K]>) => Promise<ReturnType<AgentApi[K]>> };

const send = (message: AgentMessage): void => {
  if (process.connected) process.send?.(message);
};

if (!process.send) {
  console.error('node-agent.ts is started by demo/run.ts (it needs an IPC channel); run `npm run demo` instead.');
  process.exit(2);
}

// Ctrl-C in a terminal reaches the whole process group; the driver owns shutdown, so
// the agent ignores SIGINT and waits for 'shutdown' (or for the IPC channel to close).
process.on('SIGINT', () => {});

const config = JSON.parse(process.argv[2] ?? '{}') as AgentConfig;
let node: CrmNode;
try {
  node = await openNode({
    dataDir: config.dataDir,
    nodeId: config.nodeId,
    listen: { host: '127.0.0.1', port: config.port },
    peers: config.peers,
    logger: createLogger({ level: 'warn', destination: process.stderr }),
  });
} catch (err) {
  send({ kind: 'failed', error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= (async () => {
    let code = 0;
    try {
      await node.close();
    } catch (err) {
      console.error(`closing ${config.nodeId} failed:`, err);
      code = 1;
    }
    if (process.connected) process.disconnect();
    process.exit(code);
  })();
  return stopping;
}

async function allViews(): Promise<RecordView[]> {
  const views: RecordView[] = [];
  let after: string | undefined;
  do {
    const page = await node.records.list({ includeDeleted: true, limit: 1000, after });
    views.push(...page.records);
    after = page.next;
  } while (after !== undefined);
  return views.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const handlers: Handlers = {
  async seed(inputs) {
    await Promise.all(inputs.map((input) => node.records.create(input)));
    return inputs.length;
  },
  update: (id, patch) => node.records.update(id, patch),
  delete: (id) => node.records.delete(id),
  restore: (id) => node.records.restore(id),
  get: async (id) => (await node.records.get(id)) ?? null,
  conflicts: (id) => node.records.conflicts(id),
  status: () => node.status(),
  async snapshot() {
    const views = await allViews();
    const digest = createHash('sha256').update(canonicalJson(views)).digest('hex');
    const deleted = views.filter((v) => v.deleted).length;
    return { digest, live: views.length - deleted, deleted };
  },
  async addPeer(url) {
    node.addPeer(url);
    return true;
  },
  removePeer: async (url) => node.removePeer(url),
  async shutdown() {
    setImmediate(() => void stop());
    return true;
  },
};

process.on('message', (raw) => {
  const request = raw as Request;
  if (request?.kind !== 'request') return;
  const handler = handlers[request.op] as (...args: unknown[]) => Promise<unknown>;
  handler(...request.args).then(
    (result) => send({ kind: 'response', id: request.id, ok: true, result }),
    (err: unknown) => {
      const e = err as { message?: string; code?: string };
      send({ kind: 'response', id: request.id, ok: false, error: e.message ?? String(err), code: e.code });
    },
  );
});
// The driver went away (crash, kill -9): close the store and exit instead of lingering.
process.on('disconnect', () => void stop());

send({ kind: 'ready', nodeId: node.id, url: node.url ?? '' });
