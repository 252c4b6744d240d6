/**
 * Runs the scripted story exactly as a user would (`npm run demo -- --story`, i.e.
 * `node dist/demo/run.js --story`) in a real child process: five node processes, real
 * sockets, real LevelDB, every node driven over its HTTP API.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startDemo, type DemoProcess } from './demo-process.js';

let demo: DemoProcess | undefined;

afterAll(async () => {
  // If the test timed out, stop the demo's whole process group (it cleans up on SIGINT).
  await demo?.interrupt();
});

describe('npm run demo -- --story', () => {
  it('tells the story and ends with all five nodes converged', async () => {
    demo = startDemo(['--story']);
    const code = await demo.closed;
    const stdout = demo.stdout();

    expect(code, `demo failed:\n${stdout}\n${demo.stderr()}`).toBe(0);
    expect(stdout).toMatch(/^CONVERGED: all 5 nodes hold identical records \(digest [0-9a-f]{16}\)$/m);
    // The story's key outcomes are printed: the merged record and its conflict.
    expect(stdout).toContain('All 5 nodes return exactly this record.');
    expect(stdout).toMatch(/"Chief Procurement Officer" {2}written by laptop-anna/);
    expect(stdout).toMatch(/"VP Purchasing & Logistics" {2}written by berlin/);
    expect(stdout).toContain('All 5 nodes report the same conflict values and the same winner');
    expect(stdout).toMatch(/london has it \d+ ms later, relayed by newyork|london has it [\d.]+ s later, relayed by newyork/);
    expect(stdout).toContain('stays deleted everywhere');
    // No node logs leak into the output, and the temp data is gone afterwards.
    expect(stdout).not.toMatch(/"level":\d+/);
    const dataDir = /\(data under (\S+)\)/.exec(stdout)?.[1];
    expect(dataDir).toBeDefined();
    expect(existsSync(dataDir!)).toBe(false);
  }, 180_000);
});
