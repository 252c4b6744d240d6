/**
 * The customer record schema: what callers may write (validated here, at the
 * boundary, with field-level errors) and what readers get back (RecordView).
 */
import { z } from 'zod';
import { CrmsyncError, type FieldIssue } from '../errors.js';
import type { RecordId } from '../types.js';

/** Pipeline stages a customer can be in. */
export const STAGES = ['lead', 'qualified', 'proposal', 'negotiation', 'customer', 'won', 'lost', 'churned'] as const;
/** One pipeline stage. */
export type Stage = (typeof STAGES)[number];

/** Atomic text fields: one value wins per field; concurrent writes surface as conflicts. */
export const ATOMIC_FIELDS = ['name', 'email', 'phone', 'company', 'title', 'owner', 'territory', 'stage'] as const;
/** Address sub-fields (each atomic on its own, so two people can fix street and city). */
export const ADDRESS_FIELDS = ['street', 'city', 'region', 'postcode', 'country'] as const;

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
const nullable = <T extends z.ZodTypeAny>(schema: T) => schema.nullable().optional();
const customValue = z.union([z.string().max(2000), z.number().finite(), z.boolean()]);
const tag = z.string().trim().min(1).max(64).regex(/^[^\s,]+( [^\s,]+)*$/, 'tags are single words or phrases without commas');

const addressShape = {
  street: nullable(text(200)),
  city: nullable(text(100)),
  region: nullable(text(100)),
  postcode: nullable(text(20)),
  country: nullable(text(56)),
};

const writableShape = {
  name: text(200),
  email: nullable(z.string().trim().toLowerCase().pipe(z.email('must be a valid e-mail address')).pipe(z.string().max(254))),
  phone: nullable(z.string().trim().regex(/^\+?[0-9 ()./-]{3,32}(?:\s*(?:ext\.?|x|;ext=)\s*[0-9]{1,10})?$/i, 'must be a phone number such as +49 30 1234567')),
  company: nullable(text(200)),
  title: nullable(text(200)),
  address: nullable(z.object(addressShape).strict()),
  owner: nullable(text(100)),
  territory: nullable(text(100)),
  stage: nullable(z.enum(STAGES, { error: `must be one of ${STAGES.join(', ')}` })),
  tags: z.array(tag).max(100).optional(),
  notes: z.string().max(100_000).optional(),
  interactions: z.number().int().min(0).max(1e12).optional(),
  custom: z.record(z.string().min(1).max(64), customValue.nullable()).optional(),
};

/** Input to create or replace a record. `name` is required; `id` is generated if absent. */
export const recordInputSchema = z.object({ id: z.string().optional(), ...writableShape }).strict();
/** A field-level update: every field optional; `null` clears a field. */
export const recordPatchSchema = z
  .object({
    ...writableShape,
    name: text(200).optional(),
    address: nullable(z.object(addressShape).strict()),
    /** Tags to add (add-wins against concurrent removes). */
    addTags: z.array(tag).max(100).optional(),
    /** Tags to remove. */
    removeTags: z.array(tag).max(100).optional(),
    /** Adds to the interaction counter (concurrent increments add up). */
    incrementInteractions: z.number().int().min(-1e9).max(1e9).optional(),
  })
  .strict();

/** Validated input for create/put. */
export type RecordInput = z.output<typeof recordInputSchema>;
/** Validated patch. */
export type RecordPatch = z.output<typeof recordPatchSchema>;
/** What callers pass before validation. */
export type RecordInputLike = z.input<typeof recordInputSchema>;
/** What callers pass before validation. */
export type RecordPatchLike = z.input<typeof recordPatchSchema>;

/** A postal address; every part optional. */
export interface Address {
  street?: string;
  city?: string;
  region?: string;
  postcode?: string;
  country?: string;
}

/** The materialised, plain-JSON view of a record as readers see it. */
export interface RecordView {
  id: RecordId;
  name: string;
  email?: string;
  phone?: string;
  company?: string;
  title?: string;
  address: Address;
  owner?: string;
  territory?: string;
  stage?: Stage;
  tags: string[];
  notes: string;
  interactions: number;
  custom: Record<string, string | number | boolean>;
  createdAt: number;
  updatedAt: number;
  deleted: boolean;
  deletedAt?: number;
  /** Field paths that currently hold concurrent values (see conflicts()). */
  conflicts: string[];
}

/** Parses with a schema, turning problems into one ERR_VALIDATION with field details. */
export function validate<T extends z.ZodTypeAny>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details: FieldIssue[] = result.error.issues.map((issue) => ({
    field: issue.path.join('.') || '(root)',
    message: issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message,
  }));
  const summary = details.map((d) => `${d.field}: ${d.message}`).join('; ');
  throw new CrmsyncError('ERR_VALIDATION', `invalid ${what}: ${summary}`, { details });
}
