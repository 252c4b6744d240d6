/**
 * `npm run demo | head`, then Ctrl-C: once the reader of its stdout is gone, every
 * write fails with EPIPE. The demo must still stop every node and remove its temp
 * directory (which holds the nodes' API tokens). A real demo process, its stdout
 * closed by the test after start-up, then SIGINT to its process group. It listens on
 * 0.0.0.0, so the warning about a dashboard beyond loopback is checked as printed too.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { alive, startDemo, startedNodes, type DemoProcess } from './demo-process.js';

let demo: DemoProcess | undefined;

afterAll(async () => {
  await demo?.interrupt();
});

describe('npm run demo | head', () => {
  it('stops every node and removes its data on Ctrl-C after the reader of its stdout went away', async () => {
    // Bound beyond loopback: the warning goes to stderr, before the URL (demo fake data only).
    demo = startDemo(['--port', '0', '--customers', '20', '--host', '0.0.0.0']);
    await demo.waitFor(/^Dashboard: http:\/\/\S+$/m, 150_000);
    await vi.waitFor(() => expect(demo!.stderr()).toMatch(/^WARNING: the dashboard listens on 0\.0\.0\.0, beyond this machine\. .* Use --host 127\.0\.0\.1 to keep it local\.$/m), { timeout: 10_000 });
    expect(demo.stdout()).not.toContain('WARNING');
    const { dataDir, pids } = startedNodes(demo.stdout());
    expect(dataDir).toBeDefined();
    expect(existsSync(dataDir!)).toBe(true);
    expect(pids).toHaveLength(5);

    demo.closeStdout();
    // The SIGINT handler's first act used to be a console.log, whose EPIPE killed the demo.
    expect(await demo.interrupt(), demo.stderr()).toBe(0);
    expect(demo.stderr()).not.toMatch(/EPIPE|crashed/);
    expect(existsSync(dataDir!)).toBe(false);
    for (const pid of pids) expect(alive(pid), `node process ${pid} still running`).toBe(false);
  }, 180_000);
});
