/**
 * The default shape of exported records, used when no mapping is given (documented in
 * docs/cli.md under `crmsync export`). CSV gets flat columns; NDJSON gets the record's
 * structure. Both write times as ISO 8601 and leave out `conflicts` (derived state).
 */
import { ADDRESS_FIELDS, ATOMIC_FIELDS, type AtomicField, type RecordView } from '../index.js';

/**
 * Separator of tags in one CSV cell. Tags cannot hold commas or line breaks but may
 * hold ';': the export counts such records (`tagsWithSeparator`) so the user is warned.
 */
export const TAG_SEPARATOR = ';';

/** The atomic field the address follows in exports (so a person's contact details stay together). */
const ADDRESS_AFTER: AtomicField = 'title';

/** The record's top-level fields in export order: the schema's atomic fields with `address` after ADDRESS_AFTER. */
const FIELD_ORDER: readonly (AtomicField | 'address')[] = ATOMIC_FIELDS.flatMap((f) => (f === ADDRESS_AFTER ? [f, 'address' as const] : [f]));

/** The fixed CSV columns before the custom ones. */
export const LEADING_COLUMNS: readonly string[] = [
  'id',
  ...FIELD_ORDER.flatMap((f) => (f === 'address' ? ADDRESS_FIELDS.map((part) => `address.${part}`) : [f])),
  'tags', 'notes', 'interactions',
];
/** The fixed CSV columns after the custom ones. */
export const TRAILING_COLUMNS = ['createdAt', 'updatedAt', 'deleted'] as const;

/** Prefix of a custom field's column. */
export const CUSTOM_PREFIX = 'custom.';

/** The CSV header for the given custom field names (sorted, so runs are comparable). */
export function defaultColumns(customKeys: Iterable<string>): string[] {
  return [...LEADING_COLUMNS, ...[...new Set(customKeys)].sort().map((k) => `${CUSTOM_PREFIX}${k}`), ...TRAILING_COLUMNS];
}

const iso = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());

/** One CSV row (column → cell text) of a record in the default column set. */
export function defaultRow(view: RecordView): Record<string, string> {
  const row: Record<string, string> = {
    id: view.id,
    ...Object.fromEntries(ATOMIC_FIELDS.map((f) => [f, view[f] ?? ''])),
    tags: view.tags.join(TAG_SEPARATOR),
    notes: view.notes,
    interactions: String(view.interactions),
    createdAt: iso(view.createdAt),
    updatedAt: iso(view.updatedAt),
    deleted: String(view.deleted),
  };
  for (const field of ADDRESS_FIELDS) row[`address.${field}`] = view.address[field] ?? '';
  for (const [key, value] of Object.entries(view.custom)) row[`${CUSTOM_PREFIX}${key}`] = String(value);
  return row;
}

/** One NDJSON object of a record: every key present (null when unset), nested as in the record. */
export function defaultObject(view: RecordView): Record<string, unknown> {
  const address: Record<string, string | null> = {};
  for (const field of ADDRESS_FIELDS) address[field] = view.address[field] ?? null;
  return {
    id: view.id,
    ...Object.fromEntries(FIELD_ORDER.map((f) => [f, f === 'address' ? address : (view[f] ?? null)])),
    tags: view.tags,
    notes: view.notes,
    interactions: view.interactions,
    custom: view.custom,
    createdAt: iso(view.createdAt),
    updatedAt: iso(view.updatedAt),
    deleted: view.deleted,
    ...(view.deletedAt === undefined ? {} : { deletedAt: iso(view.deletedAt) }),
  };
}
