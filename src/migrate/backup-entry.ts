/**
 * How one change-log entry is stored inside a backup block (format versions 2 and 3): plain
 * MessagePack (no msgpackr record extension; maps decode as plain objects), a map of
 * the entry in the sync wire's short keys (`e`), its position in the source log (`l`)
 * and whether a frame may end after it (`b`). Only what verification needs is kept:
 * the restoring node recomputes the chain, time, fields and author from the change,
 * exactly as for a peer's entry. A backup file is untrusted input like a peer's frame:
 * hashes catch accidents, the schema catches a well-formed file with nonsense inside,
 * and the node's signature check catches a file altered on purpose.
 */
import { Packr } from 'msgpackr';
import { CrmsyncError, entryFromValue, entryToValue, type ChangeEntry, type StoredEntry } from '../index.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, int64AsType: 'number' });

/** The keys of a backup entry map; any other key is a malformed entry. */
const BACKUP_ENTRY_KEYS = new Set(['e', 'l', 'b']);

/** Encodes one log entry for a backup block. */
export function encodeEntry(entry: StoredEntry): Uint8Array {
  const { origin, seq, record, change, sig, ext, digest } = entry;
  // Nested, so an entry field a newer version adds (kept in `ext`) can never collide with `l` or `b`.
  const value: Record<string, unknown> = {
    // A stub (a redacted entry) keeps its digest: the restoring node verifies the chain with it.
    e: entryToValue({ origin, seq, record, change, ...(sig ? { sig } : {}), ...(ext ? { ext } : {}), ...(digest !== undefined ? { digest } : {}) }),
    l: entry.localSeq,
  };
  if (entry.boundary) value.b = true;
  return packr.pack(value);
}

/** A decoded backup entry: what importEntries takes, its position in the source log, and whether a batch may end after it. */
export interface BackupEntry {
  entry: ChangeEntry;
  localSeq: number;
  boundary: boolean;
}

/** Decodes the concatenated entries of one block payload; ERR_CORRUPT on anything malformed. */
export function decodeEntries(payload: Uint8Array, blockIndex: number): BackupEntry[] {
  let values: unknown[];
  try {
    values = packr.unpackMultiple(payload) as unknown[];
  } catch (cause) {
    throw new CrmsyncError('ERR_CORRUPT', `backup block ${blockIndex}: entries are not valid MessagePack`, { cause });
  }
  return values.map((value, i) => {
    const problem = (why: string) => new CrmsyncError('ERR_CORRUPT', `backup block ${blockIndex}, entry ${i}: malformed entry (${why.slice(0, 300)})`);
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) throw problem('not a map');
    const { e, l, b } = value as Record<string, unknown>;
    const extra = Object.keys(value).find((key) => !BACKUP_ENTRY_KEYS.has(key));
    if (extra !== undefined) throw problem(`unknown key ${JSON.stringify(extra).slice(0, 40)}`);
    if (typeof l !== 'number' || !Number.isSafeInteger(l) || l < 1) throw problem('missing or invalid log position');
    if (b !== undefined && b !== true) throw problem('invalid boundary flag');
    const parsed = entryFromValue(e);
    if ('error' in parsed) throw problem(parsed.error);
    // `prev` only helps a peer tell a fork from an altered frame; a backup never writes it.
    if (parsed.entry.prev !== undefined) throw problem('an entry of a backup carries no previous chain hash');
    return { entry: parsed.entry, localSeq: l, boundary: b === true };
  });
}

/** Encodes the header value (see docs/backup-format.md). */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes a header value. */
export function decodeValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** Decodes concatenated values (a block payload). */
export function decodeMultiple(bytes: Uint8Array): unknown[] {
  return packr.unpackMultiple(bytes) as unknown[];
}
