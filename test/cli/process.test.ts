/**
 * The real executable: `node bin/crmsync.js init`, then `start` as a child process,
 * other commands as their own processes, SIGTERM for a clean exit 0.
 */
import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duplicateKeys, runCli, startProcess, tempDir, type NodeProcess } from './helpers.js';

let dir: { path: string; remove(): Promise<void> };
let node: NodeProcess | undefined;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  if (node && node.child.exitCode === null) {
    node.child.kill('SIGKILL');
    await node.exited;
  }
  await dir.remove();
});

describe('crmsync as processes', () => {
  // Nine CLI processes (the built bin/crmsync.js): slow on a loaded 2-core machine.
  it('init, start, status, records, peers, SIGTERM', { timeout: 180_000 }, async () => {
    const dataDir = join(dir.path, 'berlin');
    const initialised = await runCli(['init', '--data-dir', dataDir, '--node-id', 'berlin', '--listen', '127.0.0.1:0', '--api', '127.0.0.1:0', '--json']);
    expect(initialised).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(initialised.stdout)).toMatchObject({ nodeId: 'berlin', dataDir });
    expect((await stat(join(dataDir, 'api-token'))).mode & 0o777).toBe(0o600);

    node = await startProcess(['--data-dir', dataDir]);
    expect(node.ready).toMatchObject({ node: 'berlin', pid: node.child.pid });
    expect((await readFile(join(dataDir, 'api-url'), 'utf8')).trim()).toBe(node.ready.api);
    expect((await readFile(join(dataDir, 'crmsync.pid'), 'utf8')).trim()).toBe(String(node.child.pid));
    // Logs are JSON lines on stderr when it is not a terminal (checked at the end).

    const s = await runCli(['status', '--json', '-d', dataDir]);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ nodeId: 'berlin', url: node.ready.url, records: { live: 0, deleted: 0 } });

    const put = await runCli(['records', 'put', 'cust-1', '--json', '-d', dataDir, '--file', '-'], { stdin: '{"name":"Ada Lovelace","stage":"lead"}' });
    expect(put.code).toBe(0);
    expect(JSON.parse(put.stdout).customer).toMatchObject({ id: 'cust-1', name: 'Ada Lovelace' });
    const got = await runCli(['records', 'get', 'cust-1', '--json', '-d', dataDir]);
    expect(JSON.parse(got.stdout).customer).toMatchObject({ id: 'cust-1', stage: 'lead' });
    const listed = await runCli(['records', 'list', '--json', '--all', '-d', dataDir]);
    expect(JSON.parse(listed.stdout)).toMatchObject({ customers: [{ id: 'cust-1' }], next: null });

    const peers = await runCli(['peers', 'add', 'ws://127.0.0.1:9', '--confirm', '-d', dataDir, '--json']);
    expect(peers.code).toBe(0);
    expect(JSON.parse(peers.stdout).peers).toEqual([expect.objectContaining({ url: 'ws://127.0.0.1:9', direction: 'outbound' })]);

    node.child.kill('SIGTERM');
    expect(await node.exited).toEqual({ code: 0, signal: null });
    expect(node.lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain('crmsync stopped');
    // Logs went to stderr, every line JSON without duplicate keys; stdout got nothing.
    expect(node.stdout()).toBe('');
    expect(node.lines.every((line) => line.startsWith('{') && duplicateKeys(line).length === 0)).toBe(true);
    await expect(access(join(dataDir, 'crmsync.pid'))).rejects.toThrow(/ENOENT/);
    await expect(access(join(dataDir, 'api-url'))).rejects.toThrow(/ENOENT/);

    const stopped = await runCli(['records', 'list', '-d', dataDir]);
    expect(stopped.code).toBe(3);
    expect(stopped.stdout).toBe('');
    expect(stopped.stderr).toContain(`no crmsync node is running on ${dataDir}`);
    expect(stopped.stderr).toContain(`crmsync start -d ${dataDir}`);
  });

  it('exits 2 naming the key and source of an invalid value; flags beat env beats file', { timeout: 120_000 }, async () => {
    const dataDir = join(dir.path, 'paris');
    expect((await runCli(['init', '-d', dataDir, '--node-id', 'paris', '--listen', '127.0.0.1:7001'])).code).toBe(0);
    const bad = await runCli(['start', '-d', dataDir], { env: { CRMSYNC_API: 'localhost' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/environment variable CRMSYNC_API="localhost" \(key "api"\): must be host:port/);
    const shown = await runCli(['config', 'show', '--json', '-d', dataDir, '--api', '127.0.0.1:7003'], { env: { CRMSYNC_LISTEN: '127.0.0.1:7002', CRMSYNC_API: '127.0.0.1:7002' } });
    const { values } = JSON.parse(shown.stdout) as { values: Record<string, { value: unknown; source: { kind: string } }> };
    expect(values.nodeId).toMatchObject({ value: 'paris', source: { kind: 'file' } });
    expect(values.listen).toMatchObject({ value: '127.0.0.1:7002', source: { kind: 'env' } });
    expect(values.api).toMatchObject({ value: '127.0.0.1:7003', source: { kind: 'flag' } });
    const usage = await runCli(['records', 'frobnicate']);
    expect(usage.code).toBe(2);
    const help = await runCli(['records', 'list', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:\n {2}\$ crmsync records list --owner alice/);
  });
});
