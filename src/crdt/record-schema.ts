/**
 * The customer record schema: what callers may write (validated here, at the
 * boundary, with field-level errors) and what readers get back (RecordView).
 */
import { z } from 'zod';
import { DECLINE, fastParse, fastParsed, isPlainObject } from './fast-parse.js';
import { codePointLength } from './change-codec/index.js';
import { validationError } from '../errors.js';
import { MAX_RECORD_ID_LENGTH, RECORD_ID_PATTERN, type RecordId } from '../types.js';

/** Pipeline stages a customer can be in. */
export const STAGES = ['lead', 'qualified', 'proposal', 'negotiation', 'customer', 'won', 'lost', 'churned'] as const;
/** One pipeline stage. */
export type Stage = (typeof STAGES)[number];

/** Whether `s` has at most `max` characters: code points, as zod counts them (a code point is one or two UTF-16 units). */
const fitsLength = (s: string, max: number) => s.length <= max || codePointLength(s) <= max;
/** Trimmed, 1 to `max` characters. */
const text = (max: number) => fastParsed(
  z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`),
  (value) => {
    if (typeof value !== 'string') return DECLINE;
    const trimmed = value.trim();
    return trimmed.length >= 1 && fitsLength(trimmed, max) ? trimmed : DECLINE;
  },
);
/** At most `max` characters, as they are. */
const shortString = (max: number) => fastParsed(z.string().max(max), (value) => (typeof value === 'string' && fitsLength(value, max) ? value : DECLINE));
const nullable = <T extends z.ZodTypeAny>(schema: T) => schema.nullable().optional();
const customValue = z.union([z.string().max(2000), z.number().finite(), z.boolean()]);
const customValueFits = (value: unknown) => (typeof value === 'string' && fitsLength(value, 2000)) || (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean';
/** Custom fields: 1 to 64 characters a key; a string, a finite number or a boolean (or null, to clear one, where `clearable`). */
const customFields = <V extends z.ZodTypeAny>(valueSchema: V, clearable: boolean) => fastParsed(
  z.record(z.string().min(1).max(64), valueSchema),
  (value) => {
    if (!isPlainObject(value) || Object.getOwnPropertySymbols(value).length > 0) return DECLINE;
    const out: Record<string, string | number | boolean | null> = {};
    for (const key of Object.keys(value)) {
      const field = value[key];
      // zod leaves `__proto__` out of its output silently: it decides that one.
      if (key === '__proto__' || key.length === 0 || !fitsLength(key, 64)) return DECLINE;
      if (!customValueFits(field) && !(clearable && field === null)) return DECLINE;
      out[key] = field as string | number | boolean | null;
    }
    return out as Record<string, z.output<V>>;
  },
);
const TAG = /^[^\s,]+( [^\s,]+)*$/;
const parseTag = (value: unknown) => {
  if (typeof value !== 'string') return DECLINE;
  const trimmed = value.trim();
  return trimmed.length >= 1 && fitsLength(trimmed, 64) && TAG.test(trimmed) ? trimmed : DECLINE;
};
const tag = fastParsed(z.string().trim().min(1).max(64).regex(TAG, 'tags are single words or phrases without commas'), parseTag);
/** Up to 100 tags, each trimmed. */
const tagList = fastParsed(z.array(tag).max(100), (value) => {
  if (!Array.isArray(value) || value.length > 100) return DECLINE;
  const out: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const parsed = parseTag(value[i]);
    if (parsed === DECLINE) return DECLINE;
    out.push(parsed);
  }
  return out;
});
/** A whole number from `min` to `max` (all of them safe integers). */
const wholeNumber = (min: number, max: number) => fastParsed(z.number().int().min(min).max(max), (value) => (Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max ? value as number : DECLINE));
const flag = fastParsed(z.boolean(), (value) => (typeof value === 'boolean' ? value : DECLINE));

/** zod's own e-mail pattern, named so that the fast parse tests the very same one. */
const EMAIL = z.regexes.email;
const emailFits = (address: string) => EMAIL.test(address) && fitsLength(address, 254);
/** Digits and separators, then optionally an extension as libphonenumber writes it (`ext. 44`) or as exports do (`x44`, `;ext=44`). */
const PHONE = /^\+?[0-9 ()./-]{3,32}(?:\s*(?:ext\.?|x|;ext=)\s*[0-9]{1,10})?$/i;

/** Longest territory name (territories also name anti-entropy digest groups on the wire). */
export const MAX_TERRITORY_LENGTH = 100;
/** Longest notes text, in characters as zod counts them: code points (a surrogate pair is one). */
export const MAX_NOTES_LENGTH = 100_000;
const notesText = fastParsed(z.string().max(MAX_NOTES_LENGTH), (value) => (typeof value === 'string' && fitsLength(value, MAX_NOTES_LENGTH) ? value : DECLINE));

/**
 * THE record schema: every atomic field and how its values are checked. Input, patch,
 * view, wire and API schemas, the document writer and materialiser, listings and
 * exports are all derived from this table, so a new atomic field is one line here
 * (plus its documentation). Atomic fields are single values: one wins per field, and
 * concurrent writes surface as conflicts.
 */
const ATOMIC = {
  name: text(200),
  email: fastParsed(
    z.string().trim().toLowerCase().pipe(z.email({ pattern: EMAIL, error: 'must be a valid e-mail address' })).pipe(z.string().max(254)),
    (value) => {
      if (typeof value !== 'string') return DECLINE;
      const address = value.trim().toLowerCase();
      return emailFits(address) ? address : DECLINE;
    },
  ),
  phone: fastParsed(
    z.string().trim().regex(PHONE, 'must be a phone number such as +49 30 1234567'),
    (value) => {
      if (typeof value !== 'string') return DECLINE;
      const phone = value.trim();
      return PHONE.test(phone) ? phone : DECLINE;
    },
  ),
  company: text(200),
  title: text(200),
  owner: text(100),
  territory: text(MAX_TERRITORY_LENGTH),
  stage: fastParsed(z.enum(STAGES, { error: `must be one of ${STAGES.join(', ')}` }), (value) => ((STAGES as readonly unknown[]).includes(value) ? value as Stage : DECLINE)),
};

/** Address parts: each atomic on its own, so two people can fix street and city. */
const ADDRESS = {
  street: text(200),
  city: text(100),
  region: text(100),
  postcode: text(20),
  country: text(56),
};

/** One atomic field name. */
export type AtomicField = keyof typeof ATOMIC;
/** One address part name. */
export type AddressField = keyof typeof ADDRESS;
/** Atomic fields, in the order views and exports list them. */
export const ATOMIC_FIELDS = Object.keys(ATOMIC) as AtomicField[];
/** Address sub-fields. */
export const ADDRESS_FIELDS = Object.keys(ADDRESS) as AddressField[];

type Shape = Record<string, z.ZodTypeAny>;
/** Every field of `shape`, optional and nullable (null clears it). */
function clearable<T extends Shape>(shape: T): { [K in keyof T]: z.ZodOptional<z.ZodNullable<T[K]>> } {
  return Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.nullable().optional()])) as never;
}
/** Every field of `shape`, optional. */
function optional<T extends Shape>(shape: T): { [K in keyof T]: z.ZodOptional<T[K]> } {
  return Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as never;
}

const addressShape = clearable(ADDRESS);

const writableShape = {
  ...clearable(ATOMIC),
  name: ATOMIC.name,
  address: nullable(z.object(addressShape).strict()),
  tags: tagList.optional(),
  notes: notesText.optional(),
  interactions: wholeNumber(0, 1e12).optional(),
  custom: customFields(customValue.nullable(), true).optional(),
  /** Lets `stage` move back along the pipeline (the `monotonic` merge policy refuses that otherwise). */
  reopen: flag.optional(),
};

/** Input to create or replace a record. `name` is required; `id` is generated if absent. */
export const recordInputSchema = z.object({ id: fastParsed(z.string(), (value) => (typeof value === 'string' ? value : DECLINE)).optional(), ...writableShape }).strict();
/** A field-level update: every field optional; `null` clears a field. */
export const recordPatchSchema = z
  .object({
    ...writableShape,
    name: text(200).optional(),
    address: nullable(z.object(addressShape).strict()),
    /** Tags to add (add-wins against concurrent removes). */
    addTags: tagList.optional(),
    /** Tags to remove. */
    removeTags: tagList.optional(),
    /** Adds to the interaction counter (concurrent increments add up). */
    incrementInteractions: wholeNumber(-1e9, 1e9).optional(),
  })
  .strict();

/** Keys a patch may carry that a record's input may not (recordInputSchema is strict). */
const PATCH_ONLY_KEYS = ['addTags', 'removeTags', 'incrementInteractions'] as const;

/**
 * Whether a validated patch is, as it stands, a valid input for a new record: it names
 * the record and uses no patch-only key. Every other field has the same schema in both
 * (writableShape), and the patch's values are already that schema's output (trimmed,
 * lower-cased), which it maps to themselves; so parsing it again as an input (~15 µs a
 * record, a tenth of a bulk load) could only repeat the answer. A caller parses anything
 * else, so a missing name or a patch-only key gets the schema's own error.
 * test/crdt/record-schema.test.ts holds this to recordInputSchema on random patches.
 */
export function patchIsInput(patch: RecordPatch): boolean {
  return patch.name !== undefined && PATCH_ONLY_KEYS.every((key) => !(key in patch));
}

/** Validated input for create/put. */
export type RecordInput = z.output<typeof recordInputSchema>;
/** Validated patch. */
export type RecordPatch = z.output<typeof recordPatchSchema>;
/** What callers pass before validation. */
export type RecordInputLike = z.input<typeof recordInputSchema>;
/** What callers pass before validation. */
export type RecordPatchLike = z.input<typeof recordPatchSchema>;


/**
 * The materialised, plain-JSON view of a record as readers see it, derived from the
 * table above. Every stored view satisfies it; the wire and the HTTP API use it too.
 */
export const recordViewSchema = z.object({
  id: z.string().regex(RECORD_ID_PATTERN).max(MAX_RECORD_ID_LENGTH),
  ...optional(ATOMIC),
  // A record only ever written by peers may not have a name yet.
  name: shortString(200),
  address: z.object(optional(ADDRESS)).strict(),
  tags: z.array(shortString(64)),
  notes: notesText,
  interactions: z.number().finite(),
  custom: customFields(customValue, false),
  createdAt: z.number().finite(),
  updatedAt: z.number().finite(),
  deleted: z.boolean(),
  deletedAt: z.number().finite().optional(),
  conflicts: z.array(z.string().max(100)).describe('field paths holding concurrent values (see conflicts())'),
}).strict();

const VIEW_KEYS: ReadonlySet<string> = new Set(Object.keys(recordViewSchema.shape));
const ADDRESS_KEYS: ReadonlySet<string> = new Set(ADDRESS_FIELDS);

/**
 * The view with only the fields this version knows. A view from a newer node may carry
 * more (see the versioning policy): the entry keeps them for relaying, while this node
 * stores and serves what its schema describes; the document holds every field anyway.
 */
export function knownFields(view: RecordView): RecordView {
  const known = (keys: ReadonlySet<string>, value: object) => Object.keys(value).every((key) => keys.has(key));
  if (known(VIEW_KEYS, view) && known(ADDRESS_KEYS, view.address)) return view;
  const pick = <T extends object>(keys: ReadonlySet<string>, value: T) => Object.fromEntries(Object.entries(value).filter(([k]) => keys.has(k))) as T;
  return { ...pick(VIEW_KEYS, view), address: pick(ADDRESS_KEYS, view.address) };
}

const VIEW_ORDER = Object.keys(recordViewSchema.shape);

/**
 * The view with its keys in one order: the schema's for the view and the address, sorted
 * for custom fields. Every node serves equal records as byte-identical JSON, however the
 * view was derived (from the document, from a decoded change, after a merge).
 */
export function canonicalView(view: RecordView): RecordView {
  const out: Record<string, unknown> = {};
  const source = view as unknown as Record<string, unknown>;
  for (const key of VIEW_ORDER) if (source[key] !== undefined) out[key] = source[key];
  for (const key of Object.keys(source)) if (!(key in out) && source[key] !== undefined) out[key] = source[key];
  const address: Record<string, string> = {};
  for (const part of ADDRESS_FIELDS) if (view.address[part] !== undefined) address[part] = view.address[part]!;
  for (const [key, value] of Object.entries(view.address)) if (!(key in address) && value !== undefined) address[key] = value;
  out.address = address;
  out.custom = Object.fromEntries(Object.entries(view.custom).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return out as unknown as RecordView;
}

/** A postal address; every part optional. */
export type Address = RecordView['address'];

/** The materialised, plain-JSON view of a record as readers see it. */
export type RecordView = Omit<z.output<typeof recordViewSchema>, 'id'> & { id: RecordId };

/**
 * Whether `value` passes `schema` (optional or not), as `safeParse` would say, through
 * the schema's fast parse where it has one.
 */
export function valueFits(schema: z.ZodTypeAny, value: unknown): boolean {
  return fastParse(schema, value) !== DECLINE || schema.safeParse(value).success;
}

/**
 * Parses with a schema, turning problems into one ERR_VALIDATION with field details.
 * The schema's fast parse answers first where it can (fast-parse.ts): the same data.
 */
export function validate<T extends z.ZodTypeAny>(schema: T, value: unknown, what: string): z.output<T> {
  const fast = fastParse(schema, value);
  if (fast !== DECLINE) return fast as z.output<T>;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw validationError(what, result.error, 'together');
}
