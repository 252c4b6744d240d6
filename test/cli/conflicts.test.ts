/**
 * `crmsync conflicts list|show|resolve` against two real nodes started in-process
 * (temp dirs, ports 0) that wrote the same fields apart and then synced: the inbox as a
 * table and as JSON, `conflicts <id>` as `show`, resolving by value and by node (and as
 * a real child process), after which both nodes agree; bad flags and every refusal
 * with its exit code.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { conflictsList, conflictsShow } from '../../src/cli/commands/conflicts.js';
import { peersAdd } from '../../src/cli/commands/peers.js';
import { recordsPut } from '../../src/cli/commands/records.js';
import { startNode, type RunningNode } from '../../src/cli/commands/start.js';
import { status } from '../../src/cli/commands/status.js';
import { run } from '../../src/cli/program.js';
import { initCluster, memoryIo, runCli, tempDir } from './helpers.js';

const QUICK = { reconnectBaseMs: 50, reconnectMaxMs: 500 };
const dirs: Array<{ remove(): Promise<void> }> = [];
const running: RunningNode[] = [];
let berlin: string;
let paris: string;

/** Both nodes hold the same changes. */
async function synced(): Promise<void> {
  await vi.waitFor(async () => {
    expect((await status({ dataDir: berlin }, memoryIo())).clock).toEqual((await status({ dataDir: paris }, memoryIo())).clock);
  }, { timeout: 20_000, interval: 50 });
}

beforeAll(async () => {
  const [b, p] = [await tempDir(), await tempDir()];
  dirs.push(b, p);
  [berlin, paris] = [b.path, p.path];
  await initCluster({ berlin, paris }, { listen: '127.0.0.1:0', api: '127.0.0.1:0', logLevel: 'warn' });
  const [onBerlin, onParis] = await Promise.all([berlin, paris].map((dataDir) => startNode({ dataDir, limits: QUICK }, memoryIo())));
  running.push(onBerlin!, onParis!);
  // Written apart: acme on three fields, beta on its email, calm identically (no conflict).
  const apart: [string, object, object][] = [
    ['acme', { name: 'Acme', email: 'sales@acme.example', custom: { score: 3 }, territory: 'emea', owner: 'anna' },
      { name: 'Acme', email: 'info@acme.example', custom: { score: 4 }, territory: 'emea', owner: 'anna' }],
    ['beta', { name: 'Beta', email: 'a@beta.example', territory: 'apac', owner: 'ben' }, { name: 'Beta', email: 'b@beta.example', territory: 'apac', owner: 'ben' }],
    ['calm', { name: 'Calm', territory: 'emea' }, { name: 'Calm', territory: 'emea' }],
  ];
  for (const [id, onB, onP] of apart) {
    await recordsPut(id, { dataDir: berlin, data: JSON.stringify(onB) }, memoryIo());
    await recordsPut(id, { dataDir: paris, data: JSON.stringify(onP) }, memoryIo());
  }
  await peersAdd(onParis!.peerUrl!, { dataDir: berlin, node: 'paris' }, memoryIo());
  await synced();
});
afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await Promise.all(dirs.map((d) => d.remove()));
});

/** Runs argv against `dataDir` in-process; returns exit code and output. */
async function cli(args: string[], dataDir = berlin) {
  const io = memoryIo();
  const code = await run([...args, '-d', dataDir], io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

describe('conflicts list', () => {
  it('lists the records with open conflicts as a table or JSON, filtered and paged', async () => {
    const table = await cli(['conflicts', 'list']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^ID +NAME +TERRITORY +OWNER +FIELDS +UPDATED +FLAGS$/m);
    expect(table.stdout).toMatch(/^acme +Acme +emea +anna +email, custom\.score /m);
    expect(table.stdout).toMatch(/^beta +Beta +apac +ben +email /m);
    expect(table.stdout).not.toContain('calm');
    expect(table.stderr).toContain(`hint: see the values of one with: crmsync conflicts show acme -d ${berlin}`);

    const json = await cli(['conflicts', 'list', '--json', '--owner', 'ben']);
    expect(JSON.parse(json.stdout)).toEqual({ records: [expect.objectContaining({ id: 'beta', fields: ['email'] })], next: null });
    expect((await conflictsList({ dataDir: berlin, territory: 'emea' }, memoryIo())).records.map((r) => r.id)).toEqual(['acme']);
    const first = await cli(['conflicts', 'list', '--limit', '1', '--json']);
    const page = JSON.parse(first.stdout) as { records: { id: string }[]; next: string };
    expect(page.records.map((r) => r.id)).toEqual(['acme']);
    const second = JSON.parse((await cli(['conflicts', 'list', '--limit', '1', '--cursor', page.next, '--json'])).stdout) as { records: { id: string }[] };
    expect(second.records.map((r) => r.id)).toEqual(['beta']);
    expect((await cli(['conflicts', 'list', '--limit', '1'])).stderr).toContain(`hint: more records: add --cursor ${page.next}`);
  });

  it('refuses bad flags with exit 2, naming the flag', async () => {
    for (const [args, flag] of [
      [['--limit', '-1'], '--limit'], [['--limit', 'abc'], '--limit'], [['--limit', '500'], '--limit'], [['--cursor', '!!!'], '--cursor'],
    ] as const) {
      const bad = await cli(['conflicts', 'list', ...args, '--json']);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(JSON.parse(bad.stderr).error.details, args.join(' ')).toEqual([{ field: flag, message: expect.any(String) }]);
    }
    expect((await cli(['conflicts', 'list', '--limit', '0'])).stderr).toMatch(/^error ERR_VALIDATION: invalid --limit\n {2}--limit: must be a whole number from 1 to 200$/m);
    const unknown = await cli(['conflicts', 'list', '--colour', 'red']);
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining("unknown option '--colour'")]);
  });
});

describe('conflicts show', () => {
  it('prints each value with node, time, author, winner and rule; `conflicts <id>` is the same', async () => {
    const shown = await cli(['conflicts', 'show', 'acme']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^FIELD +VALUE +NODE +TIME +AUTHOR +WINNER +RULE$/m);
    expect(shown.stdout).toMatch(/^email +"sales@acme\.example" +berlin /m);
    expect(shown.stdout).toMatch(/^custom\.score +4 +paris /m);
    expect(shown.stderr).toMatch(/hint: keep one value with: crmsync conflicts resolve acme email --keep \S+ -d /);
    expect((await cli(['conflicts', 'acme'])).stdout).toBe(shown.stdout);
    const json = JSON.parse((await cli(['conflicts', 'acme', '--json'])).stdout) as { conflicts: { field: string }[] };
    expect(json.conflicts.map((c) => c.field)).toEqual(['email', 'custom.score']);
    expect((await conflictsShow('calm', { dataDir: berlin }, memoryIo()))).toEqual([]);
    expect((await cli(['conflicts', 'show', 'missing'])).code).toBe(4);
  });
});

describe('conflicts resolve', () => {
  it('keeps a value by its text or by its node; both nodes then agree and hold no conflict on it', async () => {
    const score = await cli(['conflicts', 'resolve', 'acme', 'custom.score', '--keep', '3', '--json']);
    expect(score.code, score.stderr).toBe(0);
    expect(JSON.parse(score.stdout)).toMatchObject({ field: 'custom.score', kept: { value: 3, node: 'berlin' }, customer: { custom: { score: 3 } } });
    // As users run it: a child process talking to the node's API.
    const email = await runCli(['conflicts', 'resolve', 'acme', 'email', '--keep-node', 'paris', '-d', paris]);
    expect(email.code, email.stderr).toBe(0);
    expect(email.stderr).toContain('Resolved email of acme: kept "info@acme.example" (written by paris).');
    await synced();
    for (const dataDir of [berlin, paris]) {
      const record = JSON.parse((await cli(['records', 'get', 'acme', '--json'], dataDir)).stdout).customer;
      expect(record).toMatchObject({ email: 'info@acme.example', custom: { score: 3 }, conflicts: [] });
      expect(JSON.parse((await cli(['conflicts', 'list', '--json'], dataDir)).stdout).records.map((r: { id: string }) => r.id)).toEqual(['beta']);
    }
  });

  it('refuses with the right exit codes and hints', async () => {
    const neither = await cli(['conflicts', 'resolve', 'beta', 'email']);
    expect([neither.code, neither.stderr]).toEqual([2, expect.stringContaining('give exactly one of --keep <value> and --keep-node <node>')]);
    expect((await cli(['conflicts', 'resolve', 'beta', 'email', '--keep', 'a@beta.example', '--keep-node', 'paris'])).code).toBe(2);
    const notAmong = await cli(['conflicts', 'resolve', 'beta', 'email', '--keep', 'c@beta.example']);
    expect(notAmong.code).toBe(2);
    expect(notAmong.stderr).toContain('"c@beta.example" is not one of the concurrent values of email: ');
    const notAuthor = await cli(['conflicts', 'resolve', 'beta', 'email', '--keep-node', 'lyon', '--json']);
    expect(notAuthor.code).toBe(2);
    expect(JSON.parse(notAuthor.stderr).error).toMatchObject({ message: expect.stringMatching(/^node "lyon" wrote none of the concurrent values of email/), details: [{ field: '--keep-node' }] });
    const calm = await cli(['conflicts', 'resolve', 'calm', 'name', '--keep', 'Calm']);
    expect(calm.code).toBe(5);
    expect(calm.stderr).toMatch(/^error ERR_NOT_CONFLICTED: name of calm holds no concurrent values/m);
    expect(calm.stderr).toContain(`hint: see which fields of the record hold concurrent values with \`crmsync conflicts show <id> -d ${berlin}\``);
    expect((await cli(['conflicts', 'resolve', 'missing', 'email', '--keep', 'x'])).code).toBe(4);
    const field = await cli(['conflicts', 'resolve', 'beta', 'colour', '--keep', 'x', '--json']);
    expect(field.code).toBe(2);
    expect(JSON.parse(field.stderr).error).toMatchObject({ code: 'ERR_VALIDATION', details: [{ field: '<field>', message: 'not a field that can hold concurrent values' }] });
    // Nothing was written by any of them.
    expect((await conflictsShow('beta', { dataDir: berlin }, memoryIo())).map((c) => c.values.length)).toEqual([2]);
  });
});
