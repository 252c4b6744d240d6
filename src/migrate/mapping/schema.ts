/**
 * The mapping file (docs/migration.md): which source columns become which record
 * fields, through which transforms; validated with zod so a mistake is reported with
 * its JSON path before any row is read.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ADDRESS_FIELDS, CrmsyncError, STAGES, type FieldIssue } from '../../index.js';

/** Record fields a mapping may write besides `address.*` and `custom.*`. */
export const PLAIN_TARGETS = ['name', 'email', 'phone', 'company', 'title', 'owner', 'territory', 'stage', 'notes', 'interactions', 'tags'] as const;

const CUSTOM_KEY = /^custom\.[^\s.][^\s]{0,63}$/;
const ADDRESS_TARGET = new RegExp(`^address\\.(${ADDRESS_FIELDS.join('|')})$`);

/** True when `target` names a record field a mapping may write. */
export function isTarget(target: string): boolean {
  return (PLAIN_TARGETS as readonly string[]).includes(target) || ADDRESS_TARGET.test(target) || CUSTOM_KEY.test(target);
}

const scalar = z.union([z.string(), z.number().finite(), z.boolean()]);
const country = z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166 country code such as DE or US');

/** Named transforms without options. */
export const SIMPLE_TRANSFORMS = [
  'trim', 'collapse', 'lower', 'upper', 'title', 'email', 'phone', 'date', 'number', 'integer', 'boolean', 'firstName', 'lastName', 'tags',
] as const;

/** One step of a field's transform pipeline. */
export const transformSchema = z.union([
  z.enum(SIMPLE_TRANSFORMS),
  z.strictObject({ phone: z.strictObject({ defaultCountry: country }) }),
  z.strictObject({ date: z.strictObject({ format: z.string().min(1) }) }),
  z.strictObject({ lookup: z.string().min(1) }),
  z.strictObject({ replace: z.strictObject({ pattern: z.string().min(1), with: z.string() }) }),
]);
/** One transform step. */
export type Transform = z.infer<typeof transformSchema>;

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

/** The whole mapping file. */
export const mappingSchema = z
  .strictObject({
    version: z.literal(1).default(1),
    /** Free text for the people editing the mapping (`--infer` leaves hints here); ignored. */
    comments: z.array(z.string()).optional(),
    /** The source's name (identity and state); the CLI's --source-name overrides it. */
    sourceName: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _ . - (1-64)').optional(),
    /** Identity of a row: an external id column, or the mapped e-mail (default). */
    key: z.union([z.strictObject({ column: z.string().min(1) }), z.strictObject({ field: z.literal('email') })]).default({ field: 'email' }),
    /** Column for --incremental: a number (version) or a date/time. */
    watermark: z.strictObject({ column: z.string().min(1), format: z.string().min(1).optional() }).optional(),
    /** Defaults for transforms that need one. */
    defaults: z.strictObject({ phoneCountry: country.optional() }).default({}),
    fields: z.record(z.string(), fieldSpecSchema),
    /** Named lookup tables: source value (matched case-insensitively) to field value. */
    lookups: z.record(z.string().min(1), z.record(z.string(), z.string())).default({}),
  })
  .superRefine((mapping, ctx) => {
    for (const [target, spec] of Object.entries(mapping.fields)) {
      if (!isTarget(target)) {
        ctx.addIssue({ code: 'custom', path: ['fields', target], message: `unknown record field; use ${PLAIN_TARGETS.join(', ')}, address.<${ADDRESS_FIELDS.join('|')}> or custom.<key>` });
      }
      for (const step of spec.transforms) {
        if (typeof step !== 'object' || !('lookup' in step)) continue;
        const table = mapping.lookups[step.lookup];
        if (!table) {
          ctx.addIssue({ code: 'custom', path: ['fields', target, 'transforms'], message: `lookup table "${step.lookup}" is not defined under "lookups"` });
        } else if (target === 'stage') {
          const bad = Object.values(table).filter((v) => !(STAGES as readonly string[]).includes(v));
          if (bad.length > 0) ctx.addIssue({ code: 'custom', path: ['lookups', step.lookup], message: `values must be stages (${STAGES.join(', ')}); not: ${bad.join(', ')}` });
        }
      }
    }
    if ('field' in mapping.key && !mapping.fields.email) {
      ctx.addIssue({ code: 'custom', path: ['key'], message: 'the key is the e-mail, but no field maps "email": map it or set key.column' });
    }
  });
/** A validated mapping. */
export type Mapping = z.output<typeof mappingSchema>;
/** A mapping as written in the file. */
export type MappingInput = z.input<typeof mappingSchema>;

/** Validates a parsed mapping; problems become one ERR_VALIDATION with JSON paths. */
export function parseMapping(value: unknown, where = 'mapping'): Mapping {
  const result = mappingSchema.safeParse(value);
  if (result.success) return result.data;
  const details: FieldIssue[] = result.error.issues.map((issue) => ({ field: issue.path.join('.') || '(root)', message: issue.message }));
  throw new CrmsyncError('ERR_VALIDATION', `invalid ${where}: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`, { details });
}

/** Reads and validates a mapping file. */
export async function loadMapping(path: string): Promise<Mapping> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CrmsyncError('ERR_VALIDATION', `cannot read mapping file ${path}: ${(err as Error).message}`, { cause: err, details: [{ field: 'mapping', message: 'unreadable' }] });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CrmsyncError('ERR_VALIDATION', `mapping file ${path} is not JSON: ${(err as Error).message}`, { cause: err, details: [{ field: 'mapping', message: 'not JSON' }] });
  }
  return parseMapping(json, `mapping file ${path}`);
}
