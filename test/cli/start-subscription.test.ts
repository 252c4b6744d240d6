/**
 * `crmsync start --territory X --owner Y` (startNode's territory/owner): the node holds
 * only that subscription (status shows it); an empty name is refused (ERR_VALIDATION).
 * Started again without them it keeps that subscription; `--all-records` drops it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startNode, type RunningNode } from '../../src/cli/commands/start.js';
import { keptSubscription } from '../../src/node-holding.js';
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

  it('keeps the subscription across starts without flags; --all-records holds everything; both together are a usage error', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    await initCluster({ solo: dir.path }, { listen: '127.0.0.1:0', api: '127.0.0.1:0', logLevel: 'warn' });
    let r = await startNode({ dataDir: dir.path, territory: ['north'] }, memoryIo());
    await r.stop();
    r = await startNode({ dataDir: dir.path }, memoryIo());
    expect((await r.node.status()).holding.subscription).toEqual({ territories: ['north'] });
    await r.stop();
    await expect(startNode({ dataDir: dir.path, allRecords: true, territory: ['north'] }, memoryIo())).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('--all-records and --territory/--owner') });
    r = await startNode({ dataDir: dir.path, allRecords: true }, memoryIo());
    expect((await r.node.status()).holding.subscription).toBeNull();
    await r.stop();
    r = await startNode({ dataDir: dir.path }, memoryIo());
    running.push(r);
    expect((await r.node.status()).holding.subscription).toBeNull();
  });

  it('opens with the stored subscription less the names the scope no longer allows', () => {
    expect(keptSubscription({ territories: ['a', 'b'], owners: ['x'] }, { territories: ['b'] })).toEqual({ subscription: { territories: ['b'] }, dropped: 2 });
    expect(keptSubscription({ territories: ['a'] }, { territories: ['b'] })).toEqual({ subscription: undefined, dropped: 1 });
    expect(keptSubscription({ territories: ['a'] }, undefined)).toEqual({ subscription: { territories: ['a'] }, dropped: 0 });
    expect(keptSubscription(undefined, { territories: ['b'] })).toEqual({ subscription: undefined, dropped: 0 });
  });
});
