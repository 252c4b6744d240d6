/**
 * Column arrays the codec reuses across calls (decode-ops.ts; encode.ts keeps its columns
 * as segments, encode-columns.ts): encoding and decoding are synchronous and no column
 * array outlives a call, so one array per column serves every change, and a change of a
 * few hundred ops (notes are one op per character) allocates none. Arrays a large change
 * grew past SCRATCH_KEEP entries are dropped after it, so one big change does not hold
 * memory for good.
 */

/** Longest scratch column kept between calls (entries). */
export const SCRATCH_KEEP = 4096;

/** Replaces every array of `scratch` longer than SCRATCH_KEEP with an empty one. */
export function releaseScratch(scratch: Record<string, unknown[]>): void {
  for (const key of Object.keys(scratch)) {
    if (scratch[key]!.length > SCRATCH_KEEP) scratch[key] = [];
  }
}
