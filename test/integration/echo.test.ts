/**
 * Live changes are never echoed back to the node they came from: a receiver records
 * what its peer sent before its own commit of those changes tells its sessions.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { Harness, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

const changesSent = async (node: CrmNode) => (await node.status()).peers.reduce((n, p) => n + (p.stats?.changesOut ?? 0), 0);

describe('live edits between two nodes', () => {
  it('cross the link once: the receiver sends none of them back', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a' });
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!] });
    await a.records.create({ id: 'r', name: 'Echo' });
    await waitForConvergence([a, b]);
    const edits = 150;
    for (let i = 0; i < edits; i++) await a.records.update('r', { title: `title ${i}` });
    await b.records.create({ id: 'from-b', name: 'Written on b' });
    const common = await waitForConvergence([a, b]);
    expect(common.clock).toEqual({ a: edits + 1, b: 1 });
    expect(await changesSent(a)).toBe(edits + 1);
    // b sent only its own change; before the fix most of a's live edits came back.
    expect(await changesSent(b)).toBe(1);
  });
});
