/**
 * `crmsync verify` against a stopped node's data directory and through the HTTP API
 * of a running node (POST /v1/verify).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiServer } from '../../src/api/server.js';
import { init } from '../../src/cli/commands/init.js';
import { verify } from '../../src/cli/commands/verify.js';
import { dataDirPaths } from '../../src/config/files.js';
import { openNode } from '../../src/index.js';
import { nodeAt, tempDir } from '../migrate/helpers.js';
import { memoryIo } from './helpers.js';

let dir: string;
let remove: () => Promise<void>;
const cleanup: (() => Promise<void>)[] = [];
beforeEach(async () => {
  ({ dir, remove } = await tempDir('crmsync-verify-'));
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  await remove();
});

describe('crmsync verify', () => {
  it('checks every record of a stopped node and prints the counts', async () => {
    const dataDir = join(dir, 'berlin');
    const made = await init({ dataDir, nodeId: 'berlin', listen: '127.0.0.1:0', api: '127.0.0.1:0' }, memoryIo());
    // The node init made: its key (node.key) and the cluster it founded.
    const node = await openNode({
      dataDir: dataDirPaths(dataDir).db, nodeId: 'berlin', listen: false,
      identity: { privateKeyPem: await readFile(made.keyFile, 'utf8') }, cluster: { founder: made.key },
    });
    for (let i = 0; i < 12; i++) await node.records.create({ id: `c${i}`, name: `C ${i}` });
    await node.close();
    const io = memoryIo();
    const report = await verify({ dataDir, json: true }, io);
    expect(report).toMatchObject({ checked: 12, problems: 0, repaired: 0 });
    expect(JSON.parse(io.stdout)).toEqual(report);
  });

  it('runs on a running node through the API', async () => {
    const node = await nodeAt(join(dir, 'running'), 'running');
    await node.records.create({ id: 'x1', name: 'X' });
    const server = await createApiServer(node, { token: 'verify-token-123456' });
    cleanup.push(() => node.close(), () => server.close());
    const report = await verify({ api: server.url, apiToken: 'verify-token-123456', json: true }, memoryIo());
    expect(report).toMatchObject({ checked: 1, problems: 0 });
  });
});
