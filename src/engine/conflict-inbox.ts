/**
 * The conflict inbox: which records hold concurrent values (listed from the stored
 * views through the conflict index, never from documents), and resolving one field by
 * writing the kept value as one new local change. That change names every concurrent
 * value as its predecessor, so it supersedes them all on every node it reaches.
 */
import type { RecordWrite } from '../crdt/record-doc.js';
import { isConflictField, type ConflictValue, type FieldConflict } from '../crdt/record-conflicts.js';
import type { AtomicField, RecordView } from '../crdt/record-schema.js';
import { CrmsyncError } from '../errors.js';
import type { Limits } from '../limits.js';
import { queryRecords } from '../store/query.js';
import type { Store } from '../store/store.js';
import { parseRecordId } from '../types.js';
import type { Engine } from './engine.js';

/** Records per inbox page when the caller names no limit. */
export const DEFAULT_CONFLICT_PAGE = 50;

/** The `author` of a resolving change in history: it was a person's choice, not an edit. */
export const RESOLVE_AUTHOR = 'conflicts:resolve';

/** Filters and paging of the conflict inbox. */
export interface ConflictInboxOptions {
  territory?: string | undefined;
  owner?: string | undefined;
  /** Records per page, 1 to `maxConflictPageSize` (default 50). */
  limit?: number | undefined;
  /** The previous page's `next`. */
  cursor?: string | undefined;
}

/** One record of the inbox: who it is and which of its fields hold concurrent values. */
export interface ConflictInboxItem {
  id: string;
  name: string;
  territory: string | null;
  owner: string | null;
  /** Field paths in conflict (`email`, `address.city`, `custom.tier`, `deleted`). */
  fields: string[];
  updatedAt: number;
  /** A tombstone can hold conflicts too (a delete concurrent with an edit or a restore). */
  deleted: boolean;
}

/** One page of the inbox, in record id order. */
export interface ConflictInboxPage {
  items: ConflictInboxItem[];
  /** Pass as `cursor` for the next page; undefined on the last one. */
  next: string | undefined;
}

/** Which concurrent value to keep: the value itself, or the one a node wrote. */
export type ResolveChoice = { keep: string | number | boolean } | { keepNode: string };

/** What a resolve did. */
export interface ResolveResult {
  /** The record after the resolving change. */
  customer: RecordView;
  field: string;
  /** The concurrent value that was kept (as it was listed before the change). */
  kept: ConflictValue;
}

/** One page of records with open conflicts. */
export async function conflictInbox(store: Store, limits: Pick<Limits, 'maxConflictPageSize'>, options: ConflictInboxOptions): Promise<ConflictInboxPage> {
  const limit = Math.min(Math.max(1, Math.floor(options.limit ?? DEFAULT_CONFLICT_PAGE)), limits.maxConflictPageSize);
  const page = await queryRecords(store, {
    conflicted: true, includeDeleted: true, territory: options.territory, owner: options.owner, cursor: options.cursor, limit,
  });
  const items = page.records.map((v): ConflictInboxItem => ({
    id: v.id, name: v.name, territory: v.territory ?? null, owner: v.owner ?? null, fields: [...v.conflicts], updatedAt: v.updatedAt, deleted: v.deleted,
  }));
  return { items, next: page.next };
}

/** Keeps one concurrent value of `field` by writing it again; see the file comment. */
export async function resolveConflict(engine: Engine, rawId: string, field: string, choice: ResolveChoice): Promise<ResolveResult> {
  const id = parseRecordId(rawId);
  if (!isConflictField(field)) {
    throw new CrmsyncError('ERR_VALIDATION', `"${field}" is not a field that can hold concurrent values: name one of the atomic fields, address.<part>, custom.<key> or deleted`, {
      details: [{ field: 'field', message: 'not a field that can hold concurrent values' }],
    });
  }
  const conflict = (await engine.conflicts(id)).find((c) => c.field === field);
  if (!conflict) throw notConflicted(id, field);
  const kept = pick(conflict, choice);
  const [result] = await engine.writeMany([{
    id,
    decide: (current) => {
      if (!current) throw new CrmsyncError('ERR_NOT_FOUND', `record ${id} does not exist`);
      // Resolved meanwhile (by a change from a peer, or another resolve): nothing to keep.
      if (!current.conflicts.includes(field)) throw notConflicted(id, field);
      return writeOf(field, kept.value);
    },
  }], { author: RESOLVE_AUTHOR });
  if (result!.status === 'rejected') throw result!.error;
  return { customer: result!.view!, field, kept };
}

function notConflicted(id: string, field: string): CrmsyncError {
  return new CrmsyncError('ERR_NOT_CONFLICTED', `${field} of ${id} holds no concurrent values: there is nothing to resolve`, {
    details: [{ field: 'field', message: 'not in conflict' }],
  });
}

const shown = (v: ConflictValue) => JSON.stringify(v.value);

/**
 * The concurrent value the choice names. `keep` matches a value exactly, or, given as a
 * string, by its text: a command line cannot type the number 3 apart from the text "3".
 */
function pick(conflict: FieldConflict, choice: ResolveChoice): ConflictValue {
  const { field, values } = conflict;
  if ('keepNode' in choice) {
    const by = values.filter((v) => v.node === choice.keepNode);
    if (by.length === 0) {
      throw new CrmsyncError('ERR_VALIDATION', `node "${choice.keepNode}" wrote none of the concurrent values of ${field}; they were written by ${[...new Set(values.map((v) => v.node ?? 'an unknown node'))].join(', ')}`, {
        details: [{ field: 'keepNode', message: 'not the author of a concurrent value' }],
      });
    }
    return single(by, field, 'keepNode');
  }
  const exact = values.filter((v) => v.value === choice.keep);
  const matched = exact.length > 0 ? exact : typeof choice.keep === 'string' ? values.filter((v) => String(v.value) === choice.keep) : [];
  if (matched.length === 0) {
    throw new CrmsyncError('ERR_VALIDATION', `${JSON.stringify(choice.keep)} is not one of the concurrent values of ${field}: ${values.map(shown).join(', ')}`, {
      details: [{ field: 'keep', message: 'not one of the concurrent values' }],
    });
  }
  return single(matched, field, 'keep');
}

/** The one value among `matched` (equal values written by several nodes are one value). */
function single(matched: ConflictValue[], field: string, by: 'keep' | 'keepNode'): ConflictValue {
  const distinct = new Set(matched.map(shown));
  if (distinct.size > 1) {
    throw new CrmsyncError('ERR_VALIDATION', `${by} matches several concurrent values of ${field} (${[...distinct].join(', ')}): name the value exactly, with its type`, {
      details: [{ field: by, message: 'matches several concurrent values' }],
    });
  }
  return matched.find((v) => v.winner) ?? matched[0]!;
}

/** The write that sets `field` to `value`. */
function writeOf(field: string, value: ConflictValue['value']): RecordWrite {
  if (field === 'deleted') return { deleted: value === true };
  const text = value === null ? null : String(value);
  if (field.startsWith('address.')) return { address: { [field.slice('address.'.length)]: text } };
  if (field.startsWith('custom.')) return { custom: { [field.slice('custom.'.length)]: value } };
  return { atomic: { [field as AtomicField]: text } };
}
