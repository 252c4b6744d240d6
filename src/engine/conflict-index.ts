/**
 * Adding the conflict index (store/indexes.ts `conflict`) to a data directory written
 * before it existed. A record in conflict there has no `conflict/open/<id>` key, and a
 * later write does not add it while the record stays in conflict: the store writes
 * only the index keys that differ between the view before and after, and both have it.
 * So the conflict inbox would miss such a record until its conflicts were resolved.
 *
 * Once per data directory, in the background after open, every stored record is read a
 * page of `conflictIndexPageRecords` at a time (memory is one page), and the newest view
 * of each conflicted one has its index keys written again. Each page is one commit
 * through the writer, under the write lock only while its few conflicted records are
 * re-read, so local writes and ingest wait at most one short step. The progress (the
 * last record id read, then `done`) is committed in the same batch as the page's keys,
 * so a crash resumes after the last durable page, and a finished directory is never
 * scanned again.
 */
import type { RecordView } from '../crdt/record-schema.js';
import { CrmsyncError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import type { Writer } from './writer.js';

/** Node state: how far the conflict index migration got. */
export const CONFLICT_INDEX_KEY = 'migration/conflict-index';

/** The stored progress: resume after `after`, or the migration is done. */
export type ConflictIndexProgress = { after: string } | { done: true };

/** What one durable page did. */
export interface ConflictIndexPage {
  /** Records read in this page. */
  scanned: number;
  /** Conflicted records whose index keys this page wrote. */
  indexed: number;
  /** True on the last page: the progress now says done. */
  done: boolean;
}

/** Reads the stored progress; ERR_CORRUPT for a value this version never writes. */
export async function conflictIndexProgress(store: Store): Promise<ConflictIndexProgress | undefined> {
  const value = await store.getState<unknown>(CONFLICT_INDEX_KEY);
  if (value === undefined) return undefined;
  if (typeof value === 'object' && value !== null) {
    if ('done' in value && value.done === true) return { done: true };
    if ('after' in value && typeof value.after === 'string') return { after: value.after };
  }
  throw new CrmsyncError('ERR_CORRUPT', `node state ${CONFLICT_INDEX_KEY} holds an unknown value; delete it to index the conflicts again`);
}

/**
 * The migration as a sequence of pages, each durable before it is yielded; nothing when
 * it is done already. Stopping the iteration between pages is safe (a crash is the
 * same): the next run resumes after the last page yielded.
 */
export async function* conflictIndexPages(store: Store, writer: Writer, pageSize: number): AsyncGenerator<ConflictIndexPage> {
  const progress = await conflictIndexProgress(store);
  if (progress && 'done' in progress) return;
  let after = progress?.after;
  for (;;) {
    // Read outside the lock: the listed views only nominate records, re-read under it.
    const page = await store.listRecords({ ...(after === undefined ? {} : { after }), limit: pageSize, includeDeleted: true });
    const nominated = page.views.filter((v) => v.conflicts.length > 0).map((v) => v.id);
    const marker: ConflictIndexProgress = page.next === undefined ? { done: true } : { after: page.next };
    const staged = await writer.run(async () => {
      let views: RecordView[] = [];
      if (nominated.length > 0) {
        // Every queued commit durable first: a purge queued a moment ago must not have
        // its record's keys written back from the meta it is about to delete.
        await writer.settled();
        views = (await writer.metasFor(nominated)).flatMap((meta) => (meta && meta.view.conflicts.length > 0 ? [meta.view] : []));
      }
      // Commits are written in order: a write queued after this one sees these keys as
      // they are and keeps or deletes them like any other index key.
      return { indexed: views.length, durable: writer.commit({ records: [], entries: [], clock: [], reindex: views, state: [[CONFLICT_INDEX_KEY, marker]] }) };
    });
    await staged.durable; // outside the lock: writes queued meanwhile share its fsync
    yield { scanned: page.views.length, indexed: staged.indexed, done: page.next === undefined };
    if (page.next === undefined) return;
    after = page.next;
  }
}

/** What a run of the migration did. */
export interface ConflictIndexResult {
  /** False when it was already done at open: nothing was read. */
  ran: boolean;
  /** True once every record was read (now, or by an earlier run). */
  done: boolean;
  scanned: number;
  indexed: number;
}

/** Runs the migration to the end, or until `signal` aborts (between pages). */
export async function indexConflicts(store: Store, writer: Writer, pageSize: number, signal?: AbortSignal): Promise<ConflictIndexResult> {
  const result: ConflictIndexResult = { ran: false, done: false, scanned: 0, indexed: 0 };
  for await (const page of conflictIndexPages(store, writer, pageSize)) {
    result.ran = true;
    result.scanned += page.scanned;
    result.indexed += page.indexed;
    result.done = page.done;
    if (signal?.aborted) break;
  }
  if (!result.ran) result.done = true;
  return result;
}

/**
 * Runs the migration in the background (see the file comment); `stop` aborts it between
 * pages and waits for it. A failure is logged, not thrown: the node serves on, and the
 * next open resumes after the last durable page.
 */
export function startConflictIndexing(run: (signal: AbortSignal) => Promise<ConflictIndexResult>, logger: Logger): { stop(): Promise<void> } {
  const abort = new AbortController();
  const running = run(abort.signal).then(
    (result) => {
      if (result.scanned === 0) return; // done before, or a new data directory: nothing to say
      const counts = { scanned: result.scanned, indexed: result.indexed };
      if (result.done) logger.info(counts, 'conflict index complete: records in conflict before it existed are in the inbox');
      else logger.info(counts, 'conflict index migration paused; the next open resumes it');
    },
    (err: unknown) => logger.error({ err }, 'conflict index migration failed; the conflict inbox may miss records in conflict before the index existed'),
  );
  return {
    async stop() {
      abort.abort();
      await running;
    },
  };
}
