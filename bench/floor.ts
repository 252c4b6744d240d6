/**
 * The floor, measured in the same run: what storage and transport alone cost for the
 * same bytes as the record data (the N records serialized with msgpackr).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { pack } from 'msgpackr';
import { WebSocket } from 'ws';
import { makeRecord, recordId } from './data.js';
import { tempDir, type Agent } from './ipc.js';

/** The N records as msgpack values. */
export function packedRecords(n: number, seed: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => pack(makeRecord(i, seed)));
}

/** Paced pairs of the floor: an edit every `pacedMs` makes two synced puts, A's and B's. */
const PACED_PAIRS = 100;

/**
 * One LevelDB batch (sync: true) of all records into a fresh directory; then `singles`
 * sequential one-record puts with sync: true (the fsync floor of a durable write); then,
 * with `pacedMs`, pairs of synced puts one after the other, a pair every `pacedMs`: the
 * floor of a paced edit, durable on A and then on B. On this project's VMs a synced put
 * after a pause costs about twice one right after another, so the paced floor is measured
 * paced.
 */
export async function levelFloor(values: Uint8Array[], singles = 200, pacedMs = 0): Promise<{ ms: number; bytes: number; dir: string; putMs: number[]; pairMs: number[] }> {
  const dir = tempDir(mkdtempSync(join(tmpdir(), 'crmsync-bench-floor-')));
  const db = new Level<string, Uint8Array>(join(dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  const ops = values.map((value, i) => ({ type: 'put' as const, key: recordId(i), value }));
  const t0 = performance.now();
  await db.batch(ops, { sync: true });
  const ms = performance.now() - t0;
  const putMs: number[] = [];
  for (let i = 0; i < singles; i++) {
    const t = performance.now();
    await db.put(`single-${i}`, values[i % values.length]!, { sync: true });
    putMs.push(performance.now() - t);
  }
  const pairMs: number[] = [];
  for (let i = 0; pacedMs > 0 && i < PACED_PAIRS; i++) {
    await new Promise((resolve) => setTimeout(resolve, pacedMs));
    const t = performance.now();
    await db.put(`paced-a-${i}`, values[i % values.length]!, { sync: true });
    await db.put(`paced-b-${i}`, values[(i + 1) % values.length]!, { sync: true });
    pairMs.push(performance.now() - t);
  }
  await db.close();
  return { ms, bytes: values.reduce((sum, v) => sum + v.length, 0), dir, putMs, pairMs };
}

/** The same bytes over a loopback WebSocket to another process, in 64 KiB frames. */
export async function wsFloor(sink: Agent, values: Uint8Array[]): Promise<{ ms: number; bytes: number; frames: number }> {
  const all = Buffer.concat(values);
  const { url } = await sink.call<{ url: string }>('wsSink', { bytes: all.length });
  const socket = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const FRAME = 64 * 1024;
  let frames = 0;
  const t0 = performance.now();
  const done = new Promise<void>((resolve) => socket.once('message', () => resolve()));
  for (let off = 0; off < all.length; off += FRAME) {
    socket.send(all.subarray(off, Math.min(all.length, off + FRAME)));
    frames++;
  }
  await done;
  const ms = performance.now() - t0;
  socket.close();
  return { ms, bytes: all.length, frames };
}
