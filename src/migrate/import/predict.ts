/**
 * Dry runs: what upsertMany would report for a patch against a record's current view,
 * without writing. Validation uses the engine's own schemas; the comparison mirrors
 * the engine's rule (only fields whose value differs are written).
 */
import type { z } from 'zod';
import { ADDRESS_FIELDS, recordInputSchema, recordPatchSchema, validationError, type RecordPatchLike, type RecordView } from '../../index.js';
import { sinkResult, type SinkResult } from './sink.js';

// The engine validates each item as a 'record' and lists unknown keys together; say it the same way.
const rejected = (id: string, error: z.ZodError): SinkResult => sinkResult({ id, status: 'rejected', error: validationError('record', error, 'together') });

/** True when writing `patch` (already validated) would change `view`. */
export function patchChanges(view: RecordView, patch: ReturnType<typeof recordPatchSchema.parse>): boolean {
  const fields = view as unknown as Record<string, unknown>;
  for (const [field, value] of Object.entries(patch)) {
    switch (field) {
      case 'address':
        if (value === null) {
          if (ADDRESS_FIELDS.some((p) => view.address[p] !== undefined)) return true;
        } else if (Object.entries(value as object).some(([p, v]) => (view.address[p as keyof RecordView['address']] ?? null) !== v)) {
          return true;
        }
        break;
      case 'custom':
        if (Object.entries(value as object).some(([k, v]) => (view.custom[k] ?? null) !== v)) return true;
        break;
      case 'tags': {
        const wanted = new Set(value as string[]);
        if (wanted.size !== view.tags.length || view.tags.some((t) => !wanted.has(t))) return true;
        break;
      }
      case 'addTags':
        if ((value as string[]).length > 0) return true;
        break;
      case 'removeTags':
        if ((value as string[]).some((t) => view.tags.includes(t))) return true;
        break;
      case 'incrementInteractions':
        if (value !== 0) return true;
        break;
      default:
        if ((fields[field] ?? null) !== value) return true;
    }
  }
  return false;
}

/** The status upsertMany would report for this item. */
export function predict(id: string, fields: RecordPatchLike, current: RecordView | undefined): SinkResult {
  const patch = recordPatchSchema.safeParse(fields);
  if (!patch.success) return rejected(id, patch.error);
  if (!current) {
    const input = recordInputSchema.safeParse({ ...fields, id });
    return input.success ? { id, status: 'created' } : rejected(id, input.error);
  }
  if (!patchChanges(current, patch.data)) return { id, status: 'unchanged' };
  // The engine reports a write to a deleted record as a creation (it stays deleted).
  return { id, status: current.deleted ? 'created' : 'updated' };
}
