/**
 * The mapping run backwards, for export: a record view becomes a row with the source's
 * column names, so an export can be re-imported with the same mapping (and lands on
 * the same records when the key column is mapped too, e.g. to custom.sourceId).
 */
import type { RecordView } from '../../index.js';
import type { FieldSpec, Mapping } from './schema.js';
import { reverseTransform, splitName, type Value } from './transforms.js';

/** A cell of an exported row; null is an empty cell. */
export type ExportCell = string | number | boolean | null;

/** Steps that keep only part of the value: a field using one yields to any other. */
const LOSSY = new Set(['firstName', 'lastName']);
const isLossy = (spec: FieldSpec) => spec.transforms.some((step) => typeof step === 'string' && LOSSY.has(step));

/** The view's value of a mapping target, or undefined. */
function viewValue(view: RecordView, target: string): Value | undefined {
  if (target.startsWith('address.')) return view.address[target.slice(8) as keyof RecordView['address']];
  if (target.startsWith('custom.')) return view.custom[target.slice(7)];
  const value = (view as unknown as Record<string, unknown>)[target];
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map(String);
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : undefined;
}

/** Splits a joined value back into its columns (a name into first and last). */
function unjoin(value: string, count: number, separator: string): string[] {
  if (count === 1) return [value];
  if (separator === ' ' && count === 2) {
    const { first, last } = splitName(value);
    return [first, last];
  }
  const parts = value.split(separator);
  // Extra parts stay with the first column: "Ada King Lovelace" → "Ada King", "Lovelace".
  const head = parts.slice(0, Math.max(1, parts.length - (count - 1))).join(separator);
  const tail = parts.slice(Math.max(1, parts.length - (count - 1)));
  return [head, ...tail, ...Array(Math.max(0, count - 1 - tail.length)).fill('')];
}

/** Every column a reverse-mapped row has, in mapping order (a CSV header). */
export function reverseColumns(mapping: Mapping): string[] {
  const columns: string[] = [];
  for (const spec of Object.values(mapping.fields)) {
    for (const column of spec.columns ?? (spec.column ? [spec.column] : [])) if (!columns.includes(column)) columns.push(column);
  }
  return columns;
}

/**
 * A record as a source row. Constants have no column; a column fed by several fields
 * takes the value of the first field that keeps the whole value.
 */
export function reverseMap(view: RecordView, mapping: Mapping): Record<string, ExportCell> {
  const row: Record<string, ExportCell> = Object.fromEntries(reverseColumns(mapping).map((c) => [c, null]));
  const filled = new Set<string>();
  const entries = Object.entries(mapping.fields).filter(([, spec]) => spec.const === undefined);
  const ordered = [...entries.filter(([, s]) => !isLossy(s)), ...entries.filter(([, s]) => isLossy(s))];
  for (const [target, spec] of ordered) {
    let value = viewValue(view, target);
    if (value === undefined) continue;
    for (const step of [...spec.transforms].reverse()) value = reverseTransform(step, value, mapping);
    const cell: ExportCell = Array.isArray(value) ? value.join(', ') : value;
    const columns = spec.columns ?? [spec.column!];
    const cells = columns.length === 1 ? [cell] : unjoin(String(cell), columns.length, spec.separator);
    for (const [i, column] of columns.entries()) {
      if (filled.has(column)) continue;
      row[column] = cells[i] === '' ? null : (cells[i] ?? null);
      filled.add(column);
    }
  }
  return row;
}
