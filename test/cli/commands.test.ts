/**
 * The commands as functions against nodes and APIs started in-process (temp dirs,
 * port 0), and their exit codes through run().
 */
import { EventEmitter } from 'node:events';
import { spawnSync } from 'node:child_process';
import { access, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { init } from '../../src/cli/commands/init.js';
import { conflictsShow } from '../../src/cli/commands/conflicts.js';
import { history } from '../../src/cli/commands/inspect.js';
import { peersAdd, peersList, peersRemove } from '../../src/cli/commands/peers.js';
import { recordsErase, recordsErasures } from '../../src/cli/commands/erase.js';
import { recordsDelete, recordsGet, recordsList, recordsPatch, recordsPut, recordsRestore } from '../../src/cli/commands/records.js';
import { start, startNode, type RunningNode } from '../../src/cli/commands/start.js';
import { status } from '../../src/cli/commands/status.js';
import { run } from '../../src/cli/program.js';
import { initCluster, memoryIo, tempDir } from './helpers.js';

/** A port that was free a moment ago and has nothing listening on it now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const QUICK = { reconnectBaseMs: 50, reconnectMaxMs: 500 };
const dirs: Array<{ path: string; remove(): Promise<void> }> = [];
const running: RunningNode[] = [];

/** startNode on an initialised temp dir. */
async function node(dataDir: string): Promise<{ dataDir: string; running: RunningNode }> {
  const r = await startNode({ dataDir, limits: QUICK }, memoryIo());
  running.push(r);
  return { dataDir, running: r };
}

let berlin: { dataDir: string; running: RunningNode };
let paris: { dataDir: string; running: RunningNode };
beforeAll(async () => {
  const [b, p] = [await tempDir(), await tempDir()];
  dirs.push(b, p);
  // berlin founds the cluster and grants paris (both ports 0).
  await initCluster({ berlin: b.path, paris: p.path }, { listen: '127.0.0.1:0', api: '127.0.0.1:0', logLevel: 'warn' });
  [berlin, paris] = await Promise.all([node(b.path), node(p.path)]);
});
afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await Promise.all(dirs.map((d) => d.remove()));
});

/** Runs argv against berlin's data dir; returns exit code and output. */
async function cli(args: string[], stdin?: string) {
  const io = memoryIo({ stdin });
  const code = await run([...args, '-d', berlin.dataDir], io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

describe('start', () => {
  it('announces the node in the data dir', async () => {
    expect((await readFile(join(berlin.dataDir, 'api-url'), 'utf8')).trim()).toBe(berlin.running.apiUrl);
    expect((await readFile(join(berlin.dataDir, 'crmsync.pid'), 'utf8')).trim()).toBe(String(process.pid));
  });

  it('refuses a second node on the same data dir with exit 5', async () => {
    const { code, stderr } = await cli(['start', '--api', '127.0.0.1:0', '--listen', 'off']);
    expect(code).toBe(5);
    expect(stderr).toMatch(/ERR_LOCKED/);
  });

  it('stops on SIGTERM: closes, removes pid and api-url, resolves', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    await init({ dataDir: dir.path, nodeId: 'brief', listen: 'off', api: '127.0.0.1:0' }, memoryIo());
    const signals = new EventEmitter();
    const io = memoryIo();
    const done = start({ dataDir: dir.path }, io, signals);
    await vi.waitFor(() => expect(io.logs.some((l) => l.msg === 'crmsync ready')).toBe(true));
    signals.emit('SIGTERM', 'SIGTERM');
    await done;
    await expect(access(join(dir.path, 'crmsync.pid'))).rejects.toThrow();
    await expect(access(join(dir.path, 'api-url'))).rejects.toThrow();
    expect(io.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['crmsync ready', 'shutdown requested', 'crmsync stopped']));
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('gives up waiting on a second signal during shutdown (exit 1)', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    await init({ dataDir: dir.path, nodeId: 'impatient', listen: 'off', api: '127.0.0.1:0' }, memoryIo());
    const signals = new EventEmitter();
    const io = memoryIo();
    const done = start({ dataDir: dir.path }, io, signals);
    await vi.waitFor(() => expect(io.logs.some((l) => l.msg === 'crmsync ready')).toBe(true));
    signals.emit('SIGINT', 'SIGINT');
    signals.emit('SIGINT', 'SIGINT');
    await expect(done).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/received SIGINT again during shutdown/) });
    // The abandoned shutdown still finishes in this process (a real one would have exited).
    await vi.waitFor(() => expect(io.logs.some((l) => l.msg === 'crmsync stopped')).toBe(true));
  });
});

describe('records', () => {
  it('put, get, patch, delete, restore round-trip', async () => {
    const io = memoryIo();
    const created = await recordsPut(undefined, { dataDir: berlin.dataDir, data: '{"name":"Ada Lovelace","stage":"lead","territory":"emea"}', json: true }, io);
    expect(JSON.parse(io.stdout)).toEqual({ customer: created });
    await recordsPut('cust-1', { dataDir: berlin.dataDir, file: '-' }, memoryIo({ stdin: '{"name":"Grace Hopper","owner":"alice"}' }));
    const patched = await recordsPatch('cust-1', { dataDir: berlin.dataDir, data: '{"stage":"won","addTags":["vip"]}' }, memoryIo());
    expect(patched).toMatchObject({ name: 'Grace Hopper', stage: 'won', tags: ['vip'] });
    const human = memoryIo();
    await recordsGet('cust-1', { dataDir: berlin.dataDir }, human);
    expect(human.stdout).toMatch(/^name +Grace Hopper$/m);
    expect((await recordsDelete('cust-1', { dataDir: berlin.dataDir }, memoryIo())).deleted).toBe(true);
    expect((await recordsRestore('cust-1', { dataDir: berlin.dataDir }, memoryIo())).deleted).toBe(false);
    const entries = await history('cust-1', { dataDir: berlin.dataDir }, memoryIo());
    expect(entries.length).toBeGreaterThanOrEqual(4);
  });

  it('records erase removes a record for good and records erasures lists who and when; bad ids and a non-administrator are refused', async () => {
    await recordsPut('cust-erase', { dataDir: berlin.dataDir, data: '{"name":"Erin Erased"}' }, memoryIo());
    const erasure = await recordsErase('cust-erase', { dataDir: berlin.dataDir }, memoryIo());
    expect(erasure).toMatchObject({ node: 'berlin', subject: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const listed = memoryIo();
    await recordsErasures({ dataDir: berlin.dataDir }, listed);
    expect(listed.stdout).toContain(erasure.subject);
    expect(listed.stdout).not.toContain('cust-erase');
    await expect(recordsGet('cust-erase', { dataDir: berlin.dataDir }, memoryIo())).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(recordsPut('cust-erase', { dataDir: berlin.dataDir, data: '{"name":"Again"}' }, memoryIo())).rejects.toMatchObject({ code: 'ERR_GONE' });
    await expect(recordsErase('cust-nobody', { dataDir: berlin.dataDir }, memoryIo())).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(recordsErase('bad/id', { dataDir: berlin.dataDir }, memoryIo())).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await recordsPut('cust-paris', { dataDir: paris.dataDir, data: '{"name":"Paul Paris"}' }, memoryIo());
    await expect(recordsErase('cust-paris', { dataDir: paris.dataDir }, memoryIo())).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    const { code } = await cli(['records', 'erase', 'cust-nobody']);
    expect(code).toBe(4);
  });

  it('creates once per idempotency key', async () => {
    const options = { dataDir: berlin.dataDir, data: '{"name":"Once"}', idempotencyKey: 'import-7' };
    const [first, second] = [await recordsPut(undefined, options, memoryIo()), await recordsPut(undefined, options, memoryIo())];
    expect(second.id).toBe(first.id);
  });

  it('lists with filters, pages with --cursor and follows --all', async () => {
    for (let i = 0; i < 5; i++) await recordsPut(`page-${i}`, { dataDir: berlin.dataDir, data: JSON.stringify({ name: `Page ${i}`, territory: 'paging' }) }, memoryIo());
    const first = await recordsList({ dataDir: berlin.dataDir, territory: 'paging', limit: '2' }, memoryIo());
    expect(first.customers).toHaveLength(2);
    expect(first.next).not.toBeNull();
    const second = await recordsList({ dataDir: berlin.dataDir, territory: 'paging', limit: 2, cursor: first.next! }, memoryIo());
    expect(second.customers.map((c) => c.id)).not.toContain(first.customers[0]!.id);
    const io = memoryIo();
    const all = await recordsList({ dataDir: berlin.dataDir, territory: 'paging', limit: 2, all: true, json: true }, io);
    expect(all.customers.map((c) => c.id).sort()).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    expect(JSON.parse(io.stdout)).toEqual({ customers: all.customers, next: null });
    const table = memoryIo();
    await recordsList({ dataDir: berlin.dataDir, q: 'grace' }, table);
    expect(table.stdout).toMatch(/^ID +NAME +COMPANY +STAGE +OWNER +TERRITORY +UPDATED +FLAGS\ncust-1 +Grace Hopper +- +won +alice/);
  });

  it('maps API errors to exit codes with code, details and hints', async () => {
    const missing = await cli(['records', 'get', 'nope']);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/^error ERR_NOT_FOUND: /);
    const invalid = await cli(['records', 'put', 'bad-1', '--data', '{"name":"X","stage":"dreaming"}']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/ERR_VALIDATION[^\n]*\n {2}stage: must be one of lead/);
    const exists = await cli(['records', 'put', '--data', '{"id":"cust-1","name":"Again"}']);
    expect(exists.code).toBe(5);
    expect(exists.stderr).toMatch(/ERR_EXISTS/);
    const badJson = await cli(['records', 'patch', 'cust-1', '--data', '{stage:won}']);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/the JSON from --data does not parse/);
    const noInput = await cli(['records', 'patch', 'cust-1']);
    expect(noInput.code).toBe(2);
    const wrongToken = await cli(['status', '--token', 'x'.repeat(20)]);
    expect(wrongToken.code).toBe(2);
    expect(wrongToken.stderr).toMatch(/ERR_UNAUTHORIZED[\s\S]*hint: the API token was refused/);
    const unknownFlag = await cli(['records', 'list', '--colour']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(/unknown option '--colour'/);
  });
});

describe('peers, status and conflicts across two nodes', () => {
  it('surfaces a conflict after peers add, and peers remove forgets the peer', async () => {
    await recordsPut('acme', { dataDir: berlin.dataDir, data: '{"name":"Acme","stage":"lead"}' }, memoryIo());
    await recordsPut('acme', { dataDir: paris.dataDir, data: '{"name":"Acme","stage":"won"}' }, memoryIo());
    // berlin granted paris, so it names the node it expects; paris knows only its founder's key yet.
    const stranger = memoryIo();
    expect(await run(['peers', 'add', paris.running.peerUrl!, '--node', 'lyon', '-d', berlin.dataDir], stranger)).toBe(4);
    expect(stranger.stderr).toContain(`hint: see the members with: crmsync trust list -d ${berlin.dataDir}`);
    const unnamed = memoryIo();
    expect(await run(['peers', 'add', paris.running.peerUrl!, '-d', berlin.dataDir], unnamed)).toBe(2);
    expect(unnamed.stderr).toMatch(/--node.*required: the node id .* reaches .*or --confirm/);
    const added = memoryIo();
    await peersAdd(paris.running.peerUrl!, { dataDir: berlin.dataDir, node: 'paris' }, added);
    expect(added.stderr).toContain(`Saved in ${join(berlin.dataDir, 'crmsync.json')}`);
    expect(JSON.parse(await readFile(join(berlin.dataDir, 'crmsync.json'), 'utf8')).peers).toEqual([paris.running.peerUrl]);
    await vi.waitFor(async () => {
      const s = await status({ dataDir: berlin.dataDir }, memoryIo());
      expect(s.conflicted).toBe(1);
      expect(s.clock).toEqual((await status({ dataDir: paris.dataDir }, memoryIo())).clock);
    }, { timeout: 20_000, interval: 50 });
    const io = memoryIo();
    const found = await conflictsShow('acme', { dataDir: berlin.dataDir }, io);
    // Both wrote name "Acme" too: equal values, still concurrent writes.
    expect(found.find((c) => c.field === 'stage')!.values).toEqual(expect.arrayContaining([
      expect.objectContaining({ value: 'lead', node: 'berlin' }), expect.objectContaining({ value: 'won', node: 'paris' }),
    ]));
    expect(io.stdout).toMatch(/^FIELD +VALUE +NODE +TIME +AUTHOR +WINNER +RULE$/m);

    const human = memoryIo();
    await status({ dataDir: berlin.dataDir }, human);
    expect(human.stdout).toMatch(/^node +berlin$/m);
    expect(human.stdout).toMatch(/^role +region, administrator$/m);
    // berlin wrote its record and took in paris's: commit batches, each with its fsync's time.
    expect(human.stdout).toMatch(/^storage +([2-9]|\d\d+) commit batch\(es\), \d+\.\d\d ms each on average \(fsync included\); \d+ index batch\(es\), not fsynced$/m);
    expect(human.stdout).toMatch(new RegExp(`^${paris.running.peerUrl} +paris +region +outbound +connected +0 +0 +0 `, 'm'));
    const listed = memoryIo();
    const parisKey = (await status({ dataDir: paris.dataDir }, memoryIo())).identity.key;
    expect((await peersList({ dataDir: berlin.dataDir, json: true }, listed))[0]).toMatchObject({ url: paris.running.peerUrl, node: 'paris', role: 'region', key: parisKey, expectedNode: 'paris' });
    expect(JSON.parse(listed.stdout).peers).toHaveLength(1);

    await peersRemove(paris.running.peerUrl!, { dataDir: berlin.dataDir }, memoryIo());
    expect(JSON.parse(await readFile(join(berlin.dataDir, 'crmsync.json'), 'utf8')).peers).toEqual([]);
    const again = memoryIo();
    expect(await run(['peers', 'remove', paris.running.peerUrl!, '-d', berlin.dataDir], again)).toBe(4);
    expect(again.stderr).toMatch(/is not a peer of this node/);
    expect(await run(['peers', 'add', 'http://nope', '-d', paris.dataDir], memoryIo())).toBe(2);
  });
});

describe('a node that is not running', () => {
  it('exits 3 and says how to start it', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    await init({ dataDir: dir.path, nodeId: 'idle' }, memoryIo());
    const io = memoryIo();
    expect(await run(['status', '-d', dir.path], io)).toBe(3);
    expect(io.stderr).toContain(`no crmsync node is running on ${dir.path}`);
    expect(io.stderr).toContain(`hint: start it with: crmsync start -d ${dir.path}`);
    // Files left by a node that was killed: the pid in crmsync.pid has exited.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    await writeFile(join(dir.path, 'crmsync.pid'), `${dead}\n`);
    await writeFile(join(dir.path, 'api-url'), 'http://127.0.0.1:9\n');
    const stale = memoryIo();
    expect(await run(['peers', 'list', '-d', dir.path], stale)).toBe(3);
    expect(stale.stderr).toContain(`process ${dead} that wrote ${join(dir.path, 'api-url')} has exited`);
    // An --api address nothing listens on (any more): connection refused.
    const port = await closedPort();
    const refused = memoryIo();
    expect(await run(['records', 'list', '-d', dir.path, '--api', `http://127.0.0.1:${port}`], refused)).toBe(3);
    expect(refused.stderr).toContain(`no crmsync node is reachable at http://127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port})`);
  });
});
