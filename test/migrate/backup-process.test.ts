/**
 * The real executable: a `crmsync start` process, then backup and export through its
 * API (`--api` alone finds it through <data-dir>/api-url), "use --api" when the data
 * directory is locked, restore into a new data directory once it stopped (it joins the
 * backup's cluster), and a corrupted file refused with ERR_CORRUPT.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startProcess, tempDir, type NodeProcess } from '../cli/helpers.js';

let dir: { path: string; remove(): Promise<void> };
let node: NodeProcess | undefined;
beforeAll(async () => {
  dir = await tempDir('crmsync-migrate-proc-');
});
afterAll(async () => {
  if (node && node.child.exitCode === null) {
    node.child.kill('SIGKILL');
    await node.exited;
  }
  await dir.remove();
});

describe('backup and restore as processes', () => {
  // Several CLI processes (the built bin/crmsync.js): slow on a loaded 2-core machine.
  it('backs up a running node with --api, restores into a new directory after it stopped', { timeout: 180_000 }, async () => {
    const dataDir = join(dir.path, 'berlin');
    expect((await runCli(['init', '-d', dataDir, '--node-id', 'berlin', '--listen', '127.0.0.1:0', '--api', '127.0.0.1:0'])).code).toBe(0);
    node = await startProcess(['--data-dir', dataDir]);
    const token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim();
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${node.ready.api}/v1/customers`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: `cust-${i}`, name: `Customer, "${i}"`, territory: i % 2 ? 'north' : 'south' }),
      });
      expect(res.status).toBe(201);
    }
    const file = join(dir.path, 'berlin.crmbak');

    const locked = await runCli(['backup', '-d', dataDir, file]);
    expect(locked.code).toBe(5);
    expect(locked.stderr).toMatch(/the node on .* is running; use --api/);

    const made = await runCli(['backup', '-d', dataDir, '--api', file, '--json']);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const summary = JSON.parse(made.stdout) as { founder: string };
    expect(summary).toMatchObject({ nodeId: 'berlin', entries: 20, verified: true, clock: { berlin: 20 }, founder: expect.stringMatching(/^ed25519:/) });

    const exported = await runCli(['export', '-d', dataDir, '--api', '--territory', 'north', '--format', 'ndjson']);
    expect(exported.code).toBe(0);
    const lines = exported.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { id: string; name: string });
    expect(lines).toHaveLength(10);
    expect(lines[0]!.name).toMatch(/^Customer, "\d+"$/);

    node.child.kill('SIGTERM');
    expect(await node.exited).toEqual({ code: 0, signal: null });

    const copy = join(dir.path, 'copy');
    const restored = await runCli(['restore', '-d', copy, '--node-id', 'copy', file, '--json']);
    expect(restored.code).toBe(0);
    // The new data directory joined berlin's cluster (the backup's founder) with a key of its own.
    expect(JSON.parse(restored.stdout)).toMatchObject({
      applied: 20, quarantined: 0, alreadyPresent: 0, records: { live: 20, deleted: 0 }, clock: { berlin: 20 }, backup: { founder: summary.founder },
    });

    const bytes = await readFile(file);
    bytes[bytes.length - 30] = bytes[bytes.length - 30]! ^ 0x10;
    const bad = join(dir.path, 'bad.crmbak');
    await writeFile(bad, bytes);
    const refused = await runCli(['restore', '-d', copy, bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error ERR_CORRUPT: backup file is corrupt/);
    const csv = await runCli(['export', '-d', copy]);
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\r\n').filter(Boolean)).toHaveLength(21);
  });
});
