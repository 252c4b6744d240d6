/**
 * Runs the demo exactly as a user would (`npx tsx demo/run.ts`, i.e. `npm run demo`)
 * in a real child process: three node processes, real sockets, real LevelDB.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let child: ChildProcess | undefined;

afterAll(() => {
  // If the test timed out, stop the demo's whole process group (it cleans up on SIGINT).
  if (child?.pid && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGINT');
});

describe('npm run demo', () => {
  it('tells the story and ends with all three nodes converged', async () => {
    child = spawn('npx', ['tsx', 'demo/run.ts'], {
      cwd: ROOT,
      env: { ...process.env, CI: '1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child!.once('error', reject);
      child!.once('close', (exitCode) => resolve(exitCode));
    });

    expect(code, `demo failed:\n${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toMatch(/^CONVERGED: all 3 nodes hold identical records \(digest [0-9a-f]{16}\)$/m);
    // The story's key outcomes are printed.
    expect(stdout).toContain('written by laptop-anna');
    expect(stdout).toContain('written by berlin');
    expect(stdout).toContain('stays deleted everywhere');
    // No node logs leak into the output, and the temp data is gone afterwards.
    expect(stdout).not.toMatch(/"level":\d+/);
    const dataDir = /\(data under (\S+)\)/.exec(stdout)?.[1];
    expect(dataDir).toBeDefined();
    expect(existsSync(dataDir!)).toBe(false);
  }, 120_000);
});
