/**
 * Turns validated API input into a RecordWrite: what create, put (replace) and patch
 * mean for each field. Pure.
 */
import type { RecordWrite } from './record-doc.js';
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
  return write;
}
