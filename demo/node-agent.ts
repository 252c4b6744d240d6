/**
 * One crmsync node in its own process for the demo: its own LevelDB directory, a
 * WebSocket peer port and the HTTP API, both on free ports. The fallback launcher when
 * the `crmsync` CLI is not used (CRMSYNC_DEMO_LAUNCHER=agent).
 * Started as `node --import tsx demo/node-agent.ts '<AgentConfig JSON>'` with an IPC
 * channel; reports `ready` once, then is driven over HTTP like any node.
 * Logs go to stderr at level 'warn' (the driver shows them only if something fails).
 */
// The HTTP API is a driver like the demo, not part of the library entry point (the core
// never imports drivers), so it comes from its own module, as `crmsync start` takes it.
import { createApiServer } from '../src/api/server.js';
import { createLogger, openNode, type CrmNode } from '../src/index.js';
import type { AgentConfig, AgentMessage } from './protocol.js';

const send = (message: AgentMessage): void => {
  if (process.connected) process.send?.(message);
};

if (!process.send) {
  console.error('node-agent.ts is started by demo/run.ts (it needs an IPC channel); run `npm run demo` instead.');
  process.exit(2);
}

const config = JSON.parse(process.argv[2] ?? '{}') as AgentConfig;
const logger = createLogger({ level: 'warn', destination: process.stderr });
let node: CrmNode | undefined;
let api: Awaited<ReturnType<typeof createApiServer>> | undefined;

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= (async () => {
    let code = 0;
    try {
      await api?.close();
      await node?.close();
    } catch (err) {
      console.error(`closing ${config.nodeId} failed:`, err);
      code = 1;
    }
    if (process.connected) process.disconnect();
    process.exit(code);
  })();
  return stopping;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop());
// The driver went away (crash, kill -9): close the store and exit instead of lingering.
process.on('disconnect', () => void stop());

try {
  node = await openNode({
    dataDir: config.dataDir,
    nodeId: config.nodeId,
    listen: { host: '127.0.0.1', port: 0 },
    peerToken: config.peerToken,
    ...(config.invitation === undefined ? {} : { invitation: config.invitation }),
    logger,
  });
  const opened = node;
  api = await createApiServer(opened, { host: '127.0.0.1', port: 0, token: config.apiToken, logger, ready: () => !stopping });
  send({ kind: 'ready', nodeId: opened.id, apiUrl: api.url, peerUrl: opened.url ?? '' });
} catch (err) {
  send({ kind: 'failed', error: err instanceof Error ? err.message : String(err) });
  await node?.close().catch(() => undefined);
  process.exit(1);
}
