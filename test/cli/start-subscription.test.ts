/**
 * `crmsync start --territory X --owner Y` (startNode's territory/owner): the node holds
 * only that subscription (status shows it); an empty name is refused (ERR_VALIDATION).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startNode, type RunningNode } from '../../src/cli/commands/start.js';
import { initCluster, memoryIo, tempDir } from './helpers.js';

const dirs: Array<{ remove(): Promise<void> }> = [];
const running: RunningNode[] = [];
afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await Promise.all(dirs.map((d) => d.remove()));
});

describe('start with a subscription', () => {
  it('holds only the territories and owners given, and refuses an empty name', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    await initCluster({ solo: dir.path }, { listen: '127.0.0.1:0', api: '127.0.0.1:0', logLevel: 'warn' });
    await expect(startNode({ dataDir: dir.path, territory: [' '] }, memoryIo())).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    const r = await startNode({ dataDir: dir.path, territory: ['north', 'south'], owner: ['ada'] }, memoryIo());
    running.push(r);
    expect((await r.node.status()).holding.subscription).toEqual({ territories: ['north', 'south'], owners: ['ada'] });
    await r.node.records.create({ id: 'west-1', name: 'West', territory: 'west' });
    expect(await r.node.records.get('west-1')).toBeUndefined(); // outside the holding: not kept here
  });
});
