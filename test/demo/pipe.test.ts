/**
 * `npm run demo | head`, then Ctrl-C: once the reader of its stdout is gone, every
 * write fails with EPIPE. The demo must still stop every node and remove its temp
 * directory (which holds the nodes' API tokens). A real demo process, its stdout
 * closed by the test after start-up, then SIGINT to its process group.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, startDemo, startedNodes, type DemoProcess } from './demo-process.js';

let demo: DemoProcess | undefined;

afterAll(async () => {
  await demo?.interrupt();
});

describe('npm run demo | head', () => {
  it('stops every node and removes its data on Ctrl-C after the reader of its stdout went away', async () => {
    demo = startDemo(['--port', '0', '--customers', '20']);
    await demo.waitFor(/^Dashboard: http:\/\/\S+$/m, 150_000);
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
