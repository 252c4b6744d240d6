/**
 * "One region, K laptops" (issue 9), run by `npm run bench -- --fanout 10,50`: a region
 * holding N records, K laptop processes dialling it at once. Reports the time to the
 * first and the last complete laptop, the region's peak RSS (sampled), and the reconnect
 * storm: every laptop edits offline, then all reconnect at once until all are settled.
 */
import { join } from 'node:path';
import type { MemberOptions } from '../src/testing.js';
import { editsOn } from './data.js';
import type { PeakParts } from './agent.js';
import { Agent } from './ipc.js';
import { int, ms, percentile, verdict, type Row } from './table.js';

/** Offline edits per laptop before the reconnect storm. */
const STORM_EDITS = 20;
/** Region memory target with 50 laptops catching up (issue 9). */
const REGION_RSS_TARGET_MB = 300;

/** An agent's `usage` reply (bench/agent.ts). */
export type Usage = { cpuMs: number; maxRssKb: number; sampledPeakMb: number; peak: PeakParts };

/** V8's committed heap at the sampled peak, and in use (garbage not yet collected included). */
export function peakHeap(u: Usage): string {
  return `${u.peak.v8HeapMb.toFixed(0)} (${u.peak.v8UsedMb.toFixed(0)}) MB`;
}

/** RSS at the sampled peak that is neither file-backed, V8's heap nor buffers. */
export function peakNative(u: Usage): string {
  return `${(u.sampledPeakMb - u.peak.fileMb - u.peak.v8HeapMb - u.peak.buffersMb).toFixed(0)} MB`;
}

/** Runs one fanout of `k` laptops against `region` (already loaded with n records, listening at url). */
export async function fanout(
  region: Agent, url: string, n: number, k: number, root: string, member: (id: string) => MemberOptions, log: (m: string) => void,
): Promise<Row[]> {
  log(`fanout: starting ${k} laptops`);
  const laptops = await Promise.all(Array.from({ length: k }, (_, i) => Agent.start(`laptop-${i}`)));
  try {
    await Promise.all(laptops.map((l, i) => l.call('open', { dataDir: join(root, `fan-${k}-${i}`), member: member(`laptop-${k}-${i}`) })));
    await Promise.all(laptops.map((l) => l.call('watchIds', { target: n })));
    const { rssMb: regionStartMb, v8HeapMb: regionStartHeapMb } = await region.call<{ rssMb: number; v8HeapMb: number }>('resetRss');
    // CPU each laptop spent before dialling (process start, opening its store): not the catch-up's.
    const cpuBefore = await Promise.all(laptops.map((l) => l.call<Usage>('usage')));
    const start = performance.timeOrigin + performance.now();
    await Promise.all(laptops.map((l) => l.call('addPeer', { url })));
    // Catch-ups are CPU work on the laptops (all on this host), so the wait grows with k.
    const timeoutMs = Math.max(300_000, n * k);
    const done = await Promise.all(laptops.map((l) => l.call<{ at: number; seen: number }>('waitIds', { timeoutMs })));
    const complete = done.filter((d) => d.seen >= n).map((d) => d.at - start).sort((a, b) => a - b);
    const regionUsage = await region.call<Usage>('usage');
    const catchUpCpu = (await Promise.all(laptops.map((l) => l.call<Usage>('usage'))))
      .map((u, i) => u.cpuMs - cpuBefore[i]!.cpuMs).sort((a, b) => a - b);
    const first = complete[0] ?? NaN;
    const last = complete.length === k ? complete[complete.length - 1]! : NaN;
    const rows: Row[] = [
      [`fanout: region, ${k} laptops`, `${complete.length}/${k} laptops hold all ${int(n)}`, `first ${ms(first)}`, `last ${ms(last)}`, '-', complete.length === k ? '' : 'FAIL', '-', '-'],
      ['   region peak RSS (sampled)', `during the ${k} catch-ups (${regionStartMb.toFixed(0)} MB before them, V8 heap ${regionStartHeapMb.toFixed(0)} MB)`, `${regionUsage.sampledPeakMb.toFixed(0)} MB`, `file ${regionUsage.peak.fileMb.toFixed(0)} MB, heap ${peakHeap(regionUsage)}, buffers ${regionUsage.peak.buffersMb.toFixed(0)} MB, native ${peakNative(regionUsage)}`, `< ${REGION_RSS_TARGET_MB} MB`,
        verdict(regionUsage.sampledPeakMb, REGION_RSS_TARGET_MB), '-', '-'],
      ['   laptop CPU per catch-up', `from dialling to holding all ${int(n)}`, `p50 ${ms(percentile(catchUpCpu, 50))}`, `${ms(catchUpCpu[0]!)} to ${ms(catchUpCpu[catchUpCpu.length - 1]!)}`, '-', '', '-', '-'],
    ];
    if (complete.length < k) {
      // The storm edits records every laptop must hold: without them it cannot run.
      log(`fanout: only ${complete.length}/${k} laptops complete after ${ms(timeoutMs)}; no reconnect storm`);
      return [...rows, ['   reconnect storm', 'not run: not every laptop caught up', '-', '', '-', '', '-', '-']];
    }
    log(`fanout: ${k}/${k} laptops complete; reconnect storm`);

    // Every laptop edits offline, then all come back at once.
    await Promise.all(laptops.map((l) => l.call('removePeer', { url })));
    await Promise.all(laptops.map((l) => l.call('waitNoSession', { timeoutMs: 30_000 })));
    await Promise.all(laptops.map((l, i) => l.call('edits', { edits: editsOn(n, STORM_EDITS, i * STORM_EDITS, 7, 'title', `storm-${i}`), concurrency: 1 })));
    const stormStart = performance.timeOrigin + performance.now();
    await Promise.all(laptops.map((l) => l.call('addPeer', { url })));
    // Settled on every laptop: its session with the region has nothing behind or ahead.
    const settled = await Promise.all(laptops.map((l) => l.call<{ at: number }>('waitSettled', { timeoutMs: 300_000, everyMs: 20 })));
    const stormMs = Math.max(...settled.map((s) => s.at)) - stormStart;

    return [...rows, ['   reconnect storm', `${k} x ${STORM_EDITS} offline edits, all reconnect`, ms(stormMs), 'until every laptop settled', '-', '', '-', '-']];
  } finally {
    await Promise.all(laptops.map((l) => l.stop()));
  }
}
