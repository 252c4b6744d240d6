/**
 * Runs a mapping over one source row: the record patch, the row's identity key and its
 * watermark, or the first field that failed and why. Pure.
 */
import type { RecordPatchLike } from '../../index.js';
import type { FieldSpec, Mapping } from './schema.js';
import { applyTransform, KeepRawValue, parseDateValue, TransformError, type Value } from './transforms.js';

/** What identifies a row: a column's value, or the mapped e-mail. */
export type KeySpec = Mapping['key'];

/** A value a lenient step kept raw: which field it was for and where it went. */
export interface KeptValue {
  field: string;
  keptIn: string;
}

/** The outcome of mapping one row. */
export type MappedRow =
  | { ok: true; patch: RecordPatchLike; key: string; kept: KeptValue[] }
  | { ok: false; field: string; reason: string };

/** Where a kept raw value of `target` goes by default: custom.phone_raw for phone. */
export const keptRawTarget = (target: string) => `custom.${target.replace(/^custom\./, '').replace(/\./g, '_')}_raw`;

const isEmpty = (value: unknown): boolean =>
  value === undefined || value === null || (typeof value === 'string' && value.trim() === '') || (Array.isArray(value) && value.length === 0);

/** A source cell as a transform input; objects (JSON sub-trees) become JSON text. */
function cell(value: unknown): Value {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map((v) => String(v));
  return JSON.stringify(value);
}

/** The raw value a field spec reads, before transforms (undefined when empty). */
function sourceValue(spec: FieldSpec, values: Record<string, unknown>): Value | undefined {
  if (spec.const !== undefined) return spec.const;
  if (spec.columns) {
    const parts = spec.columns.map((c) => values[c]).filter((v) => !isEmpty(v)).map((v) => String(cell(v)).trim());
    return parts.length === 0 ? undefined : parts.join(spec.separator);
  }
  const value = values[spec.column!];
  return isEmpty(value) ? undefined : cell(value);
}

/** Computes one field's value: undefined = leave the field alone, null = clear it. */
export function fieldValue(target: string, spec: FieldSpec, values: Record<string, unknown>, mapping: Mapping): Value | null | undefined {
  let value = sourceValue(spec, values);
  if (value === undefined && spec.default !== undefined) value = spec.default;
  if (value === undefined) {
    if (spec.required) throw new TransformError(`required value is empty${spec.column ? ` (column "${spec.column}")` : ''}`);
    return spec.empty === 'clear' ? null : undefined;
  }
  for (const step of spec.transforms) value = applyTransform(step, value, mapping);
  if (isEmpty(value)) return spec.empty === 'clear' ? null : undefined;
  return coerce(target, value);
}

/** Makes a value fit its target field's type. */
function coerce(target: string, value: Value): Value {
  if (target === 'tags') return Array.isArray(value) ? value : applyTransform('tags', value, {} as Mapping);
  if (target === 'interactions') return typeof value === 'number' ? value : applyTransform('integer', value, {} as Mapping);
  if (target.startsWith('custom.')) return Array.isArray(value) ? value.join(', ') : value;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** Puts a field value into the patch at its target path. */
function assign(patch: Record<string, unknown>, target: string, value: Value | null): void {
  const dot = target.indexOf('.');
  if (dot < 0) {
    patch[target] = value === null && target === 'tags' ? [] : value === null && target === 'notes' ? '' : value;
    return;
  }
  const group = target.slice(0, dot);
  const inner = (patch[group] ??= {}) as Record<string, unknown>;
  inner[target.slice(dot + 1)] = value;
}

/** Maps one row. `keyColumn` (from the CLI) overrides the mapping's key. */
export function mapRow(values: Record<string, unknown>, mapping: Mapping, keyColumn?: string): MappedRow {
  const patch: Record<string, unknown> = {};
  const kept: KeptValue[] = [];
  for (const [target, spec] of Object.entries(mapping.fields)) {
    try {
      const value = fieldValue(target, spec, values, mapping);
      if (value === undefined) continue;
      if (value === null && target === 'interactions') continue;
      assign(patch, target, value);
    } catch (err) {
      if (err instanceof KeepRawValue) {
        const keptIn = err.keepIn ?? keptRawTarget(target);
        assign(patch, keptIn, err.raw);
        kept.push({ field: target, keptIn });
        continue;
      }
      if (!(err instanceof TransformError)) throw err;
      return { ok: false, field: target, reason: err.message };
    }
  }
  const key = rowKey(values, patch, keyColumn !== undefined ? { column: keyColumn } : mapping.key);
  if (!key.ok) return key;
  return { ok: true, patch: patch as RecordPatchLike, key: key.key, kept };
}

function rowKey(values: Record<string, unknown>, patch: Record<string, unknown>, spec: KeySpec): { ok: true; key: string } | { ok: false; field: string; reason: string } {
  if ('column' in spec) {
    const raw = values[spec.column];
    if (isEmpty(raw)) return { ok: false, field: spec.column, reason: `the key column "${spec.column}" is empty` };
    return { ok: true, key: String(cell(raw)).trim() };
  }
  const email = patch.email;
  if (typeof email !== 'string') return { ok: false, field: 'email', reason: 'no e-mail to identify the row by (it is the key); map an id column as key.column' };
  return { ok: true, key: email };
}

/** The watermark of a row as a number (a version, or a date as ms). */
export function rowWatermark(values: Record<string, unknown>, column: string, format?: string): number {
  const raw = values[column];
  if (isEmpty(raw)) throw new TransformError(`the watermark column "${column}" is empty`);
  const value = cell(raw);
  if (typeof value === 'number') return value;
  if (!format && typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  return parseDateValue(value, format);
}
