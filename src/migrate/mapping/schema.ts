/**
 * The mapping file (docs/migration.md): which source columns become which record
 * fields, through which transforms. This is its structure (zod); check.ts adds the
 * checks across fields and load.ts reads a file and reports every problem at once.
 */
import { z } from 'zod';
import { ADDRESS_FIELDS, ATOMIC_FIELDS } from '../../index.js';
import { httpSourceSchema } from '../sources/http-config.js';
import { SOURCE_NAME } from '../import/identity.js';

/** Record fields a mapping may write besides `address.*` and `custom.*`: every atomic field of the record schema, then the rest. */
export const PLAIN_TARGETS: readonly string[] = [...ATOMIC_FIELDS, 'notes', 'interactions', 'tags'];

const CUSTOM_KEY = /^custom\.[^\s.][^\s]{0,63}$/;
const ADDRESS_TARGET = new RegExp(`^address\\.(${ADDRESS_FIELDS.join('|')})$`);

/** True when `target` names a record field a mapping may write. */
export function isTarget(target: string): boolean {
  return PLAIN_TARGETS.includes(target) || ADDRESS_TARGET.test(target) || CUSTOM_KEY.test(target);
}

const scalar = z.union([z.string(), z.number().finite(), z.boolean()]);
const country = z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166 country code such as DE or US');
const customTarget = z.string().regex(CUSTOM_KEY, 'must be a custom field, custom.<key>');

/** Named transforms without options. */
export const SIMPLE_TRANSFORMS = [
  'trim', 'collapse', 'lower', 'upper', 'title', 'email', 'phone', 'date', 'number', 'integer', 'boolean', 'firstName', 'lastName', 'tags',
] as const;

/** What the `phone` step does with a value it cannot normalise. */
export const PHONE_INVALID = ['reject', 'keep'] as const;

/** The options of each transform written as an object, by its one key. */
export const TRANSFORM_OPTIONS = {
  phone: z.strictObject({
    defaultCountry: country.optional(),
    /** 'reject' (default) rejects the row; 'keep' leaves the phone field alone and keeps the raw text in `keepIn`. */
    invalid: z.enum(PHONE_INVALID).optional(),
    /** Where a kept raw value goes (default custom.<field>_raw). */
    keepIn: customTarget.optional(),
  }),
  date: z.strictObject({ format: z.string().min(1) }),
  lookup: z.string().min(1),
  replace: z.strictObject({ pattern: z.string().min(1), with: z.string() }),
} as const;

type Options = { [K in keyof typeof TRANSFORM_OPTIONS]: { [P in K]: z.output<(typeof TRANSFORM_OPTIONS)[K]> } };
/** One transform step: a name, or an object with one key naming the step and its options. */
export type Transform = (typeof SIMPLE_TRANSFORMS)[number] | Options[keyof Options];

/**
 * One step of a field's transform pipeline. Only its outline is checked here; names and
 * options are checked by check.ts, which reports every problem at once with a clear
 * message instead of zod's "invalid input" for a union.
 */
export const transformSchema = z.custom<Transform>(
  (v) => typeof v === 'string' || (typeof v === 'object' && v !== null && !Array.isArray(v)),
  'a transform is a name such as "trim" or an object such as {"date": {"format": "dd.MM.yyyy"}}',
);

/** How one record field is computed. */
export const fieldSpecSchema = z
  .strictObject({
    /** One source column. */
    column: z.string().min(1).optional(),
    /** Several columns joined with `separator` (empty parts are left out). */
    columns: z.array(z.string().min(1)).min(1).optional(),
    separator: z.string().default(' '),
    /** A constant value instead of a column. */
    const: scalar.optional(),
    transforms: z.array(transformSchema).default([]),
    /** Used when the source value is empty. */
    default: scalar.optional(),
    /** Reject the row when the value is empty (and has no default). */
    required: z.boolean().default(false),
    /** What an empty source value does: leave the field as it is ('skip') or clear it. */
    empty: z.enum(['skip', 'clear']).default('skip'),
  })
  .refine((spec) => [spec.column, spec.columns, spec.const].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of column, columns or const',
  });
/** A validated field specification. */
export type FieldSpec = z.output<typeof fieldSpecSchema>;

/** What `--infer` decided about one field, and the evidence (ignored by imports). */
export const decisionSchema = z.strictObject({ field: z.string().optional(), decision: z.string(), why: z.string(), ambiguous: z.boolean().optional() });

/** The whole mapping file's structure; check.ts adds the checks that span fields. */
export const mappingSchema = z.strictObject({
  version: z.literal(1).default(1),
  /** Free text for the people editing the mapping (`--infer` leaves hints here); ignored. */
  comments: z.array(z.string()).optional(),
  /** What `--infer` decided and why; ignored. */
  decisions: z.array(decisionSchema).optional(),
  /** The source's name (identity and state); the CLI's --source-name overrides it. */
  sourceName: z.string().regex(SOURCE_NAME, 'letters, digits, _ . - (1-64)').optional(),
  /** Identity of a row: an external id column, or the mapped e-mail (default). */
  key: z.union([z.strictObject({ column: z.string().min(1) }), z.strictObject({ field: z.literal('email') })]).default({ field: 'email' }),
  /** Column for --incremental: a number (version) or a date/time. */
  watermark: z.strictObject({ column: z.string().min(1), format: z.string().min(1).optional() }).optional(),
  /** Defaults for transforms that need one. */
  defaults: z.strictObject({ phoneCountry: country.optional() }).default({}),
  fields: z.record(z.string(), fieldSpecSchema),
  /** Named lookup tables: source value (matched case-insensitively) to field value. */
  lookups: z.record(z.string().min(1), z.record(z.string(), z.string())).default({}),
  /** Where the rows come from, for sources that need more than a location (an HTTP API). */
  source: z.strictObject({ http: httpSourceSchema }).optional(),
});
/** A validated mapping. */
export type Mapping = z.output<typeof mappingSchema>;
/** A mapping as written in the file. */
export type MappingInput = z.input<typeof mappingSchema>;
