/**
 * Anti-entropy through the surfaces a user has: `crmsync verify --peer` (through the
 * running node's HTTP API), POST /v1/verify/peer/{node} with bad input, the
 * anti-entropy line of `crmsync status`, /metrics, and the --anti-entropy-interval
 * flag of `start` (good and bad values).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startNode, type RunningNode } from '../../src/cli/commands/start.js';
import { run } from '../../src/cli/program.js';
import { parsePrometheus } from '../api/helpers.js';
import { initCluster, memoryIo, tempDir } from './helpers.js';

const QUICK = { reconnectBaseMs: 50, reconnectMaxMs: 500 };
const dirs: Array<{ path: string; remove(): Promise<void> }> = [];
let berlin: RunningNode;
let paris: RunningNode;

beforeAll(async () => {
  const [b, p] = [await tempDir(), await tempDir()];
  dirs.push(b, p);
  await initCluster({ berlin: b.path, paris: p.path }, { listen: '127.0.0.1:0', api: '127.0.0.1:0', logLevel: 'silent' });
  berlin = await startNode({ dataDir: b.path, limits: QUICK, antiEntropyInterval: '1h' }, memoryIo());
  paris = await startNode({ dataDir: p.path, limits: QUICK, peers: berlin.peerUrl!, antiEntropyInterval: 'off' }, memoryIo());
  await berlin.node.records.create({ id: 'c-1', name: 'Customer One', territory: 'north' });
  await expectConnected();
});
afterAll(async () => {
  await Promise.all([berlin, paris].map((n) => n?.stop()));
  await Promise.all(dirs.map((d) => d.remove()));
});

async function expectConnected(): Promise<void> {
  await vi.waitFor(async () => expect((await paris.node.records.get('c-1'))?.name).toBe('Customer One'), { timeout: 20_000, interval: 50 });
}

async function cli(args: string[]) {
  const io = memoryIo();
  const code = await run(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

async function api(node: RunningNode, method: string, path: string): Promise<{ status: number; body: unknown; text: string }> {
  const token = node.loaded.config.apiToken!;
  const response = await fetch(new URL(path, node.apiUrl), { method, headers: { authorization: `Bearer ${token}`, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) }, ...(method === 'POST' ? { body: '{}' } : {}) });
  const text = await response.text();
  return { status: response.status, body: response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined, text };
}

describe('crmsync verify --peer', () => {
  it('compares with the connected peer through the running node and prints the counts', async () => {
    const human = await cli(['verify', '-d', dirs[0]!.path, '--peer', 'paris']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/round trips\s+1/);
    expect(human.stdout).toMatch(/records compared\s+1/);
    expect(human.stdout).toMatch(/differing\s+0/);
    const json = await cli(['verify', '-d', dirs[0]!.path, '--peer', 'paris', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ peer: 'paris', differing: 0, remaining: 0, differingIds: [] });
  });

  it('fails with ERR_NOT_FOUND for a node without a session, and refuses --repair beside --peer', async () => {
    const missing = await cli(['verify', '-d', dirs[0]!.path, '--peer', 'tokyo', '--json']);
    expect(missing.code).not.toBe(0);
    expect(JSON.parse(missing.stderr).error.code).toBe('ERR_NOT_FOUND');
    const both = await cli(['verify', '-d', dirs[0]!.path, '--peer', 'paris', '--repair']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--peer always repairs');
  });

  it('POST /v1/verify/peer/{node} answers the result, 404 for an unknown peer and 400 for a bad node id', async () => {
    const ok = await api(berlin, 'POST', '/v1/verify/peer/paris');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ peer: 'paris', differing: 0 });
    expect((await api(berlin, 'POST', '/v1/verify/peer/tokyo')).status).toBe(404);
    const bad = await api(berlin, 'POST', '/v1/verify/peer/Not%20A%20Node');
    expect([bad.status, (bad.body as { error: { code: string } }).error.code]).toEqual([400, 'ERR_VALIDATION']);
  });

  it('shows the last result in status and /metrics, with the configured interval', async () => {
    await cli(['verify', '-d', dirs[0]!.path, '--peer', 'paris']);
    const status = await cli(['status', '-d', dirs[0]!.path]);
    expect(status.stdout).toMatch(/anti-entropy\s+every 3600 s; last \S+ with paris: 0 differing, 0 repaired, 0 remaining, 1 round trips/);
    const parisStatus = await cli(['status', '-d', dirs[1]!.path, '--json']);
    expect(JSON.parse(parisStatus.stdout).antiEntropy).toMatchObject({ intervalMs: 0, last: null });
    const samples = parsePrometheus((await api(berlin, 'GET', '/metrics')).text);
    const value = (name: string, labels: Record<string, string>) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('crmsync_anti_entropy_last', { peer: 'paris', value: 'differing' })).toBe(0);
    expect(value('crmsync_anti_entropy_last', { peer: 'paris', value: 'round_trips' })).toBe(1);
    expect(value('crmsync_anti_entropy_runs_total', { result: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(value('crmsync_anti_entropy_last_timestamp_seconds', { peer: 'paris' })).toBeGreaterThan(0);
  });

  it('refuses a bad --anti-entropy-interval, naming the flag', async () => {
    const bad = await cli(['start', '-d', dirs[1]!.path, '--anti-entropy-interval', 'often']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('flag --anti-entropy-interval "often"');
    const shown = await cli(['config', 'show', '-d', dirs[1]!.path, '--anti-entropy-interval', '90s', '--json']);
    expect(JSON.parse(shown.stdout).values.antiEntropyInterval).toMatchObject({ value: 90_000, source: { kind: 'flag' } });
  });
});
