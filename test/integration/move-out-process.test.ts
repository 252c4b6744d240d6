/**
 * Move-out (PROTOCOL.md "Holdings") with the nodes running as users run them: a region and
 * a laptop are `crmsync start` child processes of the built CLI, on real LevelDB data
 * directories, the region's peer port and both APIs on 127.0.0.1 port 0; everything is
 * asserted through their HTTP APIs and the `crmsync verify` command. The laptop is subscribed to `north`; its trust-list
 * scope is `north` and `south`. The test proves that:
 *  1. the laptop holds exactly the region's north records;
 *  2. a record moved out on the region is evicted on the laptop (its change feed says
 *     `evicted`) and still exists on the region;
 *  3. an offline edit the laptop's API acknowledged just before a SIGKILL, to a record the
 *     region moved out meanwhile, is pushed when the laptop is back; then the record leaves
 *     the laptop, and the region has the edit;
 *  4. a SIGKILL right after an eviction loses nothing: started again (offline), the record
 *     is still evicted, the rest is intact and `crmsync verify` finds no problems.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openStream } from '../api/helpers.js';
import { initCluster, runCli } from '../cli/helpers.js';
import { cleanup, kill, request, scratch, start, type Running } from './cli-nodes.js';

/** Five `crmsync start` processes and a CLI run: slow on a loaded 2-core machine. */
const TEST_TIMEOUT_MS = 240_000;
/** Waits for sync between the processes. */
const SYNC_TIMEOUT_MS = 60_000;

afterEach(cleanup);

/** The node's records (one page is all of them here), sorted by id. */
async function records(node: Running): Promise<Array<{ id: string; territory: string | null }>> {
  const reply = await request(node, 'GET', '/v1/customers?limit=1000');
  expect(reply.status).toBe(200);
  expect(reply.json.next).toBeNull();
  return reply.json.customers;
}

/** Authorisation of an event stream request. */
const auth = (node: Running) => ({ authorization: `Bearer ${node.token}` });

/**
 * What the node's change feed (GET /v1/events replayed from the start) says last about
 * each record it mentions, once it mentioned every one of `ids`: 'change' or 'evicted'.
 */
async function feedOf(node: Running, ids: string[]): Promise<Record<string, string>> {
  const stream = await openStream(node.api, '/v1/events?since=0', auth(node));
  try {
    expect(stream.status).toBe(200);
    for (const id of ids) await stream.waitFor((e) => JSON.parse(e.data).id === id, SYNC_TIMEOUT_MS);
    return Object.fromEntries(stream.events.map((e) => [JSON.parse(e.data).id as string, e.event]));
  } finally {
    stream.close();
  }
}

/** Waits until both nodes have the same vector clock (the laptop caught up, and the region has the laptop's changes). */
async function inSync(a: Running, b: Running): Promise<void> {
  await vi.waitFor(async () => {
    const [sa, sb] = await Promise.all([request(a, 'GET', '/v1/status'), request(b, 'GET', '/v1/status')]);
    expect(sa.json.clock).toEqual(sb.json.clock);
  }, { timeout: SYNC_TIMEOUT_MS, interval: 100 });
}

describe('move-out between crmsync processes', () => {
  it('evicts on the laptop, keeps on the region, pushes an offline edit first, survives kill -9', { timeout: TEST_TIMEOUT_MS }, async () => {
    const dir = await scratch('crmsync-moveout-');
    const regionDir = join(dir, 'region');
    const laptopDir = join(dir, 'laptop');
    // Log level info: startProcess waits for the 'crmsync ready' line.
    const addresses = { listen: '127.0.0.1:0', api: '127.0.0.1:0', logLevel: 'info' };
    await initCluster({ region: regionDir, laptop: laptopDir }, addresses, { laptop: { role: 'laptop', territory: ['north', 'south'] } });
    const region = await start(regionDir);
    const seed = { 'n-1': 'north', 'n-2': 'north', 'n-3': 'north', 'n-4': 'north', 's-1': 'south', 'w-1': 'west' };
    for (const [id, territory] of Object.entries(seed)) {
      expect((await request(region, 'PUT', `/v1/customers/${id}`, { name: `Customer ${id}`, territory })).status).toBe(201);
    }
    // A laptop only dials out (--listen off): without --peers it is offline.
    const offline = ['--territory', 'north', '--listen', 'off'];
    const online = [...offline, '--peers', region.proc.ready.url!];

    // 1. The laptop holds exactly the region's north records, and says its data is complete.
    let laptop = await start(laptopDir, online);
    await inSync(laptop, region);
    const north = (await records(region)).filter((r) => r.territory === 'north');
    expect(north.map((r) => r.id)).toEqual(['n-1', 'n-2', 'n-3', 'n-4']);
    expect(await records(laptop)).toEqual(north);
    expect((await request(laptop, 'GET', '/v1/status')).json.holding)
      .toEqual({ subscription: { territories: ['north'] }, scope: { territories: ['north', 'south'] }, complete: true });

    // 2. Moved out on the region: evicted on the laptop (its feed says so), kept on the region.
    expect((await request(region, 'PATCH', '/v1/customers/n-1', { territory: 'west' })).status).toBe(200);
    await vi.waitFor(async () => expect((await request(laptop, 'GET', '/v1/customers/n-1')).status).toBe(404), { timeout: SYNC_TIMEOUT_MS, interval: 100 });
    await inSync(laptop, region);
    expect((await request(region, 'GET', '/v1/customers/n-1')).json.customer).toMatchObject({ id: 'n-1', territory: 'west' });
    expect(await feedOf(laptop, ['n-1', 'n-2', 'n-3', 'n-4'])).toEqual({ 'n-1': 'evicted', 'n-2': 'change', 'n-3': 'change', 'n-4': 'change' });
    expect((await records(laptop)).map((r) => r.id)).toEqual(['n-2', 'n-3', 'n-4']);

    // 3. Offline edit to a record the region moves out meanwhile, acknowledged, then SIGKILL.
    await kill(laptop.proc);
    laptop = await start(laptopDir, offline);
    expect((await request(region, 'PATCH', '/v1/customers/n-2', { territory: 'west' })).status).toBe(200);
    const edit = await request(laptop, 'PATCH', '/v1/customers/n-2', { notes: 'edited offline' });
    laptop.proc.child.kill('SIGKILL'); // right after the acknowledgement
    expect(edit.status).toBe(200);
    expect(edit.json.customer).toMatchObject({ territory: 'north', notes: 'edited offline' });
    await kill(laptop.proc);

    laptop = await start(laptopDir, online);
    await vi.waitFor(async () => {
      expect((await request(region, 'GET', '/v1/customers/n-2')).json.customer).toMatchObject({ territory: 'west', notes: 'edited offline' });
      expect((await request(laptop, 'GET', '/v1/customers/n-2')).status).toBe(404);
    }, { timeout: SYNC_TIMEOUT_MS, interval: 100 });
    await inSync(laptop, region);
    const history = (await request(region, 'GET', '/v1/customers/n-2/history')).json.history as Array<{ node: string; fields: string[] }>;
    expect(history.filter((h) => h.node === 'laptop')).toEqual([expect.objectContaining({ fields: ['notes'] })]);
    expect(await feedOf(laptop, ['n-1', 'n-2', 'n-3', 'n-4'])).toEqual({ 'n-1': 'evicted', 'n-2': 'evicted', 'n-3': 'change', 'n-4': 'change' });
    expect((await records(laptop)).map((r) => r.id)).toEqual(['n-3', 'n-4']);

    // 4. SIGKILL right after an eviction, seen live on the laptop's event stream.
    const live = await openStream(laptop.api, '/v1/events', auth(laptop));
    try {
      expect((await request(region, 'PATCH', '/v1/customers/n-3', { territory: 'west' })).status).toBe(200);
      const evicted = await live.waitFor((e) => e.event === 'evicted', SYNC_TIMEOUT_MS);
      laptop.proc.child.kill('SIGKILL');
      expect(JSON.parse(evicted.data)).toMatchObject({ id: 'n-3', source: 'remote', origin: 'region' });
    } finally {
      live.close();
    }
    await kill(laptop.proc);

    laptop = await start(laptopDir, offline); // offline: what it shows is what survived the kill
    expect((await request(laptop, 'GET', '/v1/status')).json.peers).toEqual([]);
    expect((await request(laptop, 'GET', '/v1/customers/n-3')).status).toBe(404);
    expect(await records(laptop)).toEqual([(await request(region, 'GET', '/v1/customers/n-4')).json.customer]);
    expect(await feedOf(laptop, ['n-1', 'n-2', 'n-3', 'n-4'])).toEqual({ 'n-1': 'evicted', 'n-2': 'evicted', 'n-3': 'evicted', 'n-4': 'change' });
    const verified = await runCli(['verify', '-d', laptopDir, '--api', '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ checked: 1, problems: 0, repaired: 0, details: [] });
    // Nothing was deleted anywhere else: the region still has every record.
    expect((await records(region)).map((r) => [r.id, r.territory])).toEqual([
      ['n-1', 'west'], ['n-2', 'west'], ['n-3', 'west'], ['n-4', 'north'], ['s-1', 'south'], ['w-1', 'west'],
    ]);
  });
});
