/**
 * The record operations of a node, as the library exposes them: input is validated
 * here, at the boundary (field-level ERR_VALIDATION), and every write goes through the
 * engine's single writer.
 */
import { checkStageMove, movesBack } from '../crdt/merge-policy.js';
import { writeFromInput, writeFromPatch } from '../crdt/record-input.js';
import type { FieldConflict } from '../crdt/record-conflicts.js';
import {
  patchIsInput, recordInputSchema, recordPatchSchema, validate,
  type RecordInputLike, type RecordPatchLike, type RecordView,
} from '../crdt/record-schema.js';
import { CrmsyncError } from '../errors.js';
import type { Limits } from '../limits.js';
import { queryRecords, type RecordQuery } from '../store/query.js';
import type { Store } from '../store/store.js';
import { parseRecordId, type RecordId } from '../types.js';
import type { Engine, HistoryEntry } from './engine.js';
import {
  conflictInbox, resolveConflict,
  type ConflictInboxOptions, type ConflictInboxPage, type ResolveChoice, type ResolveResult,
} from './conflict-inbox.js';
import type { ErasureApi, ErasureView } from '../node-lifecycle.js';

/** Filters and paging for list(); every filter is served from a secondary index. */
export interface ListOptions extends Partial<Omit<RecordQuery, 'limit' | 'cursor'>> {
  limit?: number;
  /** Cursor: the previous page's `next`. */
  after?: string;
}

/** One record of upsertMany. */
export interface UpsertItem {
  id: string;
  fields: RecordPatchLike;
}

/** Outcome of one upsertMany item. */
export interface UpsertResult {
  id: string;
  status: 'created' | 'updated' | 'unchanged' | 'rejected';
  customer?: RecordView;
  /** For rejected items: the error (ERR_VALIDATION with field details). */
  error?: CrmsyncError;
}

/** The record operations of a node. */
export interface RecordsApi {
  /** Creates a record (id generated unless given); fails with ERR_EXISTS if the id exists. */
  create(input: RecordInputLike): Promise<RecordView>;
  /** Creates or fully replaces a record (absent fields are cleared). */
  put(id: string, input: RecordInputLike): Promise<RecordView>;
  /** put(), also saying whether it created the record (no record, not even a deleted one, had that id). */
  putWithOutcome(id: string, input: RecordInputLike): Promise<{ view: RecordView; created: boolean }>;
  /** Field-level update of an existing, non-deleted record. */
  update(id: string, patch: RecordPatchLike): Promise<RecordView>;
  /** Writes a tombstone (restorable). */
  delete(id: string): Promise<RecordView>;
  /** Clears the tombstone. */
  restore(id: string): Promise<RecordView>;
  /** The record, or undefined; deleted records are returned with `deleted: true`. */
  get(id: string): Promise<RecordView | undefined>;
  list(options?: ListOptions): Promise<{ records: RecordView[]; next: string | undefined }>;
  /** Every conflicted field of a record, each with all its concurrent values and their authors. */
  conflicts(id: string): Promise<FieldConflict[]>;
  /** One page of records with open conflicts (from stored views; filters: territory, owner). */
  conflictInbox(options?: ConflictInboxOptions): Promise<ConflictInboxPage>;
  /**
   * Keeps one concurrent value of a conflicted field (by value, or by the node that wrote
   * it) with one new change that supersedes them all. ERR_NOT_CONFLICTED when the field
   * holds no concurrent values; ERR_VALIDATION when the choice names none of them.
   */
  resolveConflict(id: string, field: string, choice: ResolveChoice): Promise<ResolveResult>;
  /**
   * Creates or field-level updates many records in ONE atomic, durable commit: absent
   * records are created (then `name` is required), present ones get only the given
   * fields. Each item reports created/updated/unchanged/rejected; `state` entries (an
   * import watermark) become durable in the same batch. `author` marks the changes in
   * history (e.g. 'import:legacy-crm').
   */
  upsertMany(items: UpsertItem[], options?: { author?: string; state?: Record<string, unknown> }): Promise<UpsertResult[]>;
  history(id: string, options?: { limit?: number }): Promise<HistoryEntry[]>;
  /**
   * Erases a record on every node, for good (GDPR; administrators only, else
   * ERR_UNAUTHORIZED): its document, view, history and change bodies go everywhere, its
   * id can never be written again (ERR_GONE). Idempotent.
   */
  erase(id: string): Promise<ErasureView>;
  /** Every erasure of the cluster, oldest first: who, when, the id's salted hash; never the record. */
  erasures(): ErasureView[];
}

/** Builds the records API over an engine; `assertOpen` guards every call (ERR_CLOSED). */
export function createRecordsApi(engine: Engine, store: Store, limits: Limits, assertOpen: () => void, erasure: ErasureApi): RecordsApi {
  const live = (id: RecordId, current: RecordView | undefined) => {
    if (!current) throw new CrmsyncError('ERR_NOT_FOUND', `record ${id} does not exist`);
    if (current.deleted) throw new CrmsyncError('ERR_NOT_FOUND', `record ${id} is deleted; restore it first`);
    return current;
  };
  const records: RecordsApi = {
    async create(input) {
      assertOpen();
      const valid = validate(recordInputSchema, input, 'record');
      const id = valid.id === undefined ? engine.newRecordId() : parseRecordId(valid.id);
      return engine.write(id, (current) => {
        if (current) throw new CrmsyncError('ERR_EXISTS', `record ${id} already exists; update it, or create without an id`, { details: [{ field: 'id', message: 'already exists' }] });
        return writeFromInput(valid);
      });
    },
    async put(rawId, input) {
      return (await records.putWithOutcome(rawId, input)).view;
    },
    async putWithOutcome(rawId, input) {
      assertOpen();
      const id = parseRecordId(rawId);
      const valid = validate(recordInputSchema, { ...input, id }, 'record');
      let created = false;
      // decide() runs under the record's write lock, so `current` is what this write replaces.
      const view = await engine.write(id, (current) => {
        created = current === undefined;
        checkStageMove(engine.mergePolicies, current?.stage, valid.stage, valid.reopen);
        return writeFromInput(valid);
      });
      return { view, created };
    },
    async update(rawId, patch) {
      assertOpen();
      const id = parseRecordId(rawId);
      const valid = validate(recordPatchSchema, patch, 'patch');
      return engine.write(id, (current) => {
        checkStageMove(engine.mergePolicies, live(id, current).stage, valid.stage, valid.reopen);
        return writeFromPatch(valid);
      });
    },
    async delete(rawId) {
      assertOpen();
      const id = parseRecordId(rawId);
      return engine.write(id, (current) => {
        live(id, current);
        return { deleted: true };
      });
    },
    async restore(rawId) {
      assertOpen();
      const id = parseRecordId(rawId);
      return engine.write(id, (current) => {
        if (!current) throw new CrmsyncError('ERR_NOT_FOUND', `record ${id} does not exist`);
        return { deleted: false };
      });
    },
    async get(rawId) {
      assertOpen();
      return engine.get(parseRecordId(rawId));
    },
    async list(options = {}) {
      assertOpen();
      const { after, limit, ...filters } = options;
      return queryRecords(store, { ...filters, cursor: after, limit: Math.min(Math.max(1, limit ?? 100), limits.maxPageSize) });
    },
    async upsertMany(items, options = {}) {
      assertOpen();
      const prepared = items.map((item) => {
        try {
          const id = parseRecordId(item.id);
          const patch = validate(recordPatchSchema, item.fields, 'record');
          return { id, patch };
        } catch (error) {
          return { id: item.id as RecordId, error };
        }
      });
      const results = await engine.writeMany(
        prepared.map((p) => ({
          id: p.id,
          decide: (current) => {
            if ('error' in p) throw p.error;
            if (!current && !patchIsInput(p.patch)) validate(recordInputSchema, { ...p.patch, id: p.id }, 'record');
            // An import mirrors a source system that decided the stage: a move back is its reopen.
            const write = writeFromPatch(p.patch);
            if (movesBack(current?.stage, p.patch.stage)) write.reopen = true;
            return write;
          },
        })),
        { author: options.author, state: options.state ? Object.entries(options.state) : undefined },
      );
      return results.map((r) => ({
        id: r.id, status: r.status, ...(r.view ? { customer: r.view } : {}),
        ...(r.error ? { error: r.error instanceof CrmsyncError ? r.error : new CrmsyncError('ERR_VALIDATION', String(r.error)) } : {}),
      }));
    },
    async conflicts(rawId) {
      assertOpen();
      return engine.conflicts(parseRecordId(rawId));
    },
    async conflictInbox(options = {}) {
      assertOpen();
      return conflictInbox(store, limits, options);
    },
    async resolveConflict(rawId, field, choice) {
      assertOpen();
      return resolveConflict(engine, rawId, field, choice);
    },
    async history(rawId, options = {}) {
      assertOpen();
      return engine.history(parseRecordId(rawId), Math.min(options.limit ?? 1000, limits.maxHistoryEntries));
    },
    erase: (id) => erasure.erase(id),
    erasures: () => erasure.erasures(),
  };
  return records;
}

