/**
 * The CLI's conventions as a user meets them: real `crmsync` processes (exit codes, which
 * stream gets what) against a node this test runs in-process (it announces itself in its
 * data directory like `crmsync start`). conventions.test.ts covers every command in-process.
 */
import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init } from '../../src/cli/commands/init.js';
import { startNode, type RunningNode } from '../../src/cli/commands/start.js';
import { memoryIo, REPO_ROOT, runCli, tempDir, type CliResult } from './helpers.js';

let dir: { path: string; remove(): Promise<void> };
let node: RunningNode;
beforeAll(async () => {
  dir = await tempDir();
  await init({ dataDir: dir.path, nodeId: 'lisbon', listen: 'off', api: '127.0.0.1:0', logLevel: 'warn' }, memoryIo());
  node = await startNode({ dataDir: dir.path }, memoryIo());
  await node.node.records.create({ id: 'c1', name: 'Ada' });
});
afterAll(async () => {
  await node.stop();
  await dir.remove();
});

describe('crmsync processes', () => {
  // Cold CLI processes are slow on a loaded 2-core machine: three at a time.
  it('exit codes, and data on stdout, everything else on stderr', { timeout: 240_000 }, async () => {
    const d = ['-d', dir.path];
    const relative = `./never-initialised-${randomBytes(4).toString('hex')}`;
    const [badFlags, badRecord, uninitialised] = await Promise.all([
      runCli(['records', 'list', '--since', 'yesterday', '--limit', '0', '--json', ...d]),
      runCli(['records', 'put', 'bad', ...d, '--data', '{"name":"X","stage":"dreaming","email":"nope"}']),
      runCli(['status', '-d', relative]),
    ]);
    const [badPort, deleted] = await Promise.all([
      runCli(['records', 'list', '--api', 'http://127.0.0.1:6000', '--token', 'x'.repeat(20)]),
      runCli(['records', 'delete', 'c1', ...d]),
    ]);
    const shown: CliResult = await runCli(['records', 'get', 'c1', ...d]);

    // 1, 3: --json errors are one JSON line on stderr, naming the flags; exit 2.
    expect([badFlags.code, badFlags.stdout]).toEqual([2, '']);
    expect(JSON.parse(badFlags.stderr)).toEqual({
      error: {
        code: 'ERR_VALIDATION', message: 'invalid --since, --limit',
        details: [
          { field: '--since', message: expect.stringContaining('milliseconds since the epoch, an ISO date (2024-05-01)') },
          { field: '--limit', message: 'must be a whole number from 1 to 1000' },
        ],
      },
    });
    // 2: each problem once.
    expect(badRecord.code).toBe(2);
    expect(badRecord.stderr.match(/must be one of/g)).toHaveLength(1);
    expect(badRecord.stderr.match(/email: /g)).toHaveLength(1);
    // 5, 6: never initialised: exit 4, and the init command with the -d as typed.
    expect([uninitialised.code, uninitialised.stdout]).toEqual([4, '']);
    expect(uninitialised.stderr).toMatch(/^error ERR_NOT_INITIALISED: .* is not a crmsync data directory/);
    expect(uninitialised.stderr).toContain(`hint: create it with: crmsync init -d ${relative}`);
    await expect(access(join(REPO_ROOT, relative))).rejects.toThrow(/ENOENT/);
    // 8: a port Node's fetch would refuse is tried (the CLI's client is node:http); the
    // failure names the URL and the real cause, not just "fetch failed".
    expect([badPort.code, badPort.stdout]).toEqual([3, '']);
    expect(badPort.stderr).toMatch(/^error ERR_UNREACHABLE: no crmsync node is reachable at http:\/\/127\.0\.0\.1:6000 \(connect ECONNREFUSED 127\.0\.0\.1:6000\)/);
    expect(badPort.stderr).not.toContain('fetch failed');
    // 4, 5: messages and hints on stderr, aimed at the -d given; data on stdout.
    expect([deleted.code, deleted.stdout]).toEqual([0, '']);
    expect(deleted.stderr).toBe(`Deleted c1.\nhint: undo it with: crmsync records restore c1 -d ${dir.path}\n`);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^id +c1\nname +Ada\n/);
    expect(shown.stdout).not.toContain('restore');
    expect(shown.stderr).toBe(`hint: it is deleted; restore it with: crmsync records restore c1 -d ${dir.path}\n`);
  });
});
