/**
 * How far V8 lets the heap of the process a node runs in grow before it collects again.
 *
 * After each full collection V8 sets the next one's threshold at what survived times a
 * factor. Where the heap may grow to V8's default maximum (any machine with a few GB of
 * memory) it picks that factor from its collection speed, up to 4; only on small devices,
 * or under a lower `--max-old-space-size`, does it cap it between 1.3 and 2 (V8's
 * heap-controller.cc, MaxGrowingFactor). A node's live heap is small (about 20 MB after
 * a full collection, whatever the number of records: no per-record state stays in memory),
 * but it allocates fast while it loads, syncs or serves a catch-up, and with a factor of 4
 * V8 lets that garbage pile up to 3 times the live heap before collecting: most of a node's
 * RSS was heap waiting to be collected (at A's peak in the 10,000-record bench, a V8 heap of
 * 132 MB of which 101 counted as used, garbage included).
 *
 * A factor of 2 (V8's own on its largest small devices) is set once per process, by
 * `v8.setFlagsFromString`: V8 reads `heap_growing_percent` each time it computes a new
 * limit (GrowingFactor, where it overrides the dynamic factor), so it applies from the
 * next full collection. Measured on the 2-core machine (10,000 bench records loaded in
 * one process, 3 alternating runs): the heap after the load 83 to 85 MB instead of 103 to 105, RSS 179 to
 * 183 MB instead of 202 to 207, load time within the machine's drift. A region serving 20
 * laptops' catch-ups peaked at 205 MB instead of 255, with 12.4 CPU-seconds instead of 13.2.
 * Only when V8 collects changes, never how much it may hold: no new out-of-memory limit.
 */
import { setFlagsFromString } from 'node:v8';
import { CrmsyncError } from './errors.js';

/** The default: the old generation may grow by 100% past what survived (a factor of 2). */
export const HEAP_GROWTH_PERCENT = 100;
/** Largest value accepted (a factor of 11; V8's own never exceeds 4). */
export const MAX_HEAP_GROWTH_PERCENT = 1000;

/** The V8 flag; Node accepts it with dashes or underscores. */
const FLAG = /--heap[-_]growing[-_]percent\b/;

/** True when the process was started with its own heap growth (`node --heap-growing-percent`, NODE_OPTIONS). */
export function processChoseHeapGrowth(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return execArgv.some((arg) => FLAG.test(arg)) || (nodeOptions !== undefined && FLAG.test(nodeOptions));
}

/** The heap growth a node asks for: `undefined` is the default, `false` leaves V8's own choice. */
export function parseHeapGrowth(value: number | false | undefined): number | false {
  if (value === undefined) return HEAP_GROWTH_PERCENT;
  if (value === false) return false;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_HEAP_GROWTH_PERCENT) {
    throw new CrmsyncError('ERR_VALIDATION', `heapGrowthPercent must be a whole number from 1 to ${MAX_HEAP_GROWTH_PERCENT} (100: collect when the heap doubled), or false to leave V8's own choice; got ${String(value)}`);
  }
  return value;
}

/** What a node's process runs with: the percent set, or why none was. */
export type HeapGrowth = { percent: number; by: 'node' } | { percent: null; by: 'process' | 'v8' };

/**
 * Sets V8's heap growth for this process (process-wide: the last node opened with a number
 * sets it), unless the process was started with its own, which stands.
 */
export function applyHeapGrowth(
  wanted: number | false, process: { execArgv: readonly string[]; env: Record<string, string | undefined> }, setFlags: (flags: string) => void = setFlagsFromString,
): HeapGrowth {
  if (processChoseHeapGrowth(process.execArgv, process.env.NODE_OPTIONS)) return { percent: null, by: 'process' };
  if (wanted === false) return { percent: null, by: 'v8' };
  setFlags(`--heap-growing-percent=${wanted}`);
  return { percent: wanted, by: 'node' };
}
