/**
 * What an import keeps in the node per source (`upsertMany`'s `state`, so it becomes
 * durable in the same atomic batch as the rows it describes):
 *
 * 1. `watermark` is the highest watermark of the last COMPLETED run; --incremental
 *    reads only rows above it. It moves only in the batch that finishes a run, so a
 *    killed run never raises it past rows it did not commit.
 * 2. `run` describes the run in progress: how far it committed (row position, or last
 *    key for key-ordered SQL reads), the highest watermark seen, and the rejects-file
 *    length matching that point. A restarted import with the same
 *    source fingerprint continues after it; `run` is cleared when the run completes.
 */
import { z } from 'zod';

/** Key of a source's import state in the node. */
export const stateKey = (sourceName: string) => `import:${sourceName}`;

const counts = z.object({ created: z.number(), updated: z.number(), unchanged: z.number(), rejected: z.number() });
/** Created/updated/unchanged/rejected counts. */
export type Counts = z.infer<typeof counts>;
/** All-zero counts. */
export const zeroCounts = (): Counts => ({ created: 0, updated: 0, unchanged: 0, rejected: 0 });

const runState = z.object({
  fingerprint: z.string(),
  incremental: z.boolean(),
  /** Rows of the source consumed and committed (resume by position). */
  ordinal: z.number().int().min(0),
  /** The last committed key value (resume by key). */
  lastKey: z.union([z.string(), z.number()]).optional(),
  /** Highest watermark among committed rows of this run. */
  maxWatermark: z.number().optional(),
  /** Bytes of the rejects file that belong to the committed part. */
  rejectsBytes: z.number().int().min(0).optional(),
});
/** The run in progress. */
export type RunState = z.infer<typeof runState>;

const importState = z.object({
  version: z.literal(1),
  watermark: z.number().optional(),
  run: runState.nullable(),
  /** When the last run completed (ms), for `status`-style reporting. */
  completedAt: z.number().optional(),
});
/** The stored state of one source. */
export type ImportState = z.infer<typeof importState>;

/** Parses stored state; anything unreadable counts as "no state" (a full, idempotent run). */
export function parseState(value: unknown): ImportState {
  const result = importState.safeParse(value);
  return result.success ? result.data : { version: 1, run: null };
}
