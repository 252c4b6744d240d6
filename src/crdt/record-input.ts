/**
 * Turns validated API input into a RecordWrite: what create, put (replace) and patch
 * mean for each field. Pure.
 */
import type { RecordWrite } from './record-doc.js';
import type { RecordView } from './record-schema.js';
import { ADDRESS_FIELDS, ATOMIC_FIELDS, type RecordInput, type RecordPatch } from './record-schema.js';

const atomicOf = (source: Partial<Record<string, unknown>>, fillMissing: boolean): RecordWrite['atomic'] => {
  const atomic: NonNullable<RecordWrite['atomic']> = {};
  for (const field of ATOMIC_FIELDS) {
    const value = source[field] as string | null | undefined;
    if (value !== undefined) atomic[field] = value;
    else if (fillMissing) atomic[field] = null;
  }
  return atomic;
};

/** A create or full replacement: fields absent from the input are cleared. */
export function writeFromInput(input: RecordInput): RecordWrite {
  return {
    atomic: atomicOf(input, true),
    address: input.address ?? {},
    replaceAddress: true,
    custom: input.custom ?? {},
    replaceCustom: true,
    setTags: input.tags ?? [],
    notes: input.notes ?? '',
    setInteractions: input.interactions ?? 0,
    deleted: false,
    ...(input.reopen ? { reopen: true } : {}),
  };
}

/** A field-level update: only the fields present change; `null` clears. */
export function writeFromPatch(patch: RecordPatch): RecordWrite {
  const write: RecordWrite = { atomic: atomicOf(patch, false) };
  if (patch.address === null) {
    write.replaceAddress = true;
  } else if (patch.address) {
    write.address = {};
    for (const part of ADDRESS_FIELDS) if (patch.address[part] !== undefined) write.address[part] = patch.address[part];
  }
  if (patch.custom) write.custom = patch.custom;
  if (patch.tags) write.setTags = patch.tags;
  if (patch.addTags) write.addTags = patch.addTags;
  if (patch.removeTags) write.removeTags = patch.removeTags;
  if (patch.notes !== undefined) write.notes = patch.notes;
  if (patch.interactions !== undefined) write.setInteractions = patch.interactions;
  if (patch.incrementInteractions !== undefined) write.incrementInteractions = patch.incrementInteractions;
  if (patch.reopen) write.reopen = true;
  return write;
}

/** Field paths (as in RecordView.conflicts) of the single-valued fields a write sets or clears. */
function writtenPaths(write: RecordWrite): string[] {
  return [
    ...Object.keys(write.atomic ?? {}),
    ...Object.keys(write.address ?? {}).map((part) => `address.${part}`),
    ...Object.keys(write.custom ?? {}).map((key) => `custom.${key}`),
    ...(write.deleted === undefined ? [] : ['deleted']),
  ];
}

/**
 * False only when applying `write` to a record whose view is `view` certainly changes
 * nothing, so a repeated import can skip loading the document. Explicit tag adds always
 * count as changes (they re-assert the tag against concurrent removes).
 */
export function wouldChange(view: RecordView, write: RecordWrite): boolean {
  // A write to a field in conflict supersedes its concurrent values, even with the value shown.
  if (view.conflicts.length > 0 && writtenPaths(write).some((path) => view.conflicts.includes(path))) return true;
  const atomicDiffers = Object.entries(write.atomic ?? {}).some(
    ([field, value]) => ((view as unknown as Record<string, string | undefined>)[field] ?? null) !== value,
  );
  if (atomicDiffers) return true;
  if (write.replaceAddress) {
    const wanted = write.address ?? {};
    if (ADDRESS_FIELDS.some((part) => (view.address[part] ?? null) !== (wanted[part] ?? null))) return true;
  } else if (Object.entries(write.address ?? {}).some(([part, value]) => (view.address[part as keyof RecordView['address']] ?? null) !== value)) {
    return true;
  }
  const custom = write.custom ?? {};
  if (Object.entries(custom).some(([key, value]) => (view.custom[key] ?? null) !== value)) return true;
  if (write.replaceCustom && Object.keys(view.custom).some((key) => !(key in custom))) return true;
  if ((write.addTags?.length ?? 0) > 0) return true;
  if (write.removeTags?.some((tag) => view.tags.includes(tag))) return true;
  if (write.setTags) {
    const wanted = new Set(write.setTags);
    if (wanted.size !== view.tags.length || view.tags.some((tag) => !wanted.has(tag))) return true;
  }
  if (write.notes !== undefined && write.notes !== view.notes) return true;
  if (write.setInteractions !== undefined && write.setInteractions !== view.interactions) return true;
  if ((write.incrementInteractions ?? 0) !== 0) return true;
  if (write.deleted !== undefined && write.deleted !== view.deleted) return true;
  return false;
}
