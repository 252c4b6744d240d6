/**
 * Branded identifiers. They are created only by the parse functions below, so a
 * RecordId can never be passed where a NodeId is expected (and vice versa).
 */
import { CrmsyncError } from './errors.js';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Stable identity of a node; also the origin of every change it makes. */
export type NodeId = Brand<string, 'NodeId'>;
/** Identity of one customer record (one Automerge document). */
export type RecordId = Brand<string, 'RecordId'>;

/** A node id. Node ids travel in keys, actor ids and URLs: keep them short and boring. */
export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** NODE_ID_PATTERN in words, for error messages. */
export const NODE_ID_RULE = "1-63 lower-case letters, digits or '-', starting with a letter or digit";
/** Longest record id (ids appear in keys, URLs and file names). */
export const MAX_RECORD_ID_LENGTH = 128;
/**
 * The characters of a record id (its length is MAX_RECORD_ID_LENGTH at most). Record ids
 * appear inside store keys: '/' and control characters are excluded so a key prefix of
 * one id can never be a prefix of another id's keys. The one definition: parseRecordId,
 * the record schema and the wire codec check ids with it (the HTTP API checks the length
 * of a path's id, then the engine parses it).
 */
export const RECORD_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

/** Validates a node id: lower-case letters, digits and '-', 1–63 characters. */
export function parseNodeId(value: unknown): NodeId {
  if (typeof value !== 'string' || !NODE_ID_PATTERN.test(value)) {
    throw new CrmsyncError(
      'ERR_VALIDATION',
      `invalid node id ${JSON.stringify(String(value)).slice(0, 80)}: use ${NODE_ID_RULE}`,
    );
  }
  return value as NodeId;
}

/** Validates a record id: letters, digits, '_', '.', ':' or '-', 1–128 characters. */
export function parseRecordId(value: unknown): RecordId {
  if (typeof value !== 'string' || value.length > MAX_RECORD_ID_LENGTH || !RECORD_ID_PATTERN.test(value)) {
    throw new CrmsyncError(
      'ERR_VALIDATION',
      `invalid record id ${JSON.stringify(String(value)).slice(0, 80)}: use 1-128 letters, digits, '_', '.', ':' or '-', starting with a letter or digit`,
      { details: [{ field: 'id', message: 'invalid record id' }] },
    );
  }
  return value as RecordId;
}
