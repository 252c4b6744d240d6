/**
 * The CLI's conventions (docs/cli.md) through run(), the one exit point, against two
 * nodes started in this process: errors as JSON with --json, each problem said once,
 * flags named as typed, data on stdout and everything else on stderr for every command,
 * hints aimed at the node the user named, uninitialised directories, what `peers remove`
 * cannot undo, and log lines without duplicate keys. (conventions-process.test.ts runs
 * the same conventions as real processes.)
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startNode, type RunningNode } from '../../src/cli/commands/start.js';
import { EXIT } from '../../src/cli/errors.js';
import { run } from '../../src/cli/program.js';
import { duplicateKeys, initCluster, memoryIo, tempDir, type MemoryIo } from './helpers.js';

const QUICK = { reconnectBaseMs: 50, reconnectMaxMs: 500 };
const dirs: Array<{ path: string; remove(): Promise<void> }> = [];
const nodes: Array<{ dataDir: string; running: RunningNode; io: MemoryIo }> = [];

/** startNode with debug logs on an initialised temp dir. */
async function node(dataDir: string) {
  const io = memoryIo();
  const started = { dataDir, running: await startNode({ dataDir, limits: QUICK }, io), io };
  nodes.push(started);
  return started;
}

let berlin: Awaited<ReturnType<typeof node>>;
let paris: Awaited<ReturnType<typeof node>>;
/** Files and directories that are no node's. */
let scratch: string;
beforeAll(async () => {
  const [b, p] = [await tempDir(), await tempDir()];
  dirs.push(b, p);
  // One cluster: berlin founds it and grants paris; both ports 0.
  await initCluster({ berlin: b.path, paris: p.path }, { listen: '127.0.0.1:0', api: '127.0.0.1:0', logLevel: 'debug' });
  [berlin, paris] = await Promise.all([node(b.path), node(p.path)]);
  const dir = await tempDir();
  dirs.push(dir);
  scratch = dir.path;
});
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.running.stop()));
  await Promise.all(dirs.map((d) => d.remove()));
});

/** Runs argv; returns exit code and output. */
async function cli(args: string[], stdin?: string) {
  const io = memoryIo({ stdin });
  const code = await run(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

/** The one JSON error document a failed --json command writes to stderr. */
function jsonError(stderr: string): { code: string; message: string; details?: Array<{ field: string; message: string }>; hint?: string } {
  expect(stderr.trimEnd().split('\n'), stderr).toHaveLength(1);
  return (JSON.parse(stderr) as { error: ReturnType<typeof jsonError> }).error;
}

const occurrences = (text: string, part: string) => text.split(part).length - 1;

describe('--json errors', () => {
  it('are one JSON line on stderr with the stable code, details and hint; stdout stays empty', async () => {
    const missing = await cli(['records', 'get', 'nope', '--json', '-d', berlin.dataDir]);
    expect([missing.code, missing.stdout]).toEqual([4, '']);
    expect(jsonError(missing.stderr)).toMatchObject({ code: 'ERR_NOT_FOUND', message: expect.stringContaining('nope') });

    const invalid = await cli(['records', 'put', 'bad-1', '--json', '-d', berlin.dataDir, '--data', '{"name":"X","stage":"dreaming"}']);
    expect(invalid.code).toBe(2);
    expect(jsonError(invalid.stderr)).toEqual({ code: 'ERR_VALIDATION', message: 'invalid body', details: [{ field: 'stage', message: expect.stringMatching(/^must be one of lead/) }] });

    const usage = await cli(['records', 'list', '--colour', '--json']);
    expect([usage.code, usage.stdout]).toEqual([2, '']);
    expect(jsonError(usage.stderr)).toMatchObject({ code: 'ERR_USAGE', message: "unknown option '--colour'" });

    const badJson = await cli(['records', 'patch', 'x', '--json', '-d', berlin.dataDir, '--data', '{stage:won}']);
    expect(badJson.code).toBe(2);
    expect(jsonError(badJson.stderr)).toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringMatching(/does not parse/), hint: expect.any(String) });

    const unauthorised = await cli(['status', '--json', '-d', berlin.dataDir, '--token', 'x'.repeat(20)]);
    expect(unauthorised.code).toBe(2);
    expect(jsonError(unauthorised.stderr)).toMatchObject({ code: 'ERR_UNAUTHORIZED', hint: expect.stringContaining(`${berlin.dataDir}/api-token`) });
  });
});

describe('validation problems', () => {
  it('are each printed once, under the flag or argument the user typed', async () => {
    const record = await cli(['records', 'put', 'bad-2', '-d', berlin.dataDir, '--data', '{"name":"X","stage":"dreaming","email":"nope"}']);
    expect(record.code).toBe(2);
    expect(record.stderr).toMatch(/^error ERR_VALIDATION: invalid body\n {2}email: .+\n {2}stage: must be one of lead/);
    expect(occurrences(record.stderr, 'must be one of')).toBe(1);

    const list = await cli(['records', 'list', '--since', 'yesterday', '--limit', '0', '-d', berlin.dataDir]);
    expect(list.code).toBe(2);
    expect(list.stderr).toContain('--since: must be milliseconds since the epoch, an ISO date (2024-05-01) or an ISO date-time with offset (2024-05-01T12:00:00Z)');
    expect(list.stderr).toContain('--limit: must be a whole number from 1 to 1000');
    expect(list.stderr).not.toMatch(/updatedSince|(^|\s)limit:/m);
    expect(occurrences(list.stderr, 'whole number')).toBe(1);

    const history = await cli(['history', 'acme', '--limit', 'zero', '--json', '-d', berlin.dataDir]);
    expect(jsonError(history.stderr).details).toEqual([{ field: '--limit', message: 'must be a whole number from 1 to 10000' }]);

    const id = await cli(['records', 'get', 'x'.repeat(129), '-d', berlin.dataDir]);
    expect(id.stderr).toMatch(/^error ERR_VALIDATION: invalid <id>\n {2}<id>: too long\n/);

    const url = await cli(['peers', 'add', 'http://nope', '-d', berlin.dataDir]);
    expect(url.code).toBe(2);
    expect(url.stderr).toBe('error ERR_VALIDATION: invalid <url> "http://nope": must be a WebSocket URL (ws:// or wss://) such as ws://10.0.0.2:7400\n');
  });
});

/** stdout lines that are messages for people, not data. */
const MESSAGE = /^(hint|note|warning|error)\b|^Next steps|^No |^(Saved|Created|Replaced|Deleted|Updated|Restored|Dialing|Stopped) /m;

describe('stdout and stderr', () => {
  it('every command: data (or exactly one JSON document) on stdout, messages and hints on stderr', async () => {
    const d = ['-d', berlin.dataDir];
    const backupFile = join(scratch, 'conventions.crmbak');
    const csv = join(scratch, 'people.csv');
    const mapping = join(scratch, 'people.mapping.json');
    await writeFile(csv, 'Name,E-mail\nAlan Turing,alan@example.com\n');
    await writeFile(mapping, (await cli(['import', '--infer', csv])).stdout);
    const commands: string[][] = [
      ['status', ...d], ['records', 'put', ...d, '--data', '{"name":"Ada","stage":"lead"}'],
      ['records', 'put', 'io-1', ...d, '--data', '{"name":"Grace"}'], ['records', 'put', 'io-1', ...d, '--data', '{"name":"Grace H"}'],
      ['records', 'get', 'io-1', ...d], ['records', 'patch', 'io-1', ...d, '--data', '{"stage":"won"}'],
      ['records', 'list', ...d, '--limit', '1'], ['records', 'list', ...d, '--q', 'nobody-at-all'], ['conflicts', 'io-1', ...d],
      ['conflicts', 'show', 'io-1', ...d], ['conflicts', 'list', ...d],
      ['history', 'io-1', ...d], ['records', 'delete', 'io-1', ...d], ['records', 'get', 'io-1', ...d], ['records', 'restore', 'io-1', ...d],
      ['peers', 'list', ...d], ['config', 'show', ...d], ['verify', ...d, '--api'], ['export', ...d, '--api', '--out', join(scratch, 'out.csv')],
      ['backup', ...d, '--api', backupFile], ['verify-backup', backupFile], ['restore', ...d, '--api', backupFile, '--dry-run'],
      ['import', '--infer', csv], ['import', csv, '--mapping', mapping, ...d, '--api', '--dry-run'],
    ];
    // Twice through the list (delete, get, restore stay in order), once for people and once --json.
    for (const args of commands) {
      const human = await cli(args);
      expect(human.code, `${args.join(' ')}: ${human.stderr}`).toBe(0);
      expect(human.stdout, args.join(' ')).not.toMatch(MESSAGE);
    }
    for (const args of commands) {
      const machine = await cli([...args, '--json']);
      expect(machine.code, `${args.join(' ')} --json: ${machine.stderr}`).toBe(0);
      expect(() => JSON.parse(machine.stdout), `${args.join(' ')} --json: ${machine.stdout}`).not.toThrow();
      expect(machine.stderr, `${args.join(' ')} --json`).toBe('');
    }
    const exported = await cli(['export', ...d, '--api', '--format', 'ndjson']);
    expect(exported.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { id: string }).map((r) => r.id)).toContain('io-1');
    expect(exported.stderr).toMatch(/^exported +\d+$/m);
    const deleted = await cli(['records', 'delete', 'io-1', ...d]);
    expect(deleted.stdout).toBe('');
    expect(deleted.stderr).toBe(`Deleted io-1.\nhint: undo it with: crmsync records restore io-1 -d ${berlin.dataDir}\n`);
    const shown = await cli(['records', 'get', 'io-1', ...d]);
    expect(shown.stdout).toMatch(/^id +io-1$/m);
    expect(shown.stderr).toBe(`hint: it is deleted; restore it with: crmsync records restore io-1 -d ${berlin.dataDir}\n`);
    const created = await cli(['records', 'put', 'io-2', ...d, '--data', '{"name":"Hedy"}']);
    const replaced = await cli(['records', 'put', 'io-2', ...d, '--data', '{"name":"Hedy Lamarr"}']);
    expect([created.stderr, replaced.stderr]).toEqual(['Created io-2.\n', 'Replaced io-2.\n']);
    expect(replaced.stdout).toMatch(/^name +Hedy Lamarr$/m);
    const none = await cli(['records', 'list', ...d, '--q', 'nobody-at-all']);
    expect([none.stdout, none.stderr]).toEqual(['', 'No records match.\n']);
    const initialised = await cli(['init', '-d', join(scratch, 'fresh'), '--node-id', 'fresh']);
    expect(initialised.stdout).toMatch(/^Initialised crmsync node "fresh"/);
    expect(initialised.stderr).toMatch(/^Next steps:\n/);
  });
});

describe('hints', () => {
  it('repeat the -d, -c or --api the user gave, never the token', async () => {
    const token = berlin.running.loaded.config.apiToken!;
    await cli(['records', 'restore', 'io-1', '-d', berlin.dataDir]);
    const viaApi = await cli(['records', 'delete', 'io-1', '--api', berlin.running.apiUrl, '--token', token]);
    expect(viaApi.stderr).toBe(`Deleted io-1.\nhint: undo it with: crmsync records restore io-1 --api ${berlin.running.apiUrl}\n`);
    // As typed, quoted for the shell where needed.
    const quoted = await cli(['records', 'restore', 'io-1', '-d', 'a dir/relative', '--api', berlin.running.apiUrl, '--token', token]);
    expect(quoted.code).toBe(0);
    const again = await cli(['records', 'delete', 'io-1', '-d', 'a dir/relative', '--api', berlin.running.apiUrl, '--token', token]);
    expect(again.stderr).toContain(`crmsync records restore io-1 -d 'a dir/relative' --api ${berlin.running.apiUrl}\n`);
    const config = join(berlin.dataDir, 'crmsync.json');
    const noPeers = await cli(['peers', 'list', '-d', berlin.dataDir, '-c', config]);
    expect(noPeers.stderr).toBe(`No peers. Add one with: crmsync peers add wss://HOST:PORT --node NODE-ID -d ${berlin.dataDir} -c ${config}\n`);
    const locked = await cli(['export', '-d', berlin.dataDir]);
    expect(locked.code).toBe(5);
    expect(locked.stderr).toContain(`hint: crmsync export -d ${berlin.dataDir} --api`);
    const csv = join(scratch, 'hinted people.csv');
    await writeFile(csv, 'Name\nAda\n');
    const inferred = await cli(['import', '--infer', csv, '-d', 'a dir/relative', '--api']);
    expect(inferred.code).toBe(0);
    expect(inferred.stderr).toContain(`then: crmsync import '${csv}' --mapping <file> -d 'a dir/relative' --api\n`);
  });

  it('on a directory that was never initialised: exit 4, run crmsync init -d <dir>', async () => {
    const never = join(scratch, 'never initialised');
    // import and restore may create a node's database (with --node-id): their own path to this answer.
    const csv = join(scratch, 'uninitialised.csv');
    const mapping = join(scratch, 'uninitialised.mapping.json');
    await writeFile(csv, 'Name\nAda\n');
    await writeFile(mapping, JSON.stringify({ sourceName: 'u', key: { column: 'Name' }, fields: { name: { column: 'Name' } } }));
    const importing = ['import', csv, '--mapping', mapping];
    const backupFile = join(scratch, 'uninitialised.crmbak');
    expect((await cli(['backup', '-d', berlin.dataDir, '--api', backupFile])).code).toBe(0);
    const restoring = ['restore', backupFile];
    for (const command of [['status'], ['records', 'list'], ['peers', 'list'], ['start'], ['export'], ['verify'], importing, [...importing, '--dry-run'], restoring]) {
      const result = await cli([...command, '-d', never]);
      expect(result.code, command.join(' ')).toBe(4);
      expect(result.stderr, command.join(' ')).toContain(`is not a crmsync data directory`);
      expect(result.stderr, command.join(' ')).toContain(`hint: create it with: crmsync init -d '${never}'`);
    }
    // Refused before anything was created.
    expect(await stat(never).then(() => true, () => false)).toBe(false);
    const json = await cli(['status', '-d', never, '--json']);
    expect(jsonError(json.stderr)).toMatchObject({ code: 'ERR_NOT_INITIALISED', hint: expect.stringContaining('crmsync init -d') });
    // Initialised but stopped is another matter: exit 3, start it. (Its own directory: the
    // test does not depend on what another test initialised.)
    const stopped = join(scratch, 'stopped');
    expect((await cli(['init', '-d', stopped, '--node-id', 'stopped'])).code).toBe(0);
    const notRunning = await cli(['status', '-d', stopped]);
    expect(notRunning.code).toBe(3);
    expect(notRunning.stderr).toContain(`hint: start it with: crmsync start -d ${stopped}`);
  });
});

describe('exit codes', () => {
  it('crmsync --help and the table in docs/cli.md list every exit code the CLI uses', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    const summary = help.stdout.slice(help.stdout.indexOf('Exit codes:')).replace(/\s+/g, ' ');
    const table = await readFile(new URL('../../docs/cli.md', import.meta.url), 'utf8');
    const documented = [...table.slice(table.indexOf('## Exit codes'), table.indexOf('## Output and errors')).matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
    expect(documented).toEqual(Object.values(EXIT));
    for (const code of Object.values(EXIT)) expect(summary).toMatch(new RegExp(`[:,] ${code} [a-z]`));
  });
});

describe('connection failures', () => {
  it('name the URL and the real cause, never just "fetch failed"', async () => {
    const token = ['--token', 'x'.repeat(20)];
    // The CLI's own client is node:http, which refuses no port: a port Node's fetch would
    // refuse ("bad port") is tried like any other, and the refusal names address and cause.
    const badPort = await cli(['records', 'list', '--api', 'http://127.0.0.1:10080', ...token]);
    expect(badPort.code).toBe(3);
    expect(badPort.stderr).toMatch(/^error ERR_UNREACHABLE: no crmsync node is reachable at http:\/\/127\.0\.0\.1:10080 \(connect ECONNREFUSED 127\.0\.0\.1:10080\)/);
    const json = await cli(['status', '--api', 'http://127.0.0.1:6000', ...token, '--json']);
    expect(jsonError(json.stderr)).toMatchObject({ code: 'ERR_UNREACHABLE', message: expect.stringContaining('ECONNREFUSED 127.0.0.1:6000') });
    // (A refused connection names its address too: commands.test.ts, "a node that is not running".)
    // The importer's own HTTP client says "fetch failed": the cause is added.
    const csv = join(scratch, 'one.csv');
    await writeFile(csv, 'Name\nAda\n');
    await writeFile(join(scratch, 'one.mapping.json'), JSON.stringify({ key: { column: 'Name' }, fields: { name: { column: 'Name' } } }));
    const imported = await cli(['import', csv, '--mapping', join(scratch, 'one.mapping.json'), '--api', 'http://127.0.0.1:6000', ...token]);
    expect(imported.code).toBe(3);
    expect(imported.stderr).toMatch(/cannot reach the node at http:\/\/127\.0\.0\.1:6000: fetch failed \(bad port\)\n/);
  });
});

describe('peers remove', () => {
  it('says the other node may still dial this one, and how to remove it there', async () => {
    expect((await cli(['peers', 'add', paris.running.peerUrl!, '--node', 'paris', '-d', berlin.dataDir])).code).toBe(0);
    await cli(['records', 'put', 'synced', '-d', berlin.dataDir, '--data', '{"name":"Synced"}']);
    await vi.waitFor(async () => expect((await cli(['records', 'get', 'synced', '-d', paris.dataDir])).code).toBe(0), { timeout: 20_000, interval: 50 });
    const removed = await cli(['peers', 'remove', paris.running.peerUrl!, '-d', berlin.dataDir]);
    expect([removed.code, removed.stdout]).toEqual([0, '']);
    expect(removed.stderr).toContain(`Stopped dialing ${paris.running.peerUrl}.`);
    expect(removed.stderr).toMatch(/^note: this only changes this node \(berlin\)\. If the node at .* lists this one among its own peers, it goes on dialing/m);
    expect(removed.stderr).toContain(`hint: to stop that, remove this node on that one too: crmsync peers remove ${berlin.running.peerUrl} -d <its data dir>`);
    const json = await cli(['peers', 'remove', paris.running.peerUrl!, '-d', berlin.dataDir, '--json']);
    expect(json.code).toBe(4);
  });
});

describe('log lines', () => {
  it('have no duplicate keys (child bindings and call fields), across sync, the API and event streams', async () => {
    const events = await fetch(`${berlin.running.apiUrl}/v1/events`, { headers: { authorization: `Bearer ${berlin.running.loaded.config.apiToken}` } });
    await events.body!.cancel();
    await cli(['records', 'get', 'nobody', '-d', berlin.dataDir]);
    await vi.waitFor(() => expect(berlin.io.logs.some((l) => l.msg === 'event stream closed')).toBe(true));
    const lines = [...berlin.io.rawLogs, ...paris.io.rawLogs];
    const components = new Set(lines.map((l) => (JSON.parse(l) as { component?: string }).component));
    // The lines checked come from every part that logs: sync sessions, the API, its event streams.
    expect([...components]).toEqual(expect.arrayContaining(['sync', 'api', 'api.events']));
    expect(lines.map((l) => duplicateKeys(l)).flat()).toEqual([]);
  });
});
