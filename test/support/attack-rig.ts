/**
 * What the attack tests (test/integration/attacks-*.test.ts) share: a small cluster of
 * real nodes with captured logs, the check that honest nodes still sync both ways, and
 * the check that no node shows a value anywhere a reader can see one.
 */
import { pack } from 'msgpackr';
import { expect, vi } from 'vitest';
import type { CrmNode, NodeOptions } from '../../src/index.js';
import { Harness, captureLog, listAll, nextChange, waitForConvergence, type CapturedLog, type LogLine } from '../integration/helpers.js';

/** Nodes a, b (dials a) and c (dials b): a hostile peer talks to a; b and c see what a relays. */
export interface Line {
  a: CrmNode;
  b: CrmNode;
  c: CrmNode;
  logs: CapturedLog[];
}

/** Opens the line a <- b <- c with captured logs and waits until it is connected and in sync. */
export async function openLine(h: Harness, options: Partial<NodeOptions> = {}): Promise<Line> {
  const logs = [captureLog(), captureLog(), captureLog()];
  const a = await h.open({ ...options, dataDir: await h.tempDir(), nodeId: 'a', logger: logs[0]!.logger });
  const b = await h.open({ ...options, dataDir: await h.tempDir(), nodeId: 'b', logger: logs[1]!.logger, peers: [a.url!] });
  const c = await h.open({ ...options, dataDir: await h.tempDir(), nodeId: 'c', logger: logs[2]!.logger, peers: [b.url!] });
  await b.records.create({ id: 'victim', name: 'Victim Customer', stage: 'lead', tags: ['vip'] });
  await waitForConvergence([a, b, c]);
  return { a, b, c, logs };
}

/** A session closed by the sync layer (the hostile peer's, or worse, an honest one). */
export const sessionClosed = (l: LogLine): boolean => l.msg === 'closing peer session';

/** Session closes logged by these nodes whose peer is one of `peers` (undefined: a peer not yet authenticated). */
export function closesWith(logs: CapturedLog[], peers: (string | undefined)[]): LogLine[] {
  return logs.flatMap((log) => log.lines.filter((l) => sessionClosed(l) && peers.includes(l.peer as string | undefined)));
}

let counter = 0;

/**
 * Honest writes still travel both ways along `nodes` (first to last and back), and the
 * nodes converge. Call it while or after an attack runs.
 */
export async function expectHonestSync(nodes: CrmNode[]): Promise<void> {
  const first = nodes[0]!;
  const last = nodes[nodes.length - 1]!;
  const id = `honest-${++counter}`;
  const arrived = nextChange(last, (e) => e.id === id);
  await first.records.create({ id, name: `Honest ${counter}` });
  await arrived;
  const back = nextChange(first, (e) => e.id === id && e.origin === last.id);
  await last.records.update(id, { company: `Edited on ${last.id}` });
  await back;
  await waitForConvergence(nodes);
}

/** Everything a reader of `node` can see, as one JSON text: records, conflicts and histories. */
export async function visibleText(node: CrmNode): Promise<string> {
  const records = await listAll(node);
  const parts: unknown[] = [records];
  for (const record of records) {
    parts.push(await node.records.conflicts(record.id), await node.records.history(record.id));
  }
  return JSON.stringify(parts);
}

/** No node shows any of `values` in a record, a conflict or a history. */
export async function expectNeverShown(nodes: CrmNode[], values: string[]): Promise<void> {
  for (const node of nodes) {
    const text = await visibleText(node);
    for (const value of values) expect(text.includes(value), `${node.id} shows ${JSON.stringify(value.slice(0, 40))}`).toBe(false);
  }
}

/** Every node's verify() finds nothing to repair. */
export async function expectVerifyClean(nodes: CrmNode[]): Promise<void> {
  for (const node of nodes) expect(await node.verify(), `verify on ${node.id}`).toMatchObject({ problems: 0 });
}

/** Waits until `node` holds `seq` entries of `origin`. */
export async function holds(node: CrmNode, origin: string, seq: number): Promise<void> {
  await vi.waitFor(async () => expect((await node.status()).clock[origin], `${node.id} holds ${origin}`).toBe(seq), { timeout: 20_000 });
}

/** A `changes` frame whose entries are `n` empty maps, written byte by byte (encoding it would itself take seconds). */
export function emptyMapsFrame(n: number): Buffer {
  const head = Buffer.from(pack({ type: 'changes', epoch: 0, batch: 1 }));
  head[0] = 0x84; // the same map with a fourth key:
  const count = Buffer.alloc(5);
  count[0] = 0xdd; // array32
  count.writeUInt32BE(n, 1);
  return Buffer.concat([head, pack('entries'), count, Buffer.alloc(n, 0x80)]);
}
