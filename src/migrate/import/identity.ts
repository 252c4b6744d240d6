/**
 * Identity of imported rows: a source key maps deterministically to a record id, so a
 * repeated (or resumed) import lands on the same records instead of creating copies.
 */
import { hash } from 'node:crypto';
import { CrmsyncError } from '../../index.js';

/** Prefix of record ids created by imports. */
export const IMPORT_ID_PREFIX = 'imp_';

/** The characters of a source name, 1-64 of them (unanchored, for patterns that embed it). */
const SOURCE_NAME_CHARS = '[A-Za-z0-9][A-Za-z0-9_.-]{0,63}';
/** A source name: part of record ids, state keys and the change author. */
export const SOURCE_NAME = new RegExp(`^${SOURCE_NAME_CHARS}$`);
/** A source's import state key and change author: `import:` and the source name. */
export const IMPORT_KEY = new RegExp(`^import:${SOURCE_NAME_CHARS}$`);

/** Validates a source name (it is part of record ids, state keys and the change author). */
export function parseSourceName(name: string): string {
  if (!SOURCE_NAME.test(name)) {
    throw new CrmsyncError('ERR_VALIDATION', `invalid source name ${JSON.stringify(name)}: use 1-64 letters, digits, '_', '.' or '-'`, {
      details: [{ field: 'sourceName', message: 'invalid' }],
    });
  }
  return name;
}

/** `imp_` + the first 24 hex digits (96 bits) of sha256(sourceName NUL key). */
export function importRecordId(sourceName: string, key: string): string {
  return IMPORT_ID_PREFIX + hash('sha256', `${sourceName}\0${key}`, 'hex').slice(0, 24);
}

/** The author recorded on every change an import makes. */
export function importAuthor(sourceName: string): string {
  return `import:${sourceName}`;
}
