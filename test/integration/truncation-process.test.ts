/**
 * Log truncation, then a node back after the retention window (issue 10), with the nodes
 * running as users run them: a region and a laptop are `crmsync start` child processes
 * of the built CLI on real LevelDB directories, everything asserted through their HTTP
 * APIs and `crmsync verify`. The region keeps its log `--log-retention 2s` (passes every
 * 200 ms). The laptop (subscribed to north; scope north and south) is killed, edits
 * offline, and stays away longer than the retention: the region truncates its log
 * without waiting for it. Back online, the laptop is brought to the region's floors with
 * record documents: a record moved out meanwhile is evicted, an edit and a delete made
 * meanwhile arrive, its offline edit and creation reach the region, and both then hold
 * the same north records and clock.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { initCluster, runCli } from '../cli/helpers.js';
import { cleanup, kill, request, scratch, start, type Running } from './cli-nodes.js';

const TEST_TIMEOUT_MS = 240_000;
const SYNC_TIMEOUT_MS = 60_000;

afterEach(cleanup);

async function status(node: Running): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const reply = await request(node, 'GET', '/v1/status');
  expect(reply.status).toBe(200);
  return reply.json;
}

/** Live records (one page is all of them here), as id, territory and notes. */
async function records(node: Running): Promise<Array<[string, string | null, string]>> {
  const reply = await request(node, 'GET', '/v1/customers?limit=1000');
  expect(reply.status).toBe(200);
  return (reply.json.customers as Array<{ id: string; territory?: string; notes: string }>).map((c) => [c.id, c.territory ?? null, c.notes]);
}

describe('a laptop back after the retention window, between crmsync processes', () => {
  it('is brought to the region\'s truncated log with documents, keeps its offline work, and ends identical', { timeout: TEST_TIMEOUT_MS }, async () => {
    const dir = await scratch('crmsync-truncation-');
    const regionDir = join(dir, 'region');
    const laptopDir = join(dir, 'laptop');
    await initCluster({ region: regionDir, laptop: laptopDir }, { listen: '127.0.0.1:0', api: '127.0.0.1:0', logLevel: 'info' }, { laptop: { role: 'laptop', territory: ['north', 'south'] } });
    const region = await start(regionDir, ['--log-retention', '2s', '--lifecycle-interval', '200ms']);
    for (const [id, territory] of Object.entries({ 'n-1': 'north', 'n-2': 'north', 'n-3': 'north', 'n-4': 'north', 's-1': 'south' })) {
      expect((await request(region, 'PUT', `/v1/customers/${id}`, { name: `Customer ${id}`, territory })).status).toBe(201);
    }
    const offline = ['--territory', 'north', '--listen', 'off'];
    const online = [...offline, '--peers', region.proc.ready.url!];
    let laptop = await start(laptopDir, online);
    await vi.waitFor(async () => expect((await records(laptop)).map(([id]) => id)).toEqual(['n-1', 'n-2', 'n-3', 'n-4']), { timeout: SYNC_TIMEOUT_MS, interval: 100 });

    // Away: the laptop edits and creates offline; the region moves, edits and deletes meanwhile.
    await kill(laptop.proc);
    laptop = await start(laptopDir, offline);
    expect((await request(laptop, 'PATCH', '/v1/customers/n-4', { notes: 'edited offline' })).status).toBe(200);
    expect((await request(laptop, 'PUT', '/v1/customers/n-9', { name: 'Made offline', territory: 'north' })).status).toBe(201);
    await kill(laptop.proc);
    expect((await request(region, 'PATCH', '/v1/customers/n-1', { territory: 'west' })).status).toBe(200);
    expect((await request(region, 'PATCH', '/v1/customers/n-2', { notes: 'edited on the region' })).status).toBe(200);
    expect((await request(region, 'DELETE', '/v1/customers/n-3')).status).toBe(200);

    // Past the retention, the region truncates its whole log without waiting for the laptop.
    await vi.waitFor(async () => {
      const { lifecycle, lastLocalSeq } = await status(region);
      expect(lifecycle.absent).toEqual(['laptop']);
      expect(lifecycle.logStart).toBe(lastLocalSeq + 1);
    }, { timeout: SYNC_TIMEOUT_MS, interval: 200 });
    expect((await request(region, 'GET', '/v1/customers/n-2/history')).json.history).toEqual([]);
    const shown = await runCli(['status', '-d', regionDir]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^lifecycle +log from position \d+ \(\d+ entries truncated since start\); not waited for \(away longer than the log retention\): laptop;/m);

    // Back: documents and floors, then its own offline work goes up as always.
    laptop = await start(laptopDir, online);
    await vi.waitFor(async () => {
      expect((await status(laptop)).clock).toEqual((await status(region)).clock);
      expect(await records(laptop)).toEqual((await records(region)).filter(([, territory]) => territory === 'north'));
    }, { timeout: SYNC_TIMEOUT_MS, interval: 200 });
    expect(await records(laptop)).toEqual([['n-2', 'north', 'edited on the region'], ['n-4', 'north', 'edited offline'], ['n-9', 'north', '']]);
    expect((await request(laptop, 'GET', '/v1/customers/n-1')).status).toBe(404); // moved out below the floor: evicted
    expect((await request(region, 'GET', '/v1/customers/n-1')).json.customer).toMatchObject({ territory: 'west' });
    expect((await request(laptop, 'GET', '/v1/customers/n-3')).json.customer).toMatchObject({ deleted: true });
    const verified = await runCli(['verify', '-d', laptopDir, '--api', '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ problems: 0 });
  });
});
