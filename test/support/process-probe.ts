/**
 * Probes of a node running in a child process (test/integration/node-process.ts): its
 * memory, its status, and whether an honest in-process peer still syncs with it both
 * ways. Used by the attack and fuzz tests that bound what an attacker costs the node.
 */
import { expect, vi } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { nextChange, type NodeProcess } from '../integration/helpers.js';

/** Bytes of the process's RSS now, and its peak since the previous call (sampled). */
export interface ProcessMemory {
  rss: number;
  peakRss: number;
}

/** The next line the process prints in answer to `op`. */
async function ask(proc: NodeProcess, op: string): Promise<Record<string, unknown>> {
  const from = proc.lines.length;
  proc.send({ op });
  return proc.waitForLine((l) => op in l && proc.lines.indexOf(l) >= from);
}

/** The process's memory now, with the peak since the previous call. */
export async function memoryOf(proc: NodeProcess): Promise<ProcessMemory> {
  return (await ask(proc, 'memory')).memory as ProcessMemory;
}

/** A fresh status of the process's node. */
export async function statusOf(proc: NodeProcess): Promise<{ clock: Record<string, number>; unknownMessages: number; rejectedConnections: number }> {
  return (await ask(proc, 'status')).status as { clock: Record<string, number>; unknownMessages: number; rejectedConnections: number };
}

let rounds = 0;

/** A write on the process reaches `honest`, and one on `honest` reaches the process. */
export async function honestRoundTrip(proc: NodeProcess, honest: CrmNode): Promise<void> {
  const prefix = `honest${++rounds}`;
  const arrived = nextChange(honest, (e) => e.id === `${prefix}-000000`, 60_000);
  proc.send({ op: 'create', n: 1, prefix });
  await arrived;
  const before = (await honest.status()).clock[honest.id] ?? 0;
  await honest.records.update(`${prefix}-000000`, { company: 'Edited by the honest peer' });
  await vi.waitFor(async () => expect((await statusOf(proc)).clock[honest.id]).toBeGreaterThan(before), { timeout: 60_000, interval: 100 });
}
